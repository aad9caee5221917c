"""BUG grad-flow: a freezing loop meant for the embedding matches the substring 'enc' and freezes the whole randomly-initialised encoder too."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, L = 50, 12


def queries(n=48, seed=115):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randint(5, VOCAB, (n, L), generator=g)
    x[:, 2] = 1 + y
    return x, y


class QueryClassifier(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.enc_embedding = nn.Embedding(VOCAB, d)
        self.encoder = nn.GRU(d, d, batch_first=True)
        self.encoder_proj = nn.Linear(d, d)
        self.classifier = nn.Linear(d, 3)

    def forward(self, x):
        h, _ = self.encoder(self.enc_embedding(x))
        return self.classifier(torch.tanh(self.encoder_proj(h[:, -1])))


def build_model():
    model = QueryClassifier()
    for name, p in model.named_parameters():
        if "enc" in name:                         # meant: name.startswith("enc_embedding")
            p.requires_grad = False
    return model


def get_batch():
    return queries()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam([p for p in params if p.requires_grad], lr=1e-3)
