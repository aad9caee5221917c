"""CLEAN: keypoint detector regressing K Gaussian heatmaps (B, K, H, W) with MSE (most target pixels near zero), hourglass-lite CNN."""
import torch
import torch.nn as nn
import torch.nn.functional as F

K, S = 3, 16


def poses(n=16, seed=36):
    g = torch.Generator().manual_seed(seed)
    img = 0.3 * torch.randn(n, 1, S, S, generator=g)
    heat = torch.zeros(n, K, S, S)
    yy, xx = torch.meshgrid(torch.arange(S).float(), torch.arange(S).float(), indexing="ij")
    for i in range(n):
        for k in range(K):
            cy, cx = torch.randint(2, S - 2, (2,), generator=g).tolist()
            img[i, 0, cy - 1:cy + 2, cx - 1:cx + 2] += 1.0 + k      # keypoint k has brightness 1+k
            heat[i, k] = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5 ** 2))
    return img, heat


class HeatmapNet(nn.Module):
    def __init__(self, w=24):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
                                  nn.Conv2d(w, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU())
        self.mid = nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU())
        self.up = nn.ConvTranspose2d(w, w, 2, stride=2)
        self.head = nn.Conv2d(2 * w, K, 1)
        self.skip = nn.Conv2d(1, w, 3, padding=1)

    def forward(self, x):
        h = self.up(self.mid(self.down(x)))
        return self.head(torch.cat([F.relu(h), F.relu(self.skip(x))], 1))


def build_model():
    return HeatmapNet()


def get_batch():
    return poses()


def loss_fn(pred, heat):
    return F.mse_loss(pred, heat)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
