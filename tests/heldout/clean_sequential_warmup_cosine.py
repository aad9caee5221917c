"""CLEAN: SequentialLR = LinearLR warm-up from 1% then CosineAnnealingLR to eta_min over the remaining steps; small transformer-free MLP-Mixer-ish token model."""
import torch
import torch.nn as nn
import torch.nn.functional as F

TOTAL_STEPS, WARMUP = 2000, 100
PATCHES, DIM, N_CLASSES = 16, 12, 4


def patch_batch(n=48, seed=52):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randn(n, PATCHES, DIM, generator=g)
    for i in range(n):
        x[i, int(y[i]) * 4:(int(y[i]) + 1) * 4, :3] += 1.5
    return x, y


class MixerBlock(nn.Module):
    def __init__(self, tokens, dim, hidden=32):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, hidden), nn.GELU(), nn.Linear(hidden, tokens))
        self.channel_mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):                                  # (B, tokens, dim)
        x = x + self.token_mlp(self.n1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.n2(x))


class Mixer(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(MixerBlock(PATCHES, DIM), MixerBlock(PATCHES, DIM))
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, N_CLASSES)

    def forward(self, x):
        return self.head(self.norm(self.blocks(x)).mean(1))


def build_model():
    return Mixer()


def get_batch():
    return patch_batch()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=2e-3, weight_decay=0.05)


def make_scheduler(opt):
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=WARMUP)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=TOTAL_STEPS - WARMUP, eta_min=1e-5)
    return torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[WARMUP])
