"""Correct uses of softmax next to cross-entropy: predictions, log-probs, distillation targets."""
import torch
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()


class AttnPoolClassifier(nn.Module):
    def __init__(self, d=32, classes=5):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(d, 1), nn.Softmax(dim=1))   # attention weights over time
        self.head = nn.Linear(d, classes)

    def forward(self, h):                       # h: (B, T, d)
        w = self.score(h)                       # (B, T, 1)
        return self.head((w * h).sum(1))        # (B, classes) logits


def step(model, x, y, opt):
    logits = model(x)
    loss = criterion(logits, y)
    probs = F.softmax(logits, dim=1)            # for the accuracy only
    acc = (probs.argmax(1) == y).float().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), acc.item()


def nll_version(logits, y):
    logp = F.log_softmax(logits, dim=-1)
    return F.nll_loss(logp, y)                  # log-probabilities into NLL: right


def harmless(logits, y):
    # log_softmax is idempotent under the log-softmax inside cross_entropy: same loss
    return F.cross_entropy(F.log_softmax(logits, dim=-1), y)


def distill(student_logits, teacher_logits, y, T=2.0):
    soft = F.softmax(teacher_logits / T, dim=-1)           # probability *targets* are fine
    kd = F.cross_entropy(student_logits / T, soft) * T * T
    probs = F.softmax(student_logits, dim=-1)
    probs = student_logits                                  # rebound to logits before use
    return kd + F.cross_entropy(probs, y)
