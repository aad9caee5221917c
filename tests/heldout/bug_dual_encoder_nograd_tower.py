"""BUG grad-flow: image-text matching model whose text tower runs under torch.no_grad() (copied from the retrieval/inference code): it never trains."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, L, D = 40, 10, 32


def pairs(n=32, seed=111):
    g = torch.Generator().manual_seed(seed)
    cls = torch.randint(0, 6, (n,), generator=g)
    img = torch.randn(n, 24, generator=g) + 2.0 * F.one_hot(cls, 24).float()
    txt = torch.randint(10, VOCAB, (n, L), generator=g)
    txt[:, 0] = 1 + cls
    match = (torch.rand(n, generator=g) < 0.5)
    perm = torch.randperm(n, generator=g)
    txt = torch.where(match.unsqueeze(1), txt, txt[perm])
    return (img, txt), (match | (cls == cls[perm])).float()


class DualEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.image_tower = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, D))
        self.text_emb = nn.Embedding(VOCAB, D)
        self.text_tower = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, D))
        self.scale = nn.Parameter(torch.tensor(5.0))

    def encode_text(self, tokens):
        with torch.no_grad():                                     # BUG: left over from retrieval code
            return self.text_tower(self.text_emb(tokens).mean(1))

    def forward(self, img, tokens):
        a = F.normalize(self.image_tower(img), dim=-1)
        b = F.normalize(self.encode_text(tokens), dim=-1)
        return self.scale * (a * b).sum(-1)                         # match logit per pair


def build_model():
    return DualEncoder()


def get_batch():
    return pairs()


def loss_fn(logit, match):
    return F.binary_cross_entropy_with_logits(logit, match)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
