"""Planted bug (param-coverage): pre-train an encoder with a 6-way head, then replace the head for
the 3-way fine-tuning task and freeze the encoder, but keep stepping the optimizer built at the
start. It holds only the frozen encoder and the old head: the new head gets gradients and never
trains."""
import torch

import config
from data import loader
from model import Classifier
from trainer import accuracy, freeze, train_epochs


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    model = Classifier(cfg.channels, cfg.width, cfg.pretrain_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    train_epochs(model, optimizer, loader(cfg, "pretrain"), cfg.pretrain_epochs, cfg.log_every, "pretrain")

    model.reset_head(cfg.finetune_classes)
    freeze(model.encoder)
    for group in optimizer.param_groups:   # BUG: the old optimizer, without the new head
        group["lr"] = cfg.finetune_lr
    train_epochs(model, optimizer, loader(cfg, "finetune"), cfg.finetune_epochs, cfg.log_every, "finetune")
    print("fine-tune accuracy", accuracy(model, loader(cfg, "finetune", train=False)))


if __name__ == "__main__":
    main()
