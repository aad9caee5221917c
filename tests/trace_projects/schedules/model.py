"""Embeddings for users and items, an MLP on their concatenation."""
import torch
import torch.nn as nn


class Recommender(nn.Module):
    def __init__(self, n_users, n_items, dim, hidden):
        super().__init__()
        self.users = nn.Embedding(n_users, dim)
        self.items = nn.Embedding(n_items, dim)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, users, items):     # (B,), (B,) -> predicted rating (B,)
        return self.mlp(torch.cat([self.users(users), self.items(items)], -1)).squeeze(-1)
