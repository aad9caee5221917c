"""CLEAN: knowledge distillation, student + frozen teacher (weights loaded from a checkpoint, here rebuilt deterministically), KL at T=4 plus CE."""
import torch
import torch.nn as nn
import torch.nn.functional as F

D, C, T_KD, ALPHA = 32, 10, 4.0, 0.7


def _teacher_state():
    """Stand-in for torch.load('teacher.pt'): the same weights on every call."""
    g = torch.Generator().manual_seed(2024)
    t = nn.Sequential(nn.Linear(D, 256), nn.ReLU(), nn.Linear(256, C))
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / (p.shape[-1] ** 0.5))
    return t.state_dict()


def teacher_labelled(n=64, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g)
    t = nn.Sequential(nn.Linear(D, 256), nn.ReLU(), nn.Linear(256, C))
    t.load_state_dict(_teacher_state())
    with torch.no_grad():
        y = t(x).argmax(1)
    return x, y


class Distiller(nn.Module):
    def __init__(self):
        super().__init__()
        self.teacher = nn.Sequential(nn.Linear(D, 256), nn.ReLU(), nn.Linear(256, C))
        self.teacher.load_state_dict(_teacher_state())
        self.teacher.requires_grad_(False)
        self.student = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, C))

    def forward(self, x):
        with torch.no_grad():
            t_logits = self.teacher(x)
        return self.student(x), t_logits


def build_model():
    return Distiller()


def get_batch():
    return teacher_labelled()


def loss_fn(outputs, y):
    s, t = outputs
    kd = F.kl_div(F.log_softmax(s / T_KD, -1), F.log_softmax(t / T_KD, -1), log_target=True,
                  reduction="batchmean") * T_KD ** 2
    return ALPHA * kd + (1 - ALPHA) * F.cross_entropy(s, y)


def make_optimizer(params):
    return torch.optim.AdamW([p for p in params if p.requires_grad], lr=1e-3)
