"""BUG causality: a GPT config dataclass defaults causal=False (shared with an encoder variant) and the LM never sets it: SDPA attends to the whole sequence."""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

CAUSAL_DIM = 1


@dataclass
class ModelConfig:
    vocab: int = 36
    seq_len: int = 20
    d_model: int = 48
    n_heads: int = 4
    n_layers: int = 2
    causal: bool = False          # encoder default; the LM config forgot to override it


def arithmetic_text(n=16, cfg=ModelConfig(), seed=132):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, cfg.vocab, (n, 1), generator=g)
    b = torch.randint(1, 5, (n, 1), generator=g)
    s = (a + b * torch.arange(cfg.seq_len + 1) ** 2) % cfg.vocab
    return s[:, :-1], s[:, 1:]


class SelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).chunk(3, -1)
        q, k, v = (z.view(B, T, self.cfg.n_heads, -1).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.cfg.causal)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.emb = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(1, cfg.seq_len, cfg.d_model))
        self.attn = nn.ModuleList([SelfAttention(cfg) for _ in range(cfg.n_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(cfg.d_model) for _ in range(cfg.n_layers)])
        self.head = nn.Linear(cfg.d_model, cfg.vocab)

    def forward(self, idx):
        x = self.emb(idx) + self.pos[:, :idx.size(1)]
        for attn, norm in zip(self.attn, self.norms):
            x = x + attn(norm(x))
        return self.head(x)


def build_model():
    return GPT(ModelConfig())


def get_batch():
    return arithmetic_text()


def loss_fn(logits, y):
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3)
