"""CLEAN: convolutional autoencoder reconstructing its own input (targets are the inputs), MSE, strided convs and transposed convs."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def digit_like_images(n=32, size=16, seed=2):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, size, size)
    for i in range(n):
        for _ in range(3):
            r, c = torch.randint(0, size - 4, (2,), generator=g).tolist()
            if torch.rand((), generator=g) < 0.5:
                x[i, 0, r, c:c + 6] = 1.0
            else:
                x[i, 0, r:r + 6, c] = 1.0
    x = x + 0.05 * torch.randn(x.shape, generator=g)
    x = (x - 0.1) / 0.3
    return x, x.clone()


class ConvAE(nn.Module):
    def __init__(self, ch=16, latent=32):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, ch, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * ch * 16, latent))
        self.decoder_fc = nn.Linear(latent, 2 * ch * 16)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(ch, 1, 4, stride=2, padding=1))
        self.ch = ch

    def forward(self, x):
        z = self.encoder(x)
        h = F.relu(self.decoder_fc(z)).view(-1, 2 * self.ch, 4, 4)
        return self.decoder(h)


def build_model():
    return ConvAE()


def get_batch():
    return digit_like_images()


def loss_fn(recon, target):
    return F.mse_loss(recon, target)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
