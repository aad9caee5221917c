"""CLEAN: binary segmentation FCN, targets (B,1,H,W) in {0,1}: BCE-with-logits + soft Dice computed per image and averaged."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def cells(n=8, size=24, seed=48):
    g = torch.Generator().manual_seed(seed)
    img = 0.4 * torch.randn(n, 1, size, size, generator=g)
    mask = torch.zeros(n, 1, size, size)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    for i in range(n):
        for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
            cy, cx = (torch.rand(2, generator=g) * (size - 8) + 4).tolist()
            r = float(torch.rand((), generator=g) * 3 + 2)
            disk = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
            mask[i, 0][disk] = 1.0
            img[i, 0][disk] += 1.2
    return img, mask


class FCN(nn.Module):
    def __init__(self, w=16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=2, dilation=2), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=4, dilation=4), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 1, 1))

    def forward(self, x):
        return self.body(x)


def build_model():
    return FCN()


def get_batch():
    return cells()


def dice_loss(logits, target, eps=1.0):
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2, 3))
    denom = p.sum((1, 2, 3)) + target.sum((1, 2, 3))
    return (1 - (2 * inter + eps) / (denom + eps)).mean()


def loss_fn(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target) + dice_loss(logits, target)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
