"""CLEAN: graph classification with a dense GCN over (node features (B,N,F), adjacency (B,N,N)); symmetric normalisation per graph, masked mean readout."""
import torch
import torch.nn as nn
import torch.nn.functional as F

NODES, FEAT = 10, 6


def molecules(n=40, seed=27):
    """Label 1: the graph contains a triangle of 'type-0' atoms."""
    g = torch.Generator().manual_seed(seed)
    adj = (torch.rand(n, NODES, NODES, generator=g) < 0.2).float()
    adj = torch.triu(adj, 1)
    adj = adj + adj.transpose(1, 2)
    feats = torch.zeros(n, NODES, FEAT)
    types = torch.randint(0, FEAT, (n, NODES), generator=g)
    y = (torch.rand(n, generator=g) < 0.5).long()
    for i in range(n):
        if y[i]:
            tri = torch.randperm(NODES, generator=g)[:3]
            types[i, tri] = 0
            for a in tri:
                for b in tri:
                    if a != b:
                        adj[i, a, b] = 1.0
    feats.scatter_(2, types.unsqueeze(-1), 1.0)
    return (feats, adj), y


class DenseGCN(nn.Module):
    def __init__(self, f=FEAT, h=32):
        super().__init__()
        self.l1, self.l2 = nn.Linear(f, h), nn.Linear(h, h)
        self.out = nn.Linear(h, 2)

    @staticmethod
    def normalise(adj):
        a = adj + torch.eye(adj.size(-1), device=adj.device)
        d = a.sum(-1).rsqrt()
        return d.unsqueeze(-1) * a * d.unsqueeze(-2)

    def forward(self, x, adj):
        a = self.normalise(adj)
        h = F.relu(a @ self.l1(x))
        h = F.relu(a @ self.l2(h))
        return self.out(h.mean(1))


def build_model():
    return DenseGCN()


def get_batch():
    return molecules()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=5e-3)
