"""CLEAN: GRU encoder-decoder with teacher forcing (inputs = (source, shifted target)), learns to reverse a sequence; padded CE."""
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, VOCAB, LEN = 0, 1, 20, 10


def reverse_task(n=24, seed=21):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(2, VOCAB, (n, LEN), generator=g)
    lengths = torch.randint(6, LEN + 1, (n,), generator=g)
    tgt = torch.full((n, LEN), PAD, dtype=torch.long)
    for i in range(n):
        L = int(lengths[i])
        src[i, L:] = PAD
        tgt[i, :L] = src[i, :L].flip(0)
    tgt_in = torch.cat([torch.full((n, 1), BOS, dtype=torch.long), tgt[:, :-1]], 1)   # teacher forcing
    return (src, tgt_in), tgt


class Seq2Seq(nn.Module):
    def __init__(self, vocab=VOCAB, d=48):
        super().__init__()
        self.src_emb = nn.Embedding(vocab, d, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(vocab, d, padding_idx=PAD)
        self.encoder = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * d, d)
        self.decoder = nn.GRU(d, d, batch_first=True)
        self.attn_proj = nn.Linear(2 * d, d)
        self.out = nn.Linear(2 * d, vocab)

    def forward(self, src, tgt_in):
        enc, h = self.encoder(self.src_emb(src))                       # (B,S,2d), (2,B,d)
        h0 = torch.tanh(self.bridge(torch.cat([h[0], h[1]], -1))).unsqueeze(0)
        dec, _ = self.decoder(self.tgt_emb(tgt_in), h0)                 # (B,T,d)
        keys = self.attn_proj(enc)                                      # (B,S,d)
        scores = dec @ keys.transpose(1, 2)                             # (B,T,S)
        scores = scores.masked_fill((src == PAD).unsqueeze(1), float("-inf"))
        ctx = torch.softmax(scores, -1) @ keys                          # (B,T,d)
        return self.out(torch.cat([dec, ctx], -1))                      # (B,T,V)


def build_model():
    return Seq2Seq()


def get_batch():
    return reverse_task()


def loss_fn(logits, tgt):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1), ignore_index=PAD)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
