"""Hyper-parameters of the tiny language model, overridable as --key value."""
import argparse

DEFAULTS = dict(vocab=32, seq_len=24, d_model=48, layers=1, batch_size=16, micro_batches=2, steps=60,
                lr=3e-3, warmup=5, weight_decay=0.01, clip=1.0, seed=0, log_every=10)


def parse(argv=None):
    p = argparse.ArgumentParser(description="train a tiny character-level language model")
    for k, v in DEFAULTS.items():
        p.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    return p.parse_args(argv)
