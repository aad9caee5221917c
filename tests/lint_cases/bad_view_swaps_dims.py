"""view/reshape used where a permute was meant: the elements are reinterpreted, not moved."""
import torch
import torch.nn as nn


class SeqEncoder(nn.Module):
    def __init__(self, features=6, hidden=32):
        super().__init__()
        self.proj = nn.Linear(features, hidden)
        self.gru = nn.GRU(hidden, hidden)                    # expects (T, B, hidden)

    def forward(self, x):                                    # x: (B, T, F)
        B, T, _ = x.shape
        h = torch.tanh(self.proj(x))                         # (B, T, hidden)
        h = h.view(T, B, -1)  # expect: view-swaps-dims
        out, _ = self.gru(h)                                 # (T, B, hidden)
        return out[-1]                                       # (B, hidden)


class PatchTokens(nn.Module):
    def __init__(self, c=3, d=16):
        super().__init__()
        self.conv = nn.Conv2d(c, d, 4, stride=4)

    def forward(self, img):                                  # img: (N, C, H, W)
        f = self.conv(img)                                   # (N, d, h, w)
        n, d, h, w = f.shape
        return f.reshape(n, h * w, d)  # expect: view-swaps-dims


def channels_last(x):
    # x: (N, C, L) -> wanted (N, L, C)
    return x.view(x.size(0), x.size(2), x.size(1))  # expect: view-swaps-dims
