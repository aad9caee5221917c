"""BUG grad-flow: a transformer block builds norm1 and norm2 but its forward uses norm1 twice (copy-paste), so norm2 never gets a gradient."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T, N_CLASSES = 16, 3


def readings(n=32, seed=112):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randn(n, T, 16, generator=g)
    x[:, :, 0] += (y.float() - 1).view(n, 1) * 1.5
    return x, y


class Block(nn.Module):
    def __init__(self, d, heads=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.mlp(self.norm1(x))                       # BUG: should be self.norm2
        return x


class Net(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.inp = nn.Linear(16, d)
        self.blocks = nn.Sequential(Block(d), Block(d))
        self.out = nn.Linear(d, N_CLASSES)

    def forward(self, x):
        return self.out(self.blocks(self.inp(x)).mean(1))


def build_model():
    return Net()


def get_batch():
    return readings()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3)
