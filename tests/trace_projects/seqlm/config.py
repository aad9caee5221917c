"""Hyper-parameters of the story-completion LM, overridable as --key value."""
import argparse

DEFAULTS = dict(vocab=40, block=32, d_model=48, heads=4, layers=2, batch_size=12, steps=40, lr=2e-3,
                seed=0, log_every=10, collate_shift=1)


def parse(argv=None):
    p = argparse.ArgumentParser(description="train a small decoder-only LM on synthetic stories")
    for k, v in DEFAULTS.items():
        p.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    return p.parse_args(argv)
