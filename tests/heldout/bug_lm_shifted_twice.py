"""BUG target-offset: the collate already returns next-token labels (tokens[1:]) and the HF-style model shifts labels again inside forward: trained to predict t+2."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, T = 32, 20
CAUSAL_DIM = 1


def corpus(n=16, seed=135):
    g = torch.Generator().manual_seed(seed)
    table = torch.randint(0, VOCAB, (VOCAB,), generator=g)
    s = torch.empty(n, T + 1, dtype=torch.long)
    s[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
    for t in range(1, T + 1):
        s[:, t] = torch.where(torch.rand(n, generator=g) < 0.1, torch.randint(0, VOCAB, (n,), generator=g), table[s[:, t - 1]])
    return s


def collate(seqs):
    input_ids, labels = seqs[:, :-1], seqs[:, 1:]            # shift #1
    return {"input_ids": input_ids, "labels": labels}, labels


class CausalLM(nn.Module):
    """Follows the Hugging Face convention: labels are the inputs, the model shifts them."""

    def __init__(self, d=48):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.rnn = nn.LSTM(d, d, batch_first=True)
        self.lm_head = nn.Linear(d, VOCAB)

    def forward(self, input_ids, labels=None):
        logits = self.lm_head(self.rnn(self.emb(input_ids))[0])
        loss = None
        if labels is not None:
            shift_logits = logits[:, :-1].reshape(-1, VOCAB)       # shift #2
            shift_labels = labels[:, 1:].reshape(-1)
            loss = F.cross_entropy(shift_logits, shift_labels)
        return {"logits": logits, "loss": loss}


def build_model():
    return CausalLM()


def get_batch():
    return collate(corpus())


def loss_fn(outputs, labels):
    return outputs["loss"]


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=2e-3)
