"""zero-grad-before-step: zero_grad() on the same optimizer between backward() and step(), reading the
loop as a cycle, and on every path that reaches the step: each step sees zero gradients."""
import ast

from .. import rule
from ..base import method_call, pos, text, walk_scope
from ..training import is_backward, is_zero, optimizer_steps


@rule("zero-grad-before-step")
def check(a):
    for call, recv, _scope, loop in optimizer_steps(a):
        if loop is None or not a.contains(loop, is_zero):
            continue  # no training loop, or step-without-zero-grad's case
        # the most recent backward / zero_grad(recv) before this step, reading the loop as a cycle
        events = []
        for n in walk_scope(loop):
            if is_backward(n) or (isinstance(n, ast.Call) and any(
                    a.contains(d, is_backward, 1) for d in a.helper_defs(n))):
                events.append((pos(n), "backward", n))  # directly, or in a same-file helper
            elif method_call(n, {"zero_grad"}) and text(n.func.value) == recv:
                events.append((pos(n), "zero", n))
        events.sort(key=lambda e: e[0])
        before = [e for e in events if e[0] < pos(call)]
        after = [e for e in events if e[0] > pos(call)]
        prev = (before or after or [None])[-1]
        if prev is None or prev[1] != "zero":
            continue
        zpath, spath = a.block_path(prev[2], loop), a.block_path(call, loop)
        if zpath == spath[:len(zpath)]:  # the zero_grad runs whenever the step does
            yield prev[2], (f"{text(prev[2])} runs after backward() and before {text(call)}, so the step sees "
                            "zero gradients and the model never learns: zero the gradients before backward()")
