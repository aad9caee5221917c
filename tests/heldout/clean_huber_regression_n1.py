"""CLEAN: MLP regressor whose (N,1) output meets an (N,1) target (unsqueezed in the data pipeline), Huber loss, SGD momentum."""
import torch
import torch.nn as nn


def housing_like(n=64, seed=17):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    price = 2.0 * x[:, 0] - 1.0 * x[:, 1] + torch.sin(2 * x[:, 2]) + 0.5 * x[:, 3] * x[:, 4]
    price = price + 0.3 * torch.randn(n, generator=g).pow(3)   # heavy-tailed noise: why Huber
    price = (price - price.mean()) / price.std()
    return x, price.unsqueeze(1)          # (N, 1), matching the model's output


class Regressor(nn.Module):
    def __init__(self, d_in=10, hidden=(64, 64)):
        super().__init__()
        layers, d = [], d_in
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def build_model():
    return Regressor()


def get_batch():
    return housing_like()


loss_fn = nn.HuberLoss(delta=1.0)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.02, momentum=0.9)
