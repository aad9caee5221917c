"""A tiny GRU language model: embedding, GRU, tied-size output head."""
import torch.nn as nn


class TinyLM(nn.Module):
    def __init__(self, vocab, d_model, layers):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.rnn = nn.GRU(d_model, d_model, num_layers=layers, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):            # (B, T) -> logits (B, T, V)
        h, _ = self.rnn(self.embed(tokens))
        return self.head(self.norm(h))
