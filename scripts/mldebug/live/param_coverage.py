"""param-coverage: parameters that get gradients but no optimizer holds, and trainable ones that never change.

Judged at every step of the run, so a head replaced or a layer unfrozen in a later phase counts
from the step where it first got a gradient (phases.py records them with the step, the phase,
and the line of code that made them). refs/diagnostics.md#param-coverage explains it."""
from __future__ import annotations

from ..registry import Result, Skip, live_check


def _names(xs):
    return ", ".join(xs[:5]) + (f" and {len(xs) - 5} more" if len(xs) > 5 else "")


def _held(tracer) -> set:
    """Every parameter some optimizer of the run held: the first followed one at step 1, the one
    followed now, the other optimizers that stepped, and those still alive."""
    cap = tracer.capture
    held = set(cap["held"]) | tracer.other_opt_params | tracer.struct.held_ids()
    opt = cap.get("optimizer")
    if opt is not None:
        held.update(id(p) for g in opt.param_groups for p in g["params"])
    return held


def _not_held_text(tracer, nh) -> str:
    st = tracer.struct
    first = min(nh, key=lambda x: x.step)
    k = sum(x.numel for x in nh)
    when = f" from step {first.step}{st.where_phase(first.step)}" if first.step > 1 else ""
    text = (f"{len(nh)} parameter tensor(s) get gradients but no optimizer holds them{when}: "
            f"{_names([x.name for x in nh])} ({k:,} values)")
    made = sorted({x.created for x in nh if x.created})
    after = sorted({x.after_optimizer for x in nh if x.after_optimizer})
    if made:
        text += f"; made by {', '.join(made[:2])}"
        if after:
            text += f", after the optimizer was built by {after[0]}"
    text += (". They never train: build the optimizer after the model is final, or rebuild it (or "
             "add_param_group) after replacing or unfreezing layers")
    return text


@live_check("param-coverage", "parameters no optimizer updates", order=130)
def check(tracer) -> Result:
    if tracer.capture is None or tracer.capture.get("model") is None:
        raise Skip("no nn.Module holding the optimizer's parameters ran a forward before the first step")
    cap = tracer.capture
    st = tracer.struct
    held = _held(tracer)
    nh = list(st.not_held.values())
    if not nh and not st.phases:  # the phase recorder did not run (no step after capture): step 1's view
        from ..phases import NotHeld
        nh = [NotHeld(nm, tuple(p.shape), p.numel(), 1, 1) for nm, p in cap["graded"] if id(p) not in held]
    final = tracer.final or {"unchanged": [], "changed": []}
    n = len(tracer.records)
    model = cap["model"]
    trainable = [(nm, p) for nm, p in model.named_parameters() if p.requires_grad and id(p) in held]
    unchanged = [(nm, p) for nm, p in final["unchanged"] if p.requires_grad and id(p) in held]
    got_grad = [nm for nm, p in unchanged if id(p) in tracer.ever_grad]
    no_grad = [nm for nm, p in unchanged if id(p) not in tracer.ever_grad]
    metrics = {"steps": n, "trainable_tensors": len(trainable), "not_in_optimizer": len(nh),
               "unchanged_with_grad": len(got_grad), "unchanged_no_grad": len(no_grad), "phases": len(st.phases)}
    if nh:
        metrics["first_not_held_step"] = min(x.step for x in nh)
        return Result("fail", _not_held_text(tracer, nh), metrics,
                      [f"not in any optimizer: {x.name} {x.shape} from step {x.step} (phase {x.phase})"
                       + (f", made by {x.created}" if x.created else "") for x in nh])
    if got_grad and n >= 2:
        return Result("fail",
                      f"{len(got_grad)} parameter tensor(s) held by the optimizer got gradients but did not change "
                      f"over {n} steps: {_names(got_grad)} (LR 0 for their group, or they are reloaded every step)",
                      metrics)
    if no_grad and n >= 2 and any(r.zeroed for r in tracer.records):
        return Result("fail",
                      f"{len(no_grad)} trainable parameter tensor(s) never changed over {n} steps: the optimizer only "
                      "saw zeroed gradients (see grad-accumulation)", metrics)
    if no_grad and n >= 2:
        return Result("warn",
                      f"{len(no_grad)} trainable parameter tensor(s) never received a gradient and never changed "
                      f"over {n} steps: {_names(no_grad)}. Unused in the forward, or cut from the loss (detach); "
                      "fine for layers you defined but don't use", metrics)
    phases = ""
    if len(st.phases) > 1:
        phases = "; " + "; ".join(ph.label() for ph in st.phases[1:3])
    return Result("pass", f"all {len(trainable)} trainable tensors of {type(model).__name__} are held by the "
                          f"optimizer" + (f" and changed over {n} steps" if n >= 2 else "") + phases, metrics)
