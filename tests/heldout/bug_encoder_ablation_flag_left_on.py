"""BUG input-dependence: an ablation flag left on in the config (zero_encoder=True) replaces the encoder's output with zeros: the model only learns the label prior."""
import torch
import torch.nn as nn
import torch.nn.functional as F

CFG = dict(hidden=64, n_classes=5, zero_encoder=True, dropout=0.1)   # zero_encoder: from a baseline ablation run


def samples(n=64, seed=143):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    y = (x @ torch.randn(20, CFG["n_classes"], generator=g)).argmax(1)
    return x, y


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.encoder = nn.Sequential(nn.Linear(20, cfg["hidden"]), nn.ReLU(), nn.Dropout(cfg["dropout"]))
        self.head = nn.Linear(cfg["hidden"], cfg["n_classes"])

    def forward(self, x):
        h = self.encoder(x)
        if self.cfg.get("zero_encoder", False):
            h = h * 0.0
        return self.head(h)


def build_model():
    return Model(CFG)


def get_batch():
    return samples()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
