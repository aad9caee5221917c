"""BUG augment-alignment: the paired transform flips the image and the mask with two separate random draws, so half the time they disagree."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

S = 16


class RoadSeg(Dataset):
    def __init__(self, n=48):
        g = torch.Generator().manual_seed(158)
        self.items = []
        for _ in range(n):
            img = 0.3 * torch.randn(3, S, S, generator=g)
            mask = torch.zeros(S, S, dtype=torch.long)
            c = int(torch.randint(2, 8, (1,), generator=g))
            mask[:, c:c + 4] = 1                                  # a road strip on the left half
            img[:, :, c:c + 4] += 1.0
            self.items.append((img, mask))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        img, mask = self.items[i]
        if torch.rand(1) < 0.5:
            img = torch.flip(img, dims=[-1])
        if torch.rand(1) < 0.5:                                   # BUG: a second, independent draw
            mask = torch.flip(mask, dims=[-1])
        return img, mask


def build_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 2, 1))


def get_dataset():
    return RoadSeg()


def get_batch():
    return next(iter(DataLoader(get_dataset(), batch_size=16, shuffle=True)))


def loss_fn(logits, mask):
    return F.cross_entropy(logits, mask)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
