"""CLEAN: GRU sentence classifier over padded token ids with a lengths tensor, pack_padded_sequence(enforce_sorted=False)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

VOCAB, PAD, N_CLASSES, MAX_LEN = 50, 0, 3, 16


def make_corpus(n=32, seed=11):
    """Label = which of the 'topic' tokens 5, 6, 7 occurs most often in the sentence."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(6, MAX_LEN + 1, (n,), generator=g)
    tokens = torch.full((n, MAX_LEN), PAD, dtype=torch.long)
    labels = torch.empty(n, dtype=torch.long)
    for i in range(n):
        L = int(lengths[i])
        seq = torch.randint(8, VOCAB, (L,), generator=g)
        topic = int(torch.randint(0, N_CLASSES, (1,), generator=g))
        k = max(2, L // 4)
        pos = torch.randperm(L, generator=g)[:k]
        seq[pos] = 5 + topic
        tokens[i, :L] = seq
        labels[i] = topic
    return (tokens, lengths), labels


class GRUClassifier(nn.Module):
    def __init__(self, vocab=VOCAB, emb=32, hidden=64, n_classes=N_CLASSES):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.gru = nn.GRU(emb, hidden, batch_first=True)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)                 # h_n: (1, B, hidden), original batch order restored
        return self.fc(self.dropout(h_n[-1]))


def build_model():
    return GRUClassifier()


def get_batch():
    return make_corpus()


def loss_fn(logits, labels):
    return F.cross_entropy(logits, labels)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
