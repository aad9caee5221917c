"""param-coverage: parameters that get gradients but no optimizer holds, and trainable ones that never change.

refs/diagnostics.md#param-coverage explains it."""
from __future__ import annotations

from ..registry import Result, Skip, live_check


@live_check("param-coverage", "parameters no optimizer updates", order=130)
def check(tracer) -> Result:
    if tracer.capture is None or tracer.capture.get("model") is None:
        raise Skip("no nn.Module holding the optimizer's parameters ran a forward before the first step")
    cap = tracer.capture
    held = cap["held"] | tracer.other_opt_params
    not_held = [(nm, p) for nm, p in cap["graded"] if id(p) not in held]
    final = tracer.final or {"unchanged": [], "changed": []}
    n = len(tracer.records)
    model = cap["model"]
    trainable = [(nm, p) for nm, p in model.named_parameters() if p.requires_grad and id(p) in held]
    unchanged = [(nm, p) for nm, p in final["unchanged"] if p.requires_grad and id(p) in held]
    got_grad = [nm for nm, p in unchanged if id(p) in tracer.ever_grad]
    no_grad = [nm for nm, p in unchanged if id(p) not in tracer.ever_grad]
    metrics = {"steps": n, "trainable_tensors": len(trainable), "not_in_optimizer": len(not_held),
               "unchanged_with_grad": len(got_grad), "unchanged_no_grad": len(no_grad)}

    def names(xs):
        return ", ".join(xs[:5]) + (f" and {len(xs) - 5} more" if len(xs) > 5 else "")
    if not_held:
        k = sum(p.numel() for _, p in not_held)
        return Result("fail",
                      f"{len(not_held)} parameter tensor(s) get gradients but no optimizer holds them: "
                      f"{names([nm for nm, _ in not_held])} ({k:,} values). They never train: was the optimizer "
                      "built before they were created or replaced? Build it after the model is final",
                      metrics, [f"not in any optimizer: {nm} {tuple(p.shape)}" for nm, p in not_held])
    if got_grad and n >= 2:
        return Result("fail",
                      f"{len(got_grad)} parameter tensor(s) held by the optimizer got gradients but did not change "
                      f"over {n} steps: {names(got_grad)} (LR 0 for their group, or they are reloaded every step)",
                      metrics)
    if no_grad and n >= 2 and any(r.zeroed for r in tracer.records):
        return Result("fail",
                      f"{len(no_grad)} trainable parameter tensor(s) never changed over {n} steps: the optimizer only "
                      "saw zeroed gradients (see grad-accumulation)", metrics)
    if no_grad and n >= 2:
        return Result("warn",
                      f"{len(no_grad)} trainable parameter tensor(s) never received a gradient and never changed "
                      f"over {n} steps: {names(no_grad)}. Unused in the forward, or cut from the loss (detach); "
                      "fine for layers you defined but don't use", metrics)
    return Result("pass", f"all {len(trainable)} trainable tensors of {type(model).__name__} are held by the "
                               f"optimizer" + (f" and changed over {n} steps" if n >= 2 else ""), metrics)
