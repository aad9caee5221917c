"""CLEAN: AWD-style LSTM language model with embedding/output weight tying and dropout between layers; CAUSAL_DIM=1, SGD with clipping-friendly LR."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, BPTT = 36, 28
CAUSAL_DIM = 1


def corpus_batch(n=12, seed=71):
    g = torch.Generator().manual_seed(seed)
    words = [torch.randint(0, VOCAB, (int(torch.randint(2, 6, (1,), generator=g)),), generator=g) for _ in range(15)]
    stream = torch.cat([words[int(torch.randint(0, 15, (1,), generator=g))] for _ in range(n * (BPTT + 1) // 2 + 50)])
    data = stream[: n * (BPTT + 1)].view(n, BPTT + 1)
    return data[:, :-1].contiguous(), data[:, 1:].contiguous()


class RNNLM(nn.Module):
    def __init__(self, vocab=VOCAB, d=64, layers=2, p=0.3):
        super().__init__()
        self.encoder = nn.Embedding(vocab, d)
        self.drop = nn.Dropout(p)
        self.rnn = nn.LSTM(d, d, num_layers=layers, dropout=p, batch_first=True)
        self.decoder = nn.Linear(d, vocab)
        self.decoder.weight = self.encoder.weight          # tie weights
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens):
        out, _ = self.rnn(self.drop(self.encoder(tokens)))
        return self.decoder(self.drop(out))


def build_model():
    return RNNLM()


def get_batch():
    return corpus_batch()


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def make_optimizer(params):
    return torch.optim.SGD(params, lr=1.0, momentum=0.0)
