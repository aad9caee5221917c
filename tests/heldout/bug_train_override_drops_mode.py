"""BUG eval-mode|batch-independence: a train() override (to freeze BatchNorm) calls super().train() without `mode`, so model.eval() leaves dropout on."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def x_rays(n=32, seed=139):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.4 * torch.randn(n, 1, 16, 16, generator=g)
    for i in range(n):
        x[i, 0, 5:11, 3 + 4 * int(y[i]):6 + 4 * int(y[i])] += 1.5
    return x, y


class Classifier(nn.Module):
    def __init__(self, freeze_bn=True):
        super().__init__()
        self.freeze_bn = freeze_bn
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(32, 3))

    def train(self, mode: bool = True):
        super().train()                                   # BUG: should be super().train(mode)
        if self.freeze_bn:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x):
        return self.head(self.features(x))


def build_model():
    return Classifier()


def get_batch():
    return x_rays()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
