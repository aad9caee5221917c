"""BUG batch-sanity: binary masks loaded from PNG stay 0/255 and go straight into BCEWithLogits as targets (must be 0/1)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def lesions(n=8, seed=161):
    g = torch.Generator().manual_seed(seed)
    img = 0.3 * torch.randn(n, 1, 16, 16, generator=g)
    mask = torch.zeros(n, 1, 16, 16)
    for i in range(n):
        r, c = torch.randint(2, 10, (2,), generator=g).tolist()
        mask[i, 0, r:r + 4, c:c + 4] = 255.0                       # PNG value
        img[i, 0, r:r + 4, c:c + 4] += 1.0
    return img, mask                                               # BUG: mask / 255


def build_model():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 1, 1))


def get_batch():
    return lesions()


def loss_fn(logits, mask):
    return F.binary_cross_entropy_with_logits(logits, mask)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
