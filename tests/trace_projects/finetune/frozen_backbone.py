"""Clean: a linear probe. The encoder is frozen from the start (requires_grad_(False)), the
optimizer is built over all of model.parameters() (frozen ones included, as many scripts do) and
only the head trains. Nothing is zeroed and nothing is missing from the optimizer."""
import torch

import config
from data import loader
from model import Classifier
from trainer import accuracy, train_epochs


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    model = Classifier(cfg.channels, cfg.width, cfg.finetune_classes)
    model.encoder.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    train_epochs(model, optimizer, loader(cfg, "finetune"), cfg.finetune_epochs, cfg.log_every, "probe")
    print("probe accuracy", accuracy(model, loader(cfg, "finetune", train=False)))


if __name__ == "__main__":
    main()
