"""train-mode: optimizer steps taken while the model (or a dropout/BatchNorm submodule) is in eval mode.

refs/diagnostics.md#train-mode explains it."""
from __future__ import annotations

from ..registry import Result, Skip, live_check


def _switch_to_eval(tracer, model, first_eval_step):
    """The last call that put the model (or a module holding it) in eval mode before that step."""
    hits = []
    for done, ref, mode, where in tracer.mode_changes:
        mod = ref()
        if mode or mod is None or done >= first_eval_step:
            continue
        if mod is model or any(c is model for c in mod.modules()):
            hits.append((done, where))
    return hits[-1] if hits else None


@live_check("train-mode", "optimizer steps taken in eval mode", order=100)
def check(tracer) -> Result:
    if tracer.capture is None or tracer.capture.get("model") is None:
        raise Skip("no nn.Module holding the optimizer's parameters ran a forward before the first step")
    recs = tracer.records
    model = tracer.capture["model"]
    n = len(recs)
    sens = tracer._sensitive
    kinds = sorted({type(m).__name__ for _, m in sens})
    eval_steps = [r.step for r in recs if not r.model_training]
    metrics = {"steps": n, "eval_steps": len(eval_steps), "mode_sensitive_modules": len(sens)}
    if eval_steps:
        first = eval_steps[0]
        sw = _switch_to_eval(tracer, model, first)
        how = (f"; model.eval() was called after step {sw[0]} by {sw[1]}" if sw and sw[0] > 0 else
               f"; it was put in eval mode by {sw[1]} before the first step" if sw else "")
        back = "" if eval_steps == list(range(first, n + 1)) else " (train mode came back at some steps)"
        metrics["first_eval_step"] = first
        if sens:
            return Result("fail",
                          f"optimizer stepped {len(eval_steps)} of {n} times with the model in eval mode, "
                          f"so {', '.join(kinds)} behave as at inference while it trains; first at step {first}"
                          f"{tracer.struct.where_phase(first)}"
                          f"{how}{back}. Call model.train() after evaluating", metrics,
                          [f"eval-mode steps: {eval_steps[:20]}{' ...' if len(eval_steps) > 20 else ''}"])
        return Result("warn",
                      f"optimizer stepped {len(eval_steps)} of {n} times with the model in eval mode (first at step "
                      f"{first}{tracer.struct.where_phase(first)}{how}); it has no dropout or BatchNorm, so this only matters if your code reads "
                      "self.training. Call model.train() after evaluating", metrics)
    partial = [r for r in recs if r.eval_sensitive]
    if partial:
        names = sorted({n for r in partial for n in r.eval_sensitive})
        mods = dict(sens)
        frozen = all(not any(p.requires_grad for p in mods[nm].parameters()) for nm in names if nm in mods)
        metrics["steps_with_eval_submodules"] = len(partial)
        text = (f"{len(names)} mode-sensitive submodule(s) ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}) "
                f"were in eval mode at {len(partial)} of {n} steps while the model was in train mode")
        if frozen:
            return Result("pass", text + ": their parameters are frozen too, as when BatchNorm is frozen on "
                                              "purpose for fine-tuning", metrics)
        return Result("warn", text + ": fine if you froze them on purpose (frozen BatchNorm), otherwise "
                                          "something called .eval() on them", metrics)
    return Result("pass", f"all {n} steps ran with the model in train mode"
                               + (f" ({len(sens)} dropout/BatchNorm modules)" if sens else ""), metrics)
