"""graph-break-in-loss: .item()/.tolist()/.numpy() on an additive term of the value a loss function or a
module's forward returns: that term becomes a plain number and sends no gradient back."""
from .. import rule
from ..base import GRAPH_BREAK_CALLS
from ..losses import returned_paths


@rule("graph-break-in-loss")
def check(a):
    for fn, _kind, paths in returned_paths(a):
        for vp in paths:
            for node, op, additive in vp.hits:
                if op in GRAPH_BREAK_CALLS and additive:
                    yield node, (f".{op}() turns a term of the value {fn.name}() returns into a plain number, "
                                 "so that term sends no gradient back: keep it a tensor")
