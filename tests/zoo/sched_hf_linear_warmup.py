"""Clean (lr-schedule): Hugging Face's get_linear_schedule_with_warmup written out as a
LambdaLR: the LR is exactly 0 at step 0, rises linearly over the warmup, then decays
linearly to 0 at TOTAL_STEPS."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
TOTAL_STEPS = 8000
WARMUP = 800


class BagLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.head = nn.Linear(32, VOCAB)

    def forward(self, idx):                  # idx: (B, T)
        return self.head(self.emb(idx))      # (B, T, VOCAB): next token from the current one


def build_model():
    return BagLM()


def get_batch():
    return token_sequences(16, 32, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=5e-4)


def linear_with_warmup(step):
    if step < WARMUP:
        return float(step) / float(max(1, WARMUP))
    return max(0.0, float(TOTAL_STEPS - step) / float(max(1, TOTAL_STEPS - WARMUP)))


def make_scheduler(optimizer):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, linear_with_warmup)
