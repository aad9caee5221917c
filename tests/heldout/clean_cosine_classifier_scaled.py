"""CLEAN: normalised (cosine) classifier with a fixed scale s=16, as in face/few-shot recognition: logits = s * cos(feature, class weight)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

D, N_CLASSES, SCALE = 32, 10, 16.0


def faces(n=64, seed=62):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, N_CLASSES, (n,), generator=g)
    proto = torch.randn(N_CLASSES, D, generator=torch.Generator().manual_seed(4))
    return proto[ids] + 0.8 * torch.randn(n, D, generator=g), ids


class CosineHead(nn.Module):
    def __init__(self, d, c, s):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c, d) * 0.01)
        self.s = s

    def forward(self, f):
        return self.s * F.linear(F.normalize(f, dim=1), F.normalize(self.weight, dim=1))


class FaceNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(D, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 64))
        self.head = CosineHead(64, N_CLASSES, SCALE)

    def forward(self, x):
        return self.head(self.backbone(x))


def build_model():
    return FaceNet()


def get_batch():
    return faces()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)
