"""BUG batch-sanity|target-offset: label masking inverted, labels[attention_mask == 1] = -100, so every real token is ignored and the LM learns only padding."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, PAD, T = 40, 0, 16
CAUSAL_DIM = 1


def padded_batch(n=16, seed=137):
    g = torch.Generator().manual_seed(seed)
    table = torch.randint(1, VOCAB, (VOCAB,), generator=g)
    ids = torch.full((n, T + 1), PAD, dtype=torch.long)
    attn = torch.zeros(n, T + 1, dtype=torch.long)
    for i in range(n):
        L = int(torch.randint(8, T + 2, (1,), generator=g))
        ids[i, 0] = int(torch.randint(1, VOCAB, (1,), generator=g))
        for t in range(1, L):
            ids[i, t] = table[ids[i, t - 1]]
        attn[i, :L] = 1
    inputs, labels, mask = ids[:, :-1], ids[:, 1:].clone(), attn[:, 1:]
    labels[mask == 1] = -100                         # BUG: meant labels[mask == 0] = -100
    return inputs, labels


class LSTMLM(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d, padding_idx=PAD)
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, x):
        return self.head(self.lstm(self.emb(x))[0])


def build_model():
    return LSTMLM()


def get_batch():
    return padded_batch()


def loss_fn(logits, labels):
    return F.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=-100)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
