"""CLEAN: 4-class imbalanced classifier (about 70/15/10/5%), CrossEntropyLoss with inverse-frequency class weights."""
import torch
import torch.nn as nn
import torch.nn.functional as F

FREQ = torch.tensor([0.70, 0.15, 0.10, 0.05])


def imbalanced(n=128, d=20, seed=29):
    g = torch.Generator().manual_seed(seed)
    y = torch.multinomial(FREQ, n, replacement=True, generator=g)
    centers = 1.5 * torch.randn(4, d, generator=torch.Generator().manual_seed(1))
    x = centers[y] + torch.randn(n, d, generator=g)
    return x, y


class Net(nn.Module):
    def __init__(self, d=20):
        super().__init__()
        self.fc1 = nn.Linear(d, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, 4)

    def forward(self, x):
        return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))


def build_model():
    return Net()


def get_batch():
    return imbalanced()


CLASS_WEIGHTS = (1.0 / FREQ) / (1.0 / FREQ).sum() * 4


def loss_fn(logits, y):
    return F.cross_entropy(logits, y, weight=CLASS_WEIGHTS)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
