"""BUG target-offset|batch-sanity: a char-level GRU LM's collate returns (tokens, tokens): each position is trained to output the token it already sees."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

VOCAB, T = 30, 24
CAUSAL_DIM = 1


class CharChunks(Dataset):
    def __init__(self, n=64, seed=134):
        g = torch.Generator().manual_seed(seed)
        nxt = torch.randint(0, VOCAB, (VOCAB, 2), generator=g)
        s = torch.empty(n, T, dtype=torch.long)
        s[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
        for t in range(1, T):
            s[:, t] = nxt[s[:, t - 1], torch.randint(0, 2, (n,), generator=g)]
        self.data = s

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]


def lm_collate(chunks):
    x = torch.stack(chunks)
    return x, x                      # BUG: targets should be x[:, 1:] against inputs x[:, :-1]


class CharGRU(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.gru = nn.GRU(d, d, num_layers=2, batch_first=True)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, x):
        return self.head(self.gru(self.emb(x))[0])


def build_model():
    return CharGRU()


def get_batch():
    return next(iter(DataLoader(CharChunks(), batch_size=16, shuffle=True, collate_fn=lm_collate)))


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
