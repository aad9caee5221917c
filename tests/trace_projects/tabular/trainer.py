"""A small trainer with callbacks, in the style of the big frameworks."""
import torch
import torch.nn.functional as F


class Callback:
    def on_step_end(self, trainer, step, loss):
        pass

    def on_epoch_end(self, trainer, epoch):
        pass


class Logger(Callback):
    def __init__(self, every):
        self.every = every

    def on_step_end(self, trainer, step, loss):
        if step % self.every == 0:
            print(f"step {step:4d}  loss {loss:.4f}  lr {trainer.optimizer.param_groups[0]['lr']:.2e}")


class Evaluator(Callback):
    """Validation accuracy every `every` steps; puts the model back in the mode it found it in."""

    def __init__(self, loader, every):
        self.loader, self.every = loader, every
        self.history = []

    @torch.no_grad()
    def run(self, model):
        was_training = model.training
        model.eval()
        correct = total = 0
        for batch in self.loader:
            pred = model(batch["features"]).argmax(1)
            correct += int((pred == batch["label"]).sum())
            total += len(pred)
        model.train(was_training)
        return correct / total

    def on_step_end(self, trainer, step, loss):
        if step % self.every == 0:
            self.history.append(self.run(trainer.model))
            print(f"step {step:4d}  val acc {self.history[-1]:.3f}")


class LRScheduler(Callback):
    """Steps a torch LR scheduler at the end of every epoch or every optimizer step."""

    def __init__(self, scheduler, interval="epoch"):
        self.scheduler, self.interval = scheduler, interval

    def on_step_end(self, trainer, step, loss):
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer, epoch):
        if self.interval == "epoch":
            self.scheduler.step()


class Trainer:
    def __init__(self, model, optimizer, loader, callbacks=(), accum=1, clip=1.0):
        self.model, self.optimizer, self.loader = model, optimizer, loader
        self.callbacks, self.accum, self.clip = list(callbacks), accum, clip
        self.step = 0

    def loss(self, batch):
        logits = self.model(batch["features"])
        return F.cross_entropy(logits, batch["label"])

    def fit(self, epochs):
        self.model.train()
        for epoch in range(epochs):
            for i, batch in enumerate(self.loader):
                loss = self.loss(batch) / self.accum
                loss.backward()
                if (i + 1) % self.accum:
                    continue
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                for cb in self.callbacks:
                    cb.on_step_end(self, self.step, loss.item() * self.accum)
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch)
        return self
