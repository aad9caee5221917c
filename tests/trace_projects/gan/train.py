"""Clean, tricky: a DCGAN-style loop with two optimizers. The generator's backward also fills the
discriminator's gradients; they are zeroed (netD.zero_grad()) before the next D step, which is right."""
import argparse

import torch
import torch.nn.functional as F

from data import ring
from models import Discriminator, Generator

p = argparse.ArgumentParser()
p.add_argument("--iters", type=int, default=200)
p.add_argument("--batch-size", type=int, default=64)
args = p.parse_args()

torch.manual_seed(0)
g = torch.Generator().manual_seed(0)
netG, netD = Generator(), Discriminator()
optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
for it in range(args.iters):
    real = ring(args.batch_size, g)
    z = torch.randn(args.batch_size, 8)
    fake = netG(z)
    # (1) discriminator: real -> 1, fake -> 0
    netD.zero_grad()
    errD_real = F.binary_cross_entropy_with_logits(netD(real), torch.ones(args.batch_size))
    errD_real.backward()
    errD_fake = F.binary_cross_entropy_with_logits(netD(fake.detach()), torch.zeros(args.batch_size))
    errD_fake.backward()
    optD.step()
    # (2) generator: make D call the fakes real
    netG.zero_grad()
    errG = F.binary_cross_entropy_with_logits(netD(fake), torch.ones(args.batch_size))
    errG.backward()
    optG.step()
    if it % 50 == 0:
        print(f"it {it} D {errD_real.item() + errD_fake.item():.3f} G {errG.item():.3f}")
