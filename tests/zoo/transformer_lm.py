"""Clean: a small GPT-style causal transformer LM written by hand (causal mask, GPT-2 init,
AdamW with linear warmup then cosine decay)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
BLOCK = 128          # longest sequence the position table holds
SEQ_LEN = 32
BATCH = 16
CAUSAL_DIM = 1
TOTAL_STEPS = 2000
WARMUP = 100


class CausalSelfAttention(nn.Module):
    def __init__(self, d, heads, block=BLOCK, dropout=0.1):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.attn_drop = nn.Dropout(dropout)
        self.resid_drop = nn.Dropout(dropout)
        # True above the diagonal: position t may not look at s > t
        self.register_buffer("future", torch.triu(torch.ones(block, block, dtype=torch.bool), diagonal=1))

    def forward(self, x):                                          # x: (B, T, d)
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)                      # 3 x (B, T, d)
        q, k, v = (z.view(B, T, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))  # (B, h, T, dh)
        att = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)  # (B, h, T, T)
        att = att.masked_fill(self.future[:T, :T], float("-inf"))
        att = self.attn_drop(att.softmax(dim=-1))
        y = (att @ v).transpose(1, 2).reshape(B, T, d)             # (B, T, d)
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    def __init__(self, d, heads, attn_cls=CausalSelfAttention, dropout=0.1):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = attn_cls(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Dropout(dropout))

    def forward(self, x):                # x: (B, T, d)
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab=VOCAB, d=64, heads=4, layers=2, block=BLOCK, attn_cls=CausalSelfAttention):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(block, d)
        self.drop = nn.Dropout(0.1)
        self.blocks = nn.ModuleList(Block(d, heads, attn_cls) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):  # GPT-2: N(0, 0.02) weights, zero biases
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx):                                          # idx: (B, T)
        T = idx.shape[1]
        x = self.drop(self.tok(idx) + self.pos(torch.arange(T, device=idx.device)))  # (B, T, d)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))                               # (B, T, vocab)


def build_model():
    return GPT()


def get_batch():
    return token_sequences(BATCH, SEQ_LEN, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_optimizer(params):
    params = list(params)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))


def lr_factor(step):
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = min(1.0, (step - WARMUP) / max(1, TOTAL_STEPS - WARMUP))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))   # cosine down to 10% of the peak


def make_scheduler(optimizer):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
