"""Hand-written losses."""
import torch
import torch.nn.functional as F


def weighted_mse(pred, target, weight):
    """Mean squared error, each example weighted by its reliability."""
    return (weight * (pred - target) ** 2).sum() / weight.sum()


def info_nce(z1, z2, temperature):
    """Contrastive loss: each view must pick its partner among the batch's other views."""
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = z1 @ z2.T / temperature
    return -(logits.diag() - torch.logsumexp(logits, dim=1)).mean()


def poisson_nll(rate, counts):
    """Negative log-likelihood of counts under Poisson(rate), up to a constant."""
    return (rate - counts * torch.log(rate)).mean()
