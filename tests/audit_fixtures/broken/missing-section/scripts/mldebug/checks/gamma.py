"""A check module as the audit sees it: read with ast, never imported."""
from ..registry import check


@check("gamma-check", "a check", order=10)
def gamma(ctx):
    raise NotImplementedError
