"""Clean: self-supervised embeddings, two augmented views per example and a hand-written InfoNCE."""
import torch

import config
from data import augment, unlabeled
from losses import info_nce
from models import Embedder


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    model = Embedder(cfg.n_features, cfg.hidden, cfg.embed_dim)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    step = 0
    for epoch in range(cfg.epochs):
        for (x,) in unlabeled(cfg):
            z1, z2 = model(augment(x)), model(augment(x))
            loss = info_nce(z1, z2, cfg.temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % cfg.log_every == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
