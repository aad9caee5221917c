"""Models: a GRU LM, a causal transformer LM, an HF-style LM that shifts labels inside, and a
bidirectional tagger with BatchNorm."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from corpus import VOCAB


class GRULM(nn.Module):
    def __init__(self, vocab=VOCAB, d=48):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.rnn = nn.GRU(d, d, num_layers=2, batch_first=True, dropout=0.1)
        self.head = nn.Linear(d, vocab)

    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0])


class CausalTransformerLM(nn.Module):
    def __init__(self, vocab=VOCAB, d=48, block=64):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block, d)
        layer = nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.1, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(d, vocab)

    def forward(self, x):
        T = x.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T)
        h = self.tok(x) + self.pos(torch.arange(T))
        return self.head(self.blocks(h, mask=mask, is_causal=True))


class LMOutput(dict):
    __getattr__ = dict.__getitem__


class HFStyleLM(nn.Module):
    """forward(input_ids, attention_mask, labels) -> .loss, .logits; shifts labels inside."""

    def __init__(self):
        super().__init__()
        self.body = CausalTransformerLM()

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = self.body(input_ids)
        loss = None
        if labels is not None:
            s_logits, s_labels = logits[:, :-1].contiguous(), labels[:, 1:].contiguous()
            loss = F.cross_entropy(s_logits.view(-1, s_logits.size(-1)), s_labels.view(-1), ignore_index=-100)
        return LMOutput(loss=loss, logits=logits)


class BiTagger(nn.Module):
    """A bidirectional LSTM tagger with BatchNorm over features: K tags per token."""

    def __init__(self, vocab=VOCAB, tags=12, d=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.rnn = nn.LSTM(d, d, batch_first=True, bidirectional=True)
        self.bn = nn.BatchNorm1d(2 * d)
        self.head = nn.Linear(2 * d, tags)

    def forward(self, x):
        h = self.rnn(self.emb(x))[0]
        return self.head(F.relu(self.bn(h.transpose(1, 2)).transpose(1, 2)))
