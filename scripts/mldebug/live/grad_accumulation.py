"""grad-accumulation: gradients carried from one optimizer step into the next, or zeroed before the step.

refs/diagnostics.md#grad-accumulation explains it."""
from __future__ import annotations

from ..registry import Result, Skip, live_check


@live_check("grad-accumulation", "gradients carried over or zeroed between steps", order=110)
def check(tracer) -> Result:
    recs = tracer.records
    n = len(recs)
    if not tracer.probes and not any(r.held_no_grad for r in recs):
        raise Skip("no parameter held by the optimizer had a gradient at the first step")
    bws = [r.backwards for r in recs]
    carried = [r.step for r in recs if r.carried]
    zeroed = [r.step for r in recs if r.zeroed]
    discarded = [r.step for r in recs if r.discarded]
    no_grad = [r.step for r in recs if r.held_no_grad]
    ph = tracer.struct.where_phase
    counts = sorted(set(bws))
    metrics = {"steps": n, "backward_per_step": counts if len(counts) > 1 else (counts[0] if counts else 0),
               "carried_steps": len(carried), "zeroed_steps": len(zeroed), "discarded_steps": len(discarded),
               "no_grad_steps": len(no_grad)}
    if carried:
        return Result("fail",
                      f"gradients carried over into {len(carried)} of {n} optimizer steps (first at step "
                      f"{carried[0]}{ph(carried[0])}): the gradients a step used were still there when the next backward added to "
                      "them, so each step applies the sum of every gradient so far. Call optimizer.zero_grad() "
                      "once per optimizer step", metrics, [f"carried at steps {carried[:20]}"])
    if zeroed:
        return Result("fail",
                      f"the optimizer stepped with zeroed gradients at {len(zeroed)} of {n} steps (first at step "
                      f"{zeroed[0]}{ph(zeroed[0])}): backward() wrote gradients that were zeroed before step(), so "
                      "zero_grad() runs between backward() and step(); move it before backward()", metrics)
    if no_grad:
        nh = tracer.struct.not_held
        why = ("; the parameters that do get gradients are in no optimizer (see param-coverage)" if nh else
               "; no parameter it holds is in the loss's graph with requires_grad=True")
        return Result("warn",
                      f"the optimizer stepped {len(no_grad)} of {n} times (first at step {no_grad[0]}"
                      f"{ph(no_grad[0])}) while none of the parameters it holds had a gradient, so those steps "
                      f"updated nothing. These gradients were never made, not zeroed: its parameters are frozen "
                      f"(requires_grad=False) or outside the loss{why}", metrics)
    if discarded:
        return Result("warn",
                      f"gradients of a backward pass were zeroed before any step used them at {len(discarded)} of "
                      f"{n} steps (first at step {discarded[0]}{ph(discarded[0])}): with gradient accumulation, zero_grad() belongs "
                      "after optimizer.step(), not before each micro-batch", metrics)
    k = max(bws) if bws else 0
    if tracer.other_optimizers:
        text = (f"{counts} backward pass(es) between steps of this optimizer ({len(tracer.other_optimizers)} other "
                "optimizer(s) step too); no gradient reached a step it was not meant for")
    elif k > 1 and len(set(bws[1:] or bws)) == 1:
        text = (f"{k} backward passes per optimizer step with gradients zeroed after each step: a consistent "
                "accumulate-then-step pattern (scale each micro-batch loss by 1/k)")
    elif k > 1:
        text = f"{counts} backward passes per step, gradients zeroed after each step"
    else:
        text = f"one backward pass per step over {n} steps, gradients zeroed between steps"
    return Result("pass", text, metrics)
