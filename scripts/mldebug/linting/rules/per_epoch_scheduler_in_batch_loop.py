"""per-epoch-scheduler-in-batch-loop: an epoch-sized LR scheduler (StepLR, MultiStepLR, ExponentialLR,
CosineAnnealingLR) built in this file and stepped in the batch loop nested in the epoch loop."""
import ast

from .. import rule
from ..base import arg, method_call, text
from ..training import EPOCH_SCHEDULERS, epoch_sized, is_batch_loop, scheduler_ctor


@rule("per-epoch-scheduler-in-batch-loop")
def check(a):
    for call in a.f.calls:
        if not method_call(call, {"step"}) or call.args:
            continue
        recv = call.func.value
        scope = a.f.scope_of(call)
        ctor, cls = scheduler_ctor(a, recv, call)
        if cls not in EPOCH_SCHEDULERS or ctor is None:
            continue
        loops = a.loops_of(call, scope)
        if len(loops) < 2:
            continue
        inner = loops[0]
        if not is_batch_loop(a, inner, scope):
            continue  # the inner loop must be the batch loop itself, not an epoch loop calling a helper
        if any(isinstance(x, ast.If) for x in a.f.ancestors(call, inner)):
            continue  # stepped only on some batches (e.g. at epoch boundaries)
        argname, idx = EPOCH_SCHEDULERS[cls]
        size = arg(ctor, argname, idx)
        if epoch_sized(cls, size):
            yield call, (f"{text(recv)} is a {cls}({argname}={text(size)}), sized in epochs, but .step() runs "
                         "every batch, so the LR decays len(loader) times too fast: step it once per epoch "
                         "(after the batch loop), or size it in steps")
