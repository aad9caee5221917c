"""Train the tiny LM with AdamW, linear warm-up from 0 then cosine decay (stepped per optimizer
step), and gradient accumulation over --micro-batches micro-batches (loss scaled by 1/k)."""
import math

import torch
import torch.nn.functional as F

import config
from data import MarkovStream
from model import TinyLM


def lr_lambda(warmup, total):
    def f(step):
        if step < warmup:
            return step / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
    return f


def compute_loss(model, x, y):
    logits = model(x)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    stream = iter(MarkovStream(cfg.vocab, cfg.seq_len, cfg.batch_size, cfg.seed))
    model = TinyLM(cfg.vocab, cfg.d_model, cfg.layers)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg.warmup, cfg.steps))
    model.train()
    for step in range(cfg.steps):
        total = 0.0
        for _ in range(cfg.micro_batches):
            x, y = next(stream)
            loss = compute_loss(model, x, y) / cfg.micro_batches
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % cfg.log_every == 0:
            print(f"step {step:3d} loss {total:.3f} lr {sched.get_last_lr()[0]:.2e}")


if __name__ == "__main__":
    main()
