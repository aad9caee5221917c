"""eval-without-train: a training loop whose model is put in eval mode (for validation) and never back
into train mode before the next backward(), so from the second pass on it trains in eval mode."""
from typing import Set

from .. import rule
from ..base import LOOPS, text
from ..training import is_eval_call, mode_events, optimized_models


@rule("eval-without-train")
def check(a):
    models = optimized_models(a)
    if not models or not any(is_eval_call(n) for n in a.f.nodes):
        return
    done: Set[int] = set()
    for loop in a.f.nodes:
        if not isinstance(loop, LOOPS):
            continue
        events = mode_events(a, loop, {}, 0, frozenset())
        backs = [i for i, e in enumerate(events) if e[0] == "backward"]
        if not backs:
            continue
        for m in models:
            mine = [(i, e) for i, e in enumerate(events) if e[0] in ("eval", "train") and e[1] == m]
            if not any(e[0] == "eval" for _, e in mine):
                continue
            before = [x for x in mine if x[0] < backs[0]]
            prev = (before or mine)[-1][1]  # cyclic: wrap to the end of the loop body
            if prev[0] == "eval" and prev[2].lineno not in done:
                done.add(prev[2].lineno)
                yield prev[2], (f"{text(prev[2])} runs inside the training loop at line {loop.lineno} and "
                                f"nothing calls {m}.train() "
                                "before the next backward(), so from the second pass on the model trains in eval "
                                "mode (no dropout, frozen BatchNorm statistics): call "
                                f"{m}.train() at the top of each epoch")
