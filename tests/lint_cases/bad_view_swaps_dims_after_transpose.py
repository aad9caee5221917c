"""Batch-first tensors made time-major with a reshape after a transpose: the shape comes out right,
the contents are regrouped across the batch. A small CTC speech model, a patch transformer on a
sequence-first encoder, and an attention block whose output feeds a sequence-first stack."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvFrontEnd(nn.Module):
    """(B, T, n_mels) -> (T, B, hidden) for a time-major LSTM."""

    def __init__(self, n_mels=40, hidden=128):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, hidden, kernel_size=5, padding=2)

    def forward(self, feats):                                   # (B, T, n_mels)
        x = F.relu(self.conv(feats.transpose(1, 2)))            # (B, hidden, T)
        b, c, t = x.shape
        x = x.transpose(1, 2)                                   # (B, T, hidden)
        return x.reshape(t, b, c)  # expect: view-swaps-dims-after-transpose


class CTCModel(nn.Module):
    def __init__(self, n_mels=40, hidden=128, n_tokens=30):
        super().__init__()
        self.front = ConvFrontEnd(n_mels, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2)       # time-major: (T, B, hidden)
        self.out = nn.Linear(hidden, n_tokens)

    def forward(self, feats):
        h, _ = self.lstm(self.front(feats))
        return self.out(h).log_softmax(-1)                      # (T, B, n_tokens), as ctc_loss wants


class PatchEncoder(nn.Module):
    """Image patches through a sequence-first nn.TransformerEncoder (batch_first=False)."""

    def __init__(self, dim=64, patch=4, n_classes=10):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(dim, nhead=4), num_layers=2)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, img):
        x = self.embed(img)                                     # (B, dim, h, w)
        b, d, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)                        # (B, h*w, dim)
        x = x.reshape(h * w, b, d)  # expect: view-swaps-dims-after-transpose
        return self.head(self.encoder(x).mean(0))


class SeqFirstAttention(nn.Module):
    """Self-attention on (B, T, C) whose output goes on to a sequence-first (T, B, C) stack."""

    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)     # (B, nh, T, hs)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.heads)
        y = att.softmax(-1) @ v                                              # (B, nh, T, hs)
        return y.reshape(T, B, C)  # expect: view-swaps-dims-after-transpose


def to_time_major(x):
    """(B, T, D) -> (T, B, D): the wrong pair of axes is transposed, and the reshape hides it."""
    b, t, d = x.shape
    return x.transpose(1, 2).reshape(t, b, d)  # expect: view-swaps-dims-after-transpose


def train(epochs=2, batch=8, frames=50, labels=12):
    model = CTCModel()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ctc = nn.CTCLoss(blank=0)
    for epoch in range(epochs):
        feats = torch.randn(batch, frames, 40)
        targets = torch.randint(1, 30, (batch, labels))
        log_probs = model(feats)                                # (T, B, n_tokens)
        loss = ctc(log_probs, targets, torch.full((batch,), frames), torch.full((batch,), labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
