"""CLEAN: character CNN text classifier (Conv1d over embeddings, max-over-time), cross-entropy with label_smoothing=0.1."""
import torch
import torch.nn as nn

ALPHABET, LEN, N_CLASSES = 30, 40, 5


def char_batch(n=48, seed=14):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randint(1, ALPHABET, (n, LEN), generator=g)
    for i in range(n):                       # each class has a 3-char motif somewhere in the text
        p = int(torch.randint(0, LEN - 3, (1,), generator=g))
        x[i, p:p + 3] = torch.tensor([1 + y[i], 10 + y[i], 20 + y[i]])
    return x, y


class CharCNN(nn.Module):
    def __init__(self, emb=24, ch=64):
        super().__init__()
        self.emb = nn.Embedding(ALPHABET, emb, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(emb, ch, k, padding=k // 2) for k in (3, 5)])
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(2 * ch, N_CLASSES)

    def forward(self, x):
        e = self.emb(x).transpose(1, 2)                 # (B, emb, L)
        feats = [torch.relu(c(e)).amax(dim=2) for c in self.convs]
        return self.fc(self.drop(torch.cat(feats, 1)))


def build_model():
    return CharCNN()


def get_batch():
    return char_batch()


loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
