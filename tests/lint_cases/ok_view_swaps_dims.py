"""Correct reshapes: transpose().contiguous().view(), head splits, permute, relative shift."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x):                                    # x: (B, T, C)
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(C, dim=2)                # each (B, T, C)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)   # (B, nh, T, hs)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)).softmax(-1)          # (B, nh, T, T)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)        # (B, T, C)
        return self.proj(y)


class SeqFirst(nn.Module):
    def __init__(self, features=6, hidden=32):
        super().__init__()
        self.proj = nn.Linear(features, hidden)
        self.gru = nn.GRU(hidden, hidden)

    def forward(self, x):                                    # x: (B, T, F)
        B, T, _ = x.shape
        h = self.proj(x).permute(1, 0, 2)                    # (T, B, hidden)
        out, _ = self.gru(h)                                 # (T, B, hidden)
        out = out.reshape(T, B, 2, -1)                       # after the permute: (T, B) is right
        return out[-1].reshape(B, -1)


def rel_shift(x):
    # Transformer-XL relative shift: pad then view with swapped sizes on purpose
    b, h, q, k = x.shape
    x = F.pad(x, (1, 0))
    x = x.view(b, h, k + 1, q)
    return x[:, :, 1:].view(b, h, q, k)


def pool(x):
    n, c, hh, ww = x.shape
    return x.view(n, c, hh * ww).mean(-1).view(n, c, 1, 1)
