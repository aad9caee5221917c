"""Planted bug (train-mode): a quick validation callback switches the model to eval mode and
never switches it back, so dropout and BatchNorm run in inference mode for the rest of training."""
import torch

import config
from train import build
from trainer import Callback, Trainer


class QuickValidation(Callback):
    def __init__(self, loader, every):
        self.loader, self.every = loader, every

    def run(self, model):
        model.eval()
        with torch.no_grad():
            batch = next(iter(self.loader))
            acc = (model(batch["features"]).argmax(1) == batch["label"]).float().mean()
        return float(acc)            # BUG: no model.train() afterwards

    def on_step_end(self, trainer, step, loss):
        if step % self.every == 0:
            print(f"step {step} quick val acc {self.run(trainer.model):.3f}")


def main():
    cfg = config.parse()
    model, optimizer, train_loader, callbacks = build(cfg)
    _, val_loader = __import__("data").loaders(cfg)
    callbacks = [callbacks[0], QuickValidation(val_loader, every=2)]
    Trainer(model, optimizer, train_loader, callbacks).fit(cfg.epochs)


if __name__ == "__main__":
    main()
