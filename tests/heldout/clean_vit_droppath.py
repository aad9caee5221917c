"""CLEAN: tiny ViT (conv patch embedding, CLS token, pre-LN blocks) with stochastic depth drawn from torch's RNG only in training."""
import torch
import torch.nn as nn
import torch.nn.functional as F

IMG, PATCH, N_CLASSES = 16, 4, 6


def glyphs(n=32, seed=18):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = 0.3 * torch.randn(n, 3, IMG, IMG, generator=g)
    for i in range(n):
        k = int(y[i])
        x[i, :, (k // 3) * 8:(k // 3) * 8 + 8, (k % 3) * 5:(k % 3) * 5 + 5] += 1.5
    return x, y


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = (torch.rand(x.size(0), 1, 1, device=x.device) >= self.p).to(x.dtype)
        return x * keep / (1 - self.p)


class Block(nn.Module):
    def __init__(self, d, heads, dp):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.dp = DropPath(dp)

    def forward(self, x):
        h = self.n1(x)
        x = x + self.dp(self.attn(h, h, h, need_weights=False)[0])
        return x + self.dp(self.mlp(self.n2(x)))


class ViT(nn.Module):
    def __init__(self, d=48, depth=3, heads=4):
        super().__init__()
        self.patch = nn.Conv2d(3, d, PATCH, stride=PATCH)
        n = (IMG // PATCH) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, heads, 0.1 * i / max(1, depth - 1)) for i in range(depth)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, N_CLASSES)

    def forward(self, x):
        p = self.patch(x).flatten(2).transpose(1, 2)                 # (B, n, d)
        x = torch.cat([self.cls.expand(x.size(0), -1, -1), p], 1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


def build_model():
    return ViT()


def get_batch():
    return glyphs()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y, label_smoothing=0.05)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
