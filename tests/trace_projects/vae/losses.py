"""The two terms of the VAE objective (the negative ELBO): both are >= 0."""
import torch
import torch.nn.functional as F


def reconstruction(recon, x):
    """Bernoulli negative log-likelihood of the pixels, summed over pixels, averaged over the batch."""
    return F.binary_cross_entropy(recon, x, reduction="sum") / x.shape[0]


def kl_divergence(mu, logvar):
    """KL(q(z|x) || N(0, I)), summed over latent dimensions, averaged over the batch."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.shape[0]
