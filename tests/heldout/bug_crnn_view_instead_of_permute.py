"""BUG batch-independence: OCR CRNN turns conv features (B, C, W) into an LSTM sequence with .view(W, B, C) instead of .permute(2, 0, 1): columns of different images get mixed."""
import torch
import torch.nn as nn
import torch.nn.functional as F

H, W, N_CLASSES = 8, 16, 6


def text_lines(n=16, seed=122):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, H, W, generator=g)
    for i in range(n):
        x[i, 0, int(y[i]) % H, :] += 1.5
        x[i, 0, :, 2 * int(y[i]):2 * int(y[i]) + 3] += 1.0
    return x, y


class CRNN(nn.Module):
    def __init__(self, c=24):
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                                 nn.MaxPool2d((2, 1)), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d((1, None)))
        self.rnn = nn.LSTM(c, c)                       # sequence-first
        self.fc = nn.Linear(c, N_CLASSES)

    def forward(self, x):
        f = self.cnn(x).squeeze(2)                     # (B, C, W)
        B, C, Wd = f.shape
        seq = f.view(Wd, B, C)                         # BUG: should be f.permute(2, 0, 1)
        out, _ = self.rnn(seq)
        return self.fc(out[-1])


def build_model():
    return CRNN()


def get_batch():
    return text_lines()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
