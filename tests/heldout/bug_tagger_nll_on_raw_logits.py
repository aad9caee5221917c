"""BUG loss-input: a BiLSTM part-of-speech tagger whose raw (B,T,C) scores go into F.nll_loss, which expects log-probabilities."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, N_TAGS, T = 70, 6, 20


def sentences(n=24, seed=103):
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(0, VOCAB, (n, T), generator=g)
    tags = words % N_TAGS
    return words, tags


class BiLSTMTagger(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.lstm = nn.LSTM(d, d, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * d, N_TAGS)

    def forward(self, words):
        h, _ = self.lstm(self.emb(words))
        return self.proj(h)                       # scores, not log-probabilities


def build_model():
    return BiLSTMTagger()


def get_batch():
    return sentences()


def loss_fn(scores, tags):
    return F.nll_loss(scores.reshape(-1, N_TAGS), tags.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
