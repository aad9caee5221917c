"""Clean twin of pretrain_finetune.py: after replacing the head and freezing the encoder, a new
optimizer is built over the parameters that still train."""
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
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.finetune_lr)
    train_epochs(model, optimizer, loader(cfg, "finetune"), cfg.finetune_epochs, cfg.log_every, "finetune")
    print("fine-tune accuracy", accuracy(model, loader(cfg, "finetune", train=False)))


if __name__ == "__main__":
    main()
