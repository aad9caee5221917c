"""A word-level LSTM language model (after pytorch/examples word_language_model), small.

Sequence-first throughout, as the original: the corpus is batchified into (steps, batch)
columns, `nn.LSTM` keeps its default batch_first=False, the hidden state is carried and
detached between chunks (truncated BPTT), and the parameters are updated by hand
(`p.data.add_(p.grad, alpha=-lr)`): there is no optimizer. The corpus is generated here.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=20)
parser.add_argument("--clip", type=float, default=0.25)
parser.add_argument("--bptt", type=int, default=20)
parser.add_argument("--batch-size", type=int, default=10)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--vocab", type=int, default=200)
parser.add_argument("--tokens", type=int, default=12000)
args = parser.parse_args()
torch.manual_seed(1111)


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.init_weights()
        self.nhid, self.nlayers = nhid, nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))


def make_corpus(n_tokens=12000, vocab=200):
    """A token stream with local structure: a random bigram chain over the vocabulary."""
    g = torch.Generator().manual_seed(7)
    nxt = torch.randint(0, vocab, (vocab, 3), generator=g)
    ids = [0]
    for _ in range(n_tokens - 1):
        ids.append(int(nxt[ids[-1], int(torch.randint(0, 3, (1,), generator=g))]))
    return torch.tensor(ids), vocab


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i):
    seq_len = min(args.bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


corpus, ntokens = make_corpus(args.tokens, args.vocab)
train_data = batchify(corpus, args.batch_size)
model = RNNModel(ntokens, 64, 64, 2, 0.2)
criterion = nn.NLLLoss()


def train():
    model.train()
    hidden = model.init_hidden(args.batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        data, targets = get_batch(train_data, i)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-args.lr)
        if batch % 20 == 0:
            print(f"batch {batch} loss {loss.item():.3f}")


for epoch in range(1, args.epochs + 1):
    train()
