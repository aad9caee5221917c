"""Gradient accumulation done wrong: zero_grad() at the start of every micro-batch, so only the
last micro-batch's gradients reach each optimizer step (the others are thrown away)."""
import torch

import config
from data import MarkovStream
from model import TinyLM
from train import compute_loss

if __name__ == "__main__":
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    stream = iter(MarkovStream(cfg.vocab, cfg.seq_len, cfg.batch_size, cfg.seed))
    model = TinyLM(cfg.vocab, cfg.d_model, cfg.layers)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for step in range(cfg.steps):
        for _ in range(cfg.micro_batches):
            opt.zero_grad()               # BUG: belongs after opt.step()
            x, y = next(stream)
            (compute_loss(model, x, y) / cfg.micro_batches).backward()
        opt.step()
