"""BUG init-loss: an LSTM review classifier whose output layer is initialised with normal_(std=1.0): logits of size ~sqrt(hidden), loss at init far above ln C."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, L, N_CLASSES = 80, 12, 5


def reviews(n=32, seed=109):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randint(6, VOCAB, (n, L), generator=g)
    x[:, -1] = 1 + y
    return x, y


class ReviewLSTM(nn.Module):
    def __init__(self, d=32, hidden=128):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.lstm = nn.LSTM(d, hidden, batch_first=True)
        self.out = nn.Linear(hidden, N_CLASSES)
        self.init_head(std=1.0)

    def init_head(self, std):
        nn.init.normal_(self.out.weight, mean=0.0, std=std)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h[:, -1] * 4.0)       # 'sharpen' the final state


def build_model():
    return ReviewLSTM()


def get_batch():
    return reviews()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
