"""Points on a ring of 8 Gaussians, the classic toy GAN target."""
import math

import torch


def ring(n, generator, modes=8, radius=2.0, std=0.05):
    k = torch.randint(0, modes, (n,), generator=generator).float()
    angle = 2 * math.pi * k / modes
    centres = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    return centres + std * torch.randn(n, 2, generator=generator)
