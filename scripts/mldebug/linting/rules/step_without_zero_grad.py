"""step-without-zero-grad: optimizer.step() in a loop with backward() and nothing in the loop that zeroes
the gradients, so every step uses the sum of all past gradients."""
from .. import rule
from ..base import text
from ..training import is_zero, optimizer_steps


@rule("step-without-zero-grad")
def check(a):
    for call, recv, _scope, loop in optimizer_steps(a):
        if loop is not None and not a.contains(loop, is_zero):
            yield call, (f"{text(call)} runs in a loop with backward() but nothing in the loop zeroes the "
                         "gradients, so each step uses the sum of all past gradients: call "
                         f"{recv}.zero_grad() once per step")
