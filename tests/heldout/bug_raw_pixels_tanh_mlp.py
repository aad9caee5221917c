"""BUG batch-sanity|activations: raw 0-255 pixel values (the ToTensor/255 step was skipped) go into a tanh MLP, which saturates."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def raw_digits(n=64, seed=120):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    img = torch.randint(0, 40, (n, 8, 8), generator=g)
    for i in range(n):
        k = int(y[i])
        img[i, k % 8, :] = 200 + torch.randint(0, 55, (8,), generator=g)
        img[i, :, k // 2] = 180
    return img.view(n, 64).float(), y                 # BUG: never divided by 255 / normalised


class TanhMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(64, 128), nn.Linear(128, 64), nn.Linear(64, 10)

    def forward(self, x):
        return self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(x)))))


def build_model():
    return TanhMLP()


def get_batch():
    return raw_digits()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)
