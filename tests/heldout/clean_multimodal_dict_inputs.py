"""CLEAN: image + tabular fusion model taking a dict batch {'image', 'tabular'} (called as model(**inputs)), late fusion, CE."""
import torch
import torch.nn as nn
import torch.nn.functional as F

N_CLASSES = 4


def clinic_batch(n=32, seed=57):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    img = 0.5 * torch.randn(n, 1, 16, 16, generator=g)
    tab = torch.randn(n, 6, generator=g)
    for i in range(n):
        if y[i] >= 2:
            img[i, 0, 4:12, 4:12] += 1.5      # lesion visible on the scan
        tab[i, 0] += 1.5 if y[i] % 2 else -1.5  # lab value
    return {"image": img, "tabular": tab}, y


class FusionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.mlp = nn.Sequential(nn.Linear(6, 16), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, N_CLASSES))

    def forward(self, image, tabular):
        return self.head(torch.cat([self.cnn(image), self.mlp(tabular)], dim=1))


def build_model():
    return FusionNet()


def get_batch():
    return clinic_batch()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
