"""A word-level Transformer language model (after pytorch/examples word_language_model, model.py's
TransformerModel), small, trained with an optimizer.

Sequence-first: nn.TransformerEncoder keeps its default batch_first=False, batches are
(seq, batch) columns of the batchified corpus, and a square subsequent mask makes it causal.
Run: python train.py [--mask-bug]   (planted: the mask lets each position see the next one)
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--bptt", type=int, default=16)
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--mask-bug", action="store_true", help="planted: off-by-one causal mask")
args = parser.parse_args()
torch.manual_seed(1111)


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=500):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0), :])


class TransformerModel(nn.Module):
    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.2):
        super().__init__()
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        initrange = 0.1
        nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def _generate_square_subsequent_mask(self, sz):
        diag = 2 if args.mask_bug else 1
        return torch.triu(torch.full((sz, sz), float("-inf")), diagonal=diag)

    def forward(self, src, has_mask=True):
        if has_mask:
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = self._generate_square_subsequent_mask(len(src)).to(src.device)
        else:
            self.src_mask = None
        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


def make_corpus(n_tokens=8000, vocab=100):
    g = torch.Generator().manual_seed(7)
    nxt = torch.randint(0, vocab, (vocab, 3), generator=g)
    ids = [0]
    for _ in range(n_tokens - 1):
        ids.append(int(nxt[ids[-1], int(torch.randint(0, 3, (1,), generator=g))]))
    return torch.tensor(ids), vocab


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


def get_batch(source, i):
    seq_len = min(args.bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)


corpus, ntokens = make_corpus()
train_data = batchify(corpus, args.batch_size)
model = TransformerModel(ntokens, 32, 2, 64, 2, 0.2)
criterion = nn.NLLLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
model.train()
for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
    data, targets = get_batch(train_data, i)
    optimizer.zero_grad()
    output = model(data)
    output = output.view(-1, ntokens)
    loss = criterion(output, targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    optimizer.step()
    if batch % 50 == 0:
        print(f"batch {batch} loss {loss.item():.3f}")
