"""Bug: binary segmentation whose masks are loaded as 0/255 (8-bit PNG) and never divided
by 255; BCEWithLogits accepts the targets silently and the loss is dominated by them."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1))  # (N,1,H,W) logits


def get_batch():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(16, 1, 16, 16, generator=g)
    mask = (x > 0.5).to(torch.uint8) * 255              # as read from the PNG
    return x, mask.float()                              # BUG: should be mask / 255


loss_fn = nn.BCEWithLogitsLoss()
