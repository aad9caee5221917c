"""Evaluation only: builds the model and scores it on the validation set; never trains."""
import torch

import config
from data import loaders
from model import TabularNet
from trainer import Evaluator

if __name__ == "__main__":
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    _, val_loader = loaders(cfg)
    model = TabularNet(cfg.n_features, cfg.hidden, cfg.n_classes)
    print("val acc at init", Evaluator(val_loader, 1).run(model))
