"""Train TinyGPT on story blocks. The collate function's label convention comes from the config
(--collate-shift 1 by default: copied from a plain-PyTorch LM project), while the model shifts
labels itself, as Hugging Face LM heads do."""
from functools import partial

import torch
from torch.utils.data import DataLoader

import config
from data import StoryBlocks, collate
from model import TinyGPT


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    data = StoryBlocks(cfg.vocab, cfg.block, seed=cfg.seed)
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True,
                        collate_fn=partial(collate, shift=bool(cfg.collate_shift)))
    model = TinyGPT(cfg.vocab, cfg.block, cfg.d_model, cfg.heads, cfg.layers)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    step = 0
    while step < cfg.steps:
        for batch in loader:
            out = model(**batch)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step % cfg.log_every == 0:
                print(f"step {step:3d} loss {out.loss.item():.3f}")
            step += 1
            if step >= cfg.steps:
                break


if __name__ == "__main__":
    main()
