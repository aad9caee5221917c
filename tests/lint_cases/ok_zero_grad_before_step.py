"""GAN updates: zeroing the *other* network between backward and step is right."""
import torch
import torch.nn.functional as F


def train_gan(G, D, loader, z_dim=64):
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for real in loader:
        z = torch.randn(real.size(0), z_dim)
        fake = G(z)
        opt_d.zero_grad()
        ones, zeros = torch.ones(real.size(0), 1), torch.zeros(real.size(0), 1)
        d_loss = F.binary_cross_entropy_with_logits(D(real), ones) + \
            F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()

        g_loss = F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        D.zero_grad()                      # D's grads from the G loss are not used
        opt_g.step()


def train_step_first(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()


def loss_backward(model, x, y):
    loss = F.mse_loss(model(x), y)
    loss.backward()
    return loss


def train_with_helper(model, x, y, steps=100):
    optimizer = torch.optim.Adam(model.parameters())
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_backward(model, x, y)          # backward happens in the helper
        optimizer.step()
