"""BUG lr-schedule: warm-up factor min(1, step // WARMUP) uses integer division: the LR is exactly 0 for the first 2,000 steps, then jumps to full."""
import torch
import torch.nn as nn
import torch.nn.functional as F

TOTAL_STEPS, WARMUP = 10000, 2000
VOCAB, T = 32, 16


def tokens(n=16, seed=151):
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, VOCAB, (n, T), generator=g)
    return s, (s[:, 0] % 4)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.gru = nn.GRU(32, 32, batch_first=True)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc(self.gru(self.emb(x))[1][-1])


def build_model():
    return Model()


def get_batch():
    return tokens()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3)


def warmup_then_constant(step):
    return min(1.0, step // WARMUP)          # BUG: step / WARMUP


def make_scheduler(opt):
    return torch.optim.lr_scheduler.LambdaLR(opt, warmup_then_constant)
