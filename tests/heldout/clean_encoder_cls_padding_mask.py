"""CLEAN: bidirectional nn.TransformerEncoder sentence classifier with a key-padding mask and masked mean pooling; sees the whole sentence, no CAUSAL_DIM."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, PAD, MAXLEN, N_CLASSES = 60, 0, 20, 2


def sentiment_batch(n=32, seed=8):
    """Positive if token 'good'(=3) appears before token 'not'(=4) ... a rule that needs both directions."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (n, MAXLEN), generator=g)
    lengths = torch.randint(10, MAXLEN + 1, (n,), generator=g)
    labels = torch.randint(0, 2, (n,), generator=g)
    for i in range(n):
        L = int(lengths[i])
        a, b = sorted(torch.randperm(L, generator=g)[:2].tolist())
        ids[i, a], ids[i, b] = (3, 4) if labels[i] == 1 else (4, 3)
        ids[i, L:] = PAD
    attention_mask = (ids != PAD).long()
    return {"input_ids": ids, "attention_mask": attention_mask}, labels


class EncoderClassifier(nn.Module):
    def __init__(self, vocab=VOCAB, d=64, heads=4, layers=2, n_classes=N_CLASSES):
        super().__init__()
        self.tok = nn.Embedding(vocab, d, padding_idx=PAD)
        self.pos = nn.Parameter(torch.randn(1, MAXLEN, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.cls = nn.Linear(d, n_classes)

    def forward(self, input_ids, attention_mask):
        x = self.tok(input_ids) + self.pos[:, :input_ids.size(1)]
        h = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        m = attention_mask.unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.cls(pooled)


def build_model():
    return EncoderClassifier()


def get_batch():
    return sentiment_batch()


def loss_fn(logits, labels):
    return F.cross_entropy(logits, labels)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01)
