"""Bug: a GPT LM whose causal mask hides only s > t+1, so position t also attends to t+1
(triu(..., diagonal=2) instead of diagonal=1): the model can read the token it must predict."""
import math

import torch
import torch.nn as nn
from transformer_lm import GPT, get_batch, loss_fn, make_optimizer, make_scheduler, TOTAL_STEPS  # noqa: F401

CAUSAL_DIM = 1
BLOCK = 128


class LeakyAttention(nn.Module):
    def __init__(self, d, heads, block=BLOCK):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.register_buffer("future", torch.triu(torch.ones(block, block, dtype=torch.bool), diagonal=2))  # BUG

    def forward(self, x):                                          # x: (B, T, d)
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(B, T, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))  # (B, h, T, dh)
        att = (q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)).masked_fill(self.future[:T, :T], float("-inf"))
        return self.proj((att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, d))  # (B, T, d)


def build_model():
    return GPT(attn_cls=LeakyAttention)
