"""A masked-autoencoder style pre-training script: patchify/unpatchify with reshape + einsum-free
permutes, multi-head attention with head split and merge, a Trainer whose train_epoch() steps a
cosine schedule counted in steps, and an epoch-level StepLR for the probe stepped once per epoch."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def patchify(imgs, p):
    """(N, 3, H, W) -> (N, L, p*p*3)"""
    n, c, hp, wp = imgs.shape
    h, w = hp // p, wp // p
    x = imgs.reshape(n, c, h, p, w, p)
    x = x.permute(0, 2, 4, 3, 5, 1)                             # (N, h, w, p, p, C)
    return x.reshape(n, h * w, p * p * c)


def unpatchify(x, p, c=3):
    """(N, L, p*p*C) -> (N, C, H, W)"""
    n, L, _ = x.shape
    h = w = int(L ** 0.5)
    x = x.reshape(n, h, w, p, p, c)
    x = x.permute(0, 5, 1, 3, 2, 4)                             # (N, C, h, p, w, p)
    return x.reshape(n, c, h * p, w * p)


class Attention(nn.Module):
    def __init__(self, dim=96, heads=3):
        super().__init__()
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.heads, self.scale = heads, (dim // heads) ** -0.5

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                        # (B, heads, N, hd)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class TinyMAE(nn.Module):
    def __init__(self, patch=4, dim=96, img=32):
        super().__init__()
        self.patch = patch
        self.embed = nn.Linear(patch * patch * 3, dim)
        self.pos = nn.Parameter(torch.zeros(1, (img // patch) ** 2, dim))
        self.block = Attention(dim)
        self.norm = nn.LayerNorm(dim)
        self.decode = nn.Linear(dim, patch * patch * 3)

    def forward(self, imgs, mask_ratio=0.75):
        target = patchify(imgs, self.patch)                     # (N, L, p*p*3)
        x = self.embed(target) + self.pos
        n, L, d = x.shape
        keep = int(L * (1 - mask_ratio))
        ids = torch.rand(n, L).argsort(dim=1)[:, :keep]
        visible = torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, d))
        latent = self.norm(visible + self.block(visible))
        pred = torch.zeros(n, L, target.size(-1)).scatter(1, ids.unsqueeze(-1).expand(-1, -1, target.size(-1)),
                                                          self.decode(latent))
        mask = torch.ones(n, L).scatter(1, ids, 0.0)
        loss = ((pred - target) ** 2).mean(-1)
        return (loss * mask).sum() / mask.sum(), unpatchify(pred, self.patch)


class Trainer:
    def __init__(self, model, loader, epochs=100, warmup_epochs=5, lr=1.5e-4):
        self.model, self.loader, self.epochs = model, loader, epochs
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.05)
        total, warmup = epochs * len(loader), warmup_epochs * len(loader)

        def lr_factor(s):                                       # s counts optimizer steps
            if s < warmup:
                return (s + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor)

    def train_epoch(self):
        self.model.train()
        for imgs, _ in self.loader:
            loss, _ = self.model(imgs)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()                               # per step, by construction

    def fit(self):
        for epoch in range(self.epochs):
            self.train_epoch()


def linear_probe(features, labels, classes=10, epochs=30):
    head = nn.Linear(features.size(1), classes)
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)
    for epoch in range(epochs):
        for i in range(0, len(features), 256):
            opt.zero_grad()
            F.cross_entropy(head(features[i:i + 256]), labels[i:i + 256]).backward()
            opt.step()
        sched.step()
    return head
