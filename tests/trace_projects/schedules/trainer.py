"""A trainer with per-batch and per-epoch hooks, and callbacks."""
import torch
import torch.nn.functional as F


class Callback:
    def on_batch_end(self, trainer):
        pass

    def on_epoch_end(self, trainer):
        pass


class SchedulerCallback(Callback):
    """Steps an LR scheduler from the callback hooks."""

    def __init__(self, scheduler, every="epoch"):
        self.scheduler, self.every = scheduler, every

    def on_batch_end(self, trainer):
        if self.every == "batch":
            self.scheduler.step()

    def on_epoch_end(self, trainer):
        if self.every == "epoch":
            self.scheduler.step()


class Trainer:
    def __init__(self, model, optimizer, scheduler=None, interval="epoch", callbacks=(), log_every=10):
        self.model, self.optimizer = model, optimizer
        self.scheduler, self.interval = scheduler, interval
        self.callbacks, self.log_every = list(callbacks), log_every
        self.global_step = 0

    def training_step(self, batch):
        users, items, rating = batch
        return F.mse_loss(self.model(users, items), rating)

    def after_step(self):
        if self.scheduler is not None and self.interval == "step":
            self.scheduler.step()

    def after_epoch(self):
        if self.scheduler is not None and self.interval == "epoch":
            self.scheduler.step()

    def fit(self, loader, epochs):
        self.model.train()
        for epoch in range(epochs):
            for batch in loader:
                self.optimizer.zero_grad()
                loss = self.training_step(batch)
                loss.backward()
                self.optimizer.step()
                self.after_step()
                for cb in self.callbacks:
                    cb.on_batch_end(self)
                self.global_step += 1
                if self.global_step % self.log_every == 0:
                    print(f"epoch {epoch} step {self.global_step} loss {loss.item():.4f} "
                          f"lr {self.optimizer.param_groups[0]['lr']:.2e}")
            self.after_epoch()
            for cb in self.callbacks:
                cb.on_epoch_end(self)

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        err = sum(float(((self.model(u, i) - r) ** 2).sum()) for u, i, r in loader)
        self.model.train()
        return err / len(loader.dataset)
