"""Planted bug (lr-trace): MultiStepLR(milestones=[8, 12]) counts epochs, but the callback that
steps it is set to fire after every batch: the LR falls 100x within the first epoch."""
import config
import schedules
from train import build
from trainer import SchedulerCallback, Trainer


def main():
    cfg = config.parse()
    model, optimizer, _, train_loader, val_loader = build(cfg)
    sched = schedules.build("multistep", optimizer, cfg, len(train_loader))
    trainer = Trainer(model, optimizer, callbacks=[SchedulerCallback(sched, every="batch")],  # BUG: per batch
                      log_every=cfg.log_every)
    trainer.fit(train_loader, cfg.epochs)
    print("val mse", trainer.evaluate(val_loader))


if __name__ == "__main__":
    main()
