"""A check module as the audit sees it: read with ast, never imported."""
from ..registry import check

LR = 3e-4        # the source's learning rate (evidence/src.md)
CAP = 16         # 16 examples (ours: our choice), not the source's 20 (evidence/src.md)


@check("init-loss", "a check", order=10)
def alpha(ctx):
    raise NotImplementedError
