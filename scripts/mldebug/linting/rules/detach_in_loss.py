"""detach-in-loss: .detach()/.data on the prediction inside a loss function, or on everything a module's
forward returns: no gradient reaches the model through it."""
import ast

from .. import rule
from ..base import params, text
from ..losses import calls_submodule, depends_on, returned_paths


@rule("detach-in-loss")
def check(a):
    for fn, kind, paths in returned_paths(a):
        ps = params(fn)
        for vp in paths:
            for node, op, additive in vp.hits:
                if op in ("detach", "data") and kind == "loss" and additive and ps:
                    inner = node.func.value if isinstance(node, ast.Call) else node.value
                    if depends_on(inner, ps[0], vp.scope):
                        yield node, (f"{text(node)} detaches the prediction ({ps[0]}) inside the loss, so "
                                     "this term sends no gradient back to the model")
            cut = [n for n, op, _ in vp.hits if op in ("detach", "data") and calls_submodule(n)]
            if kind == "forward" and not vp.live and cut:
                node = cut[0]
                yield node, (f"everything {fn.name}() returns passes through {text(node)}, so no gradient "
                             "reaches this module's parameters or inputs")
