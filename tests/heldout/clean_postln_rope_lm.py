"""CLEAN: post-LN transformer LM with rotary position embeddings and scaled_dot_product_attention(is_causal=True); CAUSAL_DIM=1."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, SEQ = 40, 24
CAUSAL_DIM = 1


def counting_text(n=16, seed=4):
    """Runs of ascending tokens with random restarts: the next token is usually current+1."""
    g = torch.Generator().manual_seed(seed)
    seq = torch.empty(n, SEQ + 1, dtype=torch.long)
    seq[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
    for t in range(1, SEQ + 1):
        restart = torch.rand(n, generator=g) < 0.15
        seq[:, t] = torch.where(restart, torch.randint(0, VOCAB, (n,), generator=g), (seq[:, t - 1] + 1) % VOCAB)
    return seq[:, :-1], seq[:, 1:]


def rotary_tables(T, dim, base=10000.0):
    inv = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    ang = torch.outer(torch.arange(T).float(), inv)          # (T, dim/2)
    return ang.cos(), ang.sin()


def apply_rotary(x, cos, sin):                                # x: (B, H, T, dh)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rx1 = x1 * cos - x2 * sin
    rx2 = x1 * sin + x2 * cos
    return torch.stack([rx1, rx2], -1).flatten(-2)


class RopeAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))

    def forward(self, x):
        B, T, D = x.shape
        split = lambda z: z.view(B, T, self.h, D // self.h).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        cos, sin = rotary_tables(T, D // self.h)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(y.transpose(1, 2).reshape(B, T, D))


class PostLNLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.attn = RopeAttention(d, heads)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        x = self.n1(x + self.drop(self.attn(x)))
        return self.n2(x + self.drop(self.ff(x)))


class RopeLM(nn.Module):
    def __init__(self, vocab=VOCAB, d=64, heads=4, layers=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.layers = nn.Sequential(*[PostLNLayer(d, heads) for _ in range(layers)])
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens):
        return self.head(self.layers(self.emb(tokens)))


def build_model():
    return RopeLM()


def get_batch():
    return counting_text()


def loss_fn(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01)
