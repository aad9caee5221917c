"""LR schedules by name. Epoch schedules count epochs; step schedules count optimizer steps."""
import functools

import torch


def _warmup_linear(step, num_warmup_steps, num_training_steps):
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))


def build(name, optimizer, cfg, steps_per_epoch):
    total = cfg.epochs * steps_per_epoch
    S = torch.optim.lr_scheduler
    if name == "step":            # halve every 5 epochs
        return S.StepLR(optimizer, step_size=5, gamma=0.5)
    if name == "multistep":       # 10x down at epochs 8 and 12
        return S.MultiStepLR(optimizer, milestones=[8, 12], gamma=0.1)
    if name == "exponential":     # 10% less per epoch
        return S.ExponentialLR(optimizer, gamma=0.9)
    if name == "cosine-epochs":   # one cosine over the epochs
        return S.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if name == "cosine":          # one cosine over every optimizer step
        return S.CosineAnnealingLR(optimizer, T_max=total)
    if name == "onecycle":
        return S.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    if name == "warmup":          # linear warm-up, then linear decay to 0 at the last step
        fn = functools.partial(_warmup_linear, num_warmup_steps=cfg.warmup_steps, num_training_steps=total)
        return S.LambdaLR(optimizer, fn)
    return None
