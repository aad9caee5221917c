"""zero-grad-in-accumulation-loop: zero_grad() inside an inner loop that calls backward(), while the
optimizer steps once after that loop: only the last micro-batch reaches the step."""
import ast

from .. import rule
from ..base import method_call, text, walk_scope
from ..training import is_backward, optimizer_steps


@rule("zero-grad-in-accumulation-loop")
def check(a):
    for step, recv, scope, _loop in optimizer_steps(a):
        step_loops = set(map(id, a.loops_of(step, scope)))
        for z in walk_scope(scope):
            if not (method_call(z, {"zero_grad"}) and text(z.func.value) == recv):
                continue
            for inner in a.loops_of(z, scope):
                if id(inner) in step_loops:
                    break  # reached a loop that also holds the step
                outer = a.loops_of(inner, scope)
                if not any(id(o) in step_loops for o in outer):
                    continue
                if any(is_backward(n) for n in walk_scope(inner)) and not any(
                        isinstance(n, ast.Attribute) and n.attr == "grad" and isinstance(n.ctx, ast.Load)
                        for n in walk_scope(inner)):
                    yield z, (f"{text(z)} runs on every pass of the loop that calls backward(), but "
                              f"{text(step)} runs once after that loop: each pass wipes the gradients of the "
                              "previous ones, so only the last micro-batch reaches the step; zero once per step")
                    break
