"""A run that crashes: a metrics callback indexes past the end of its history after a few steps."""
import config
from train import build
from trainer import Callback, Trainer


class Smoother(Callback):
    def __init__(self):
        self.losses = []

    def on_step_end(self, trainer, step, loss):
        self.losses.append(loss)
        if step == 3:
            print("smoothed", sum(self.losses[-5:]) / 5, self.losses[5])   # IndexError at step 3


if __name__ == "__main__":
    cfg = config.parse()
    model, optimizer, train_loader, callbacks = build(cfg)
    Trainer(model, optimizer, train_loader, callbacks + [Smoother()]).fit(cfg.epochs)
