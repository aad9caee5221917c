"""Reshapes after transposes that are right: the sizes follow the axis order the transposes left,
a permute that really moves the batch axis, head splits and merges, the sequence-first attention of
fairseq, window partitions, and layouts that depend on a flag (left alone)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvFrontEnd(nn.Module):
    def __init__(self, n_mels=40, hidden=128):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, hidden, kernel_size=5, padding=2)

    def forward(self, feats):                                   # (B, T, n_mels)
        x = F.relu(self.conv(feats.transpose(1, 2)))            # (B, hidden, T)
        b, c, t = x.shape
        x = x.permute(2, 0, 1)                                  # (T, B, hidden): the axes really move
        return x.reshape(t, b, c)


def to_time_major(x):
    b, t, d = x.shape
    y = x.permute(1, 0, 2).reshape(t, b, d)                     # the brief's legit form
    z = x.transpose(0, 1).reshape(t, b * d)                     # merge after the move
    return y, z


class Patches(nn.Module):
    def __init__(self, dim=64, patch=4):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, img):
        x = self.embed(img)                                     # (B, dim, h, w)
        b, d, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)                   # (B, h*w, dim)
        seq_first = x.flatten(2).permute(2, 0, 1).reshape(h * w, b, d)
        grid = tokens.transpose(1, 2).reshape(b, d, h, w)       # back to an image
        rows = tokens.reshape(b, h, w, d)                       # (B, h, w, dim): same memory order
        return seq_first, grid, rows


class CausalSelfAttention(nn.Module):
    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / (k.size(-1) ** 0.5))
        y = F.softmax(att, dim=-1) @ v                          # (B, nh, T, hs)
        merged = y.transpose(1, 2).contiguous().view(B, T, C)   # (B, T, C)
        seq_first = y.permute(2, 0, 1, 3).reshape(T, B, C)      # (T, B, C)
        return merged, seq_first


class SeqFirstAttention(nn.Module):
    """fairseq-style: inputs are (tgt_len, bsz, embed_dim)."""

    def __init__(self, embed_dim=64, num_heads=4):
        super().__init__()
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads

    def forward(self, query):
        tgt_len, bsz, embed_dim = query.size()
        q = self.q_proj(query).contiguous().view(tgt_len, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        k = self.k_proj(query).contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        v = self.v_proj(query).contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        attn_weights = torch.bmm(q, k.transpose(1, 2))
        attn_weights = attn_weights.view(bsz, self.num_heads, tgt_len, -1)
        attn_probs = F.softmax(attn_weights.view(bsz * self.num_heads, tgt_len, -1), dim=-1)
        attn = torch.bmm(attn_probs, v)                          # (bsz * heads, tgt_len, head_dim)
        return attn.transpose(0, 1).contiguous().view(tgt_len, bsz, embed_dim)


def window_partition(x, ws):
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def to_rnn_layout(x, batch_first):
    b, t, d = x.shape
    if not batch_first:
        x = x.transpose(0, 1)                                   # (T, B, D)
        return x.reshape(t, b, d)
    return x.reshape(b, t, d)


def maybe_time_major(x, time_major):
    b, t, d = x.shape
    if time_major:
        x = x.transpose(0, 1)
    return x.reshape(t, b, d) if time_major else x               # which order x has depends on the flag
