"""overfit-batch: can the model memorise a handful of examples with regularisation off?

Karpathy's "overfit one batch" and Sanh's "overfit 16 examples": a model and data
pipeline without bugs drive a tiny batch's loss to ~zero. We train a deep copy on the
first k examples, dropout and weight decay off, with the user's own optimizer kind and
LR. If that fails we retry with Adam (1e-3, then 3e-4) so the report can tell a model or
data bug (even Adam can't) from an optimizer-settings problem (Adam can, yours can't).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional

import torch

from .. import tensors as T
from ..context import disable_dropout
from ..registry import Option, Plot, Result, check
from ..training import GraphCut, Run, describe_optimizer, train, zero_weight_decay

DEFAULT_STEPS = 300       # step cap per attempt; a healthy small model memorises 8 examples well within it
DEFAULT_EXAMPLES = 8      # Sanh overfits 16, Karpathy "as few as two"; 8 keeps linear-ish models able to fit
SUCCESS_FRACTION = 0.1    # success: loss within 10% of its start, above the loss floor (refs/diagnostics.md#overfit-batch)
STUCK_PROGRESS = 0.1      # an attempt that closed < 10% of the gap made no real progress
ACC_PROGRESS = 0.5        # with 100% training accuracy, half the gap closed already counts as memorised,
ACC_CONFIRM = 0.5         # ... once the loss has since fallen to half of where full accuracy began: margins
                          # still grow (ours: bounded logits, tanh or an unscaled cosine head, plateau instead)
CAPACITY_PROGRESS = 0.5   # Adam closing >= 50% of the gap: the model learns, it's just slow or small
PATIENCE = 50             # stop an attempt whose loss has not improved by 0.1% for 50 steps
RETRY_LRS = (1e-3, 3e-4)  # Adam retries (evidence/karpathy-recipe-2019.md: "adam is safe", 3e-4)


def _call_floor(call) -> Optional[torch.Tensor]:
    """The lowest value this loss call can reach (same reduction as the call): > 0 with label
    smoothing or soft targets; None when it is 0 or unknown."""
    x, y = call.input, call.target
    eps = 1e-12
    try:
        if call.kind == "cross_entropy":
            ls = float(call.args.get("label_smoothing") or 0.0)
            if y.is_floating_point():
                q = y
            elif ls > 0:
                c = x.shape[1] if x.dim() >= 2 else x.shape[0]
                valid = y != call.args.get("ignore_index", -100)
                onehot = torch.nn.functional.one_hot(torch.where(valid, y, 0).long(), c).to(x.dtype)
                q = (1 - ls) * onehot + ls / c
                q = q.movedim(-1, 1) if x.dim() >= 2 else q
            else:
                return None
            return call.recompute(input=torch.log(q.clamp_min(eps))).detach()
        if call.kind == "binary_cross_entropy_with_logits" and y.is_floating_point():
            q = y.clamp(1e-6, 1 - 1e-6)
            return call.recompute(input=torch.log(q / (1 - q))).detach()
    except Exception:
        return None
    return None


def _floor(call, user_loss: float) -> float:
    """The lowest value the user's loss can reach, from its first loss call. When the call is the
    whole loss, its own floor. When it is unreduced (reduction="none", reduced by the user's code,
    as in a VAE's per-pixel BCE summed per example), the user's loss at the start times the share
    of the call's value that is irreducible: exact for sums and means of the call's elements, an
    estimate when other terms (a KL) add to it. Otherwise 0."""
    if call is None or call.output is None:
        return 0.0
    out = call.output.detach().float()
    if out.numel() == 1 and abs(float(out) - user_loss) > 1e-5 * max(1.0, abs(user_loss)):
        return 0.0  # the user's loss is not just this one call: assume a floor of 0
    fl = _call_floor(call)
    if fl is None:
        return 0.0
    if out.numel() == 1:
        return max(0.0, float(fl))
    total = float(out.sum())
    if not (total > 0 and user_loss > 0 and float(out.min()) >= 0):
        return 0.0
    return max(0.0, min(0.99 * user_loss, user_loss * float(fl.float().sum()) / total))


def _accuracy(trace) -> Optional[float]:
    """Training accuracy from the first classification loss call, or None."""
    if trace is None:
        return None
    for call in trace.calls:
        x, y = call.input, call.target
        if call.kind in ("cross_entropy", "nll_loss") and not y.is_floating_point() and x.dim() >= 1:
            pred = x.argmax(1 if x.dim() >= 2 else 0)
            valid = y != call.args.get("ignore_index", -100)
            if valid.any() and pred.shape == y.shape:
                return float((pred[valid] == y[valid]).float().mean())
        if call.kind == "binary_cross_entropy_with_logits" and x.shape == y.shape:
            return float(((x > 0) == (y > 0.5)).float().mean())
        if call.kind == "binary_cross_entropy" and x.shape == y.shape:
            return float(((x > 0.5) == (y > 0.5)).float().mean())
    return None


def _progress(run: Run, floor: float) -> float:
    """Fraction of the gap from the start loss to the floor that the best loss closed."""
    gap = run.start - floor
    if not math.isfinite(run.best) or not math.isfinite(gap) or gap <= 0:
        return 0.0
    return max(0.0, min(1.0, (run.start - run.best) / gap))


@check("overfit-batch", "memorise a tiny batch with regularisation off", order=80, expensive=True,
       options=[Option("--overfit-steps", int, DEFAULT_STEPS, "step cap for each overfit attempt"),
                Option("--overfit-examples", int, DEFAULT_EXAMPLES, "how many examples to memorise")])
def overfit_batch(ctx) -> Result:
    cap = max(1, int(ctx.option("overfit_steps", DEFAULT_STEPS)))
    k = max(2, min(int(ctx.option("overfit_examples", DEFAULT_EXAMPLES)), ctx.batch_size))
    inputs, targets = T.take(ctx.inputs, slice(0, k)), T.take(ctx.targets, slice(0, k))
    state: Dict[str, Any] = {}

    def attempt(make_opt, label: str) -> Run:
        model = ctx.fresh_model()
        model.train()
        disable_dropout(model)
        opt = make_opt(list(model.parameters()))
        had_wd = zero_weight_decay(opt)
        state.setdefault("wd_turned_off", had_wd)
        state.setdefault("user_opt", describe_optimizer(opt))
        if "held" not in state:
            held = {id(p) for g in opt.param_groups for p in g["params"]}
            total = sum(p.numel() for p in model.parameters() if p.requires_grad)
            state["held"] = sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) in held) / max(1, total)

        def done(step, loss, trace):
            if step == 0:
                call = trace.calls[0] if trace is not None and trace.calls else None
                state["floor"] = _floor(call, loss)
                # the loss is exactly one classification call: its floor is known, so a plateau at
                # full accuracy is the outputs' doing (a distillation or multi-term loss has its own)
                state["one_call"] = (call is not None and len(trace.calls) == 1 and call.output is not None
                                     and call.kind in ("cross_entropy", "nll_loss",
                                                       "binary_cross_entropy_with_logits")
                                     and call.output.numel() == 1
                                     and abs(float(call.output.detach()) - loss) <= 1e-5 * max(1.0, abs(loss)))
                state["start"] = loss
                state.setdefault("flipped", loss < 0 and bool(trace.calls) and
                                 all(float(c.output.detach().min()) >= 0 for c in trace.calls if c.output is not None))
            acc = _accuracy(trace)
            gap = state["start"] - state["floor"]
            closed = (state["start"] - loss) / gap if gap > 0 else 0.0
            if acc is not None:
                state["acc"] = acc
            if step > 0 and acc == 1.0 and closed >= ACC_PROGRESS and label not in state.get("full_at", {}):
                state.setdefault("full_at", {})[label] = (step, loss)
            full = state.get("full_at", {}).get(label)
            # near zero; or every example right, more than half the way there, and the loss still
            # falling well below where full accuracy began (an early stop: the rest is confidence)
            return step > 0 and (closed >= 1 - SUCCESS_FRACTION or
                                 (full is not None and acc == 1.0 and
                                  (not state.get("one_call") or  # a multi-term loss: its floor is unknown
                                   (step > full[0] and
                                    loss - state["floor"] <= ACC_CONFIRM * (full[1] - state["floor"])))))

        return train(ctx, model, opt, inputs, targets, cap, done=done, trace=True, patience=PATIENCE)

    try:
        runs = {"yours": attempt(ctx.make_optimizer, "yours")}
    except GraphCut as e:
        return Result("fail", f"can't train at all: {e}", {"examples": k})
    floor = state.get("floor", 0.0)
    user = runs["yours"]
    if state.get("flipped"):
        return Result("fail", "the loss is negative while the loss terms inside it are not: a flipped sign "
                              "makes training maximise the real loss", {"examples": k, "start_loss": user.start})
    metrics: Dict[str, Any] = {
        "examples": k, "step_cap": cap, "optimizer": state.get("user_opt"),
        "weight_decay_turned_off": bool(state.get("wd_turned_off")),
        "start_loss": user.start, "end_loss": user.end, "best_loss": user.best,
        "loss_floor": floor, "steps": user.steps, "stopped": user.stopped,
        "progress": _progress(user, floor),
    }
    plots = []

    def finish(status: str, summary: str) -> Result:
        plots.append(Plot("overfit-batch", f"overfit {k} examples", "step", "loss",
                          {name: r.losses for name, r in runs.items()}, logy=all(
                              x > 0 for r in runs.values() for x in r.losses if math.isfinite(x))))
        metrics["curves"] = {name: r.losses for name, r in runs.items()}
        return Result(status, summary, metrics, plots=plots)

    if user.stopped == "success":
        acc = f", {100 * state['acc']:.0f}% right" if "acc" in state else ""
        return finish("pass", f"memorised {k} examples with {metrics['optimizer']}: loss {user.start:.4g} -> "
                              f"{user.end:.4g} in {user.steps} steps{acc}")
    full = state.get("full_at", {}).get("yours")

    def stalled(r: Run, label: str) -> bool:
        """Every example right, yet over the PATIENCE+ steps since, the loss did not even halve
        its distance to the floor."""
        f = state.get("full_at", {}).get(label)
        return bool(f is not None and state.get("one_call") and r.stopped in ("cap", "stuck")
                    and r.steps - f[0] >= PATIENCE and r.best - floor > ACC_CONFIRM * (f[1] - floor)
                    and r.best - floor > SUCCESS_FRACTION * (r.start - floor))

    bounded = stalled(user, "yours")
    if full is not None and user.stopped == "cap" and not bounded:
        return finish("pass", f"memorised {k} examples with {metrics['optimizer']}: every example right from step "
                              f"{full[0]}, loss {user.start:.4g} -> {user.end:.4g} and still falling at the "
                              f"{cap}-step cap")
    if user.stopped == "budget":
        return finish("warn", f"stopped by the {ctx.budget:g}s time budget after {user.steps} steps with "
                              f"{metrics['optimizer']}: loss {user.start:.4g} -> {user.best:.4g} (best, "
                              f"{100 * _progress(user, floor):.0f}% of the way to zero); raise --budget to finish")
    adam_ok = None
    for lr in RETRY_LRS:
        if ctx.over_budget():
            break
        name = f"adam_{lr:g}"
        runs[name] = attempt(lambda p, lr=lr: torch.optim.Adam(p, lr=lr), name)
        if runs[name].stopped == "success":
            adam_ok = (lr, runs[name])
            break
    user_prog = metrics["progress"]
    how = {"nonfinite": "went non-finite", "diverged": "diverged", "stuck": "stopped improving",
           "cap": "hit the step cap", "budget": "ran out of time"}[user.stopped]
    partial = state.get("held", 1.0) < 0.999
    yours = ((f"your optimizer holds only {100 * state['held']:.0f}% of the trainable weights; " if partial else "") +
             f"with your optimizer ({metrics['optimizer']}) the loss went {user.start:.4g} -> {user.best:.4g} "
             f"(best) and {how} after {user.steps} steps")
    also = [n for n, r in runs.items() if n != "yours" and stalled(r, n)]
    if bounded and adam_ok is None and also:
        # the same stall under Adam too (none of the retries memorised): the outputs, not the
        # optimizer, stop the loss
        metrics["full_accuracy_step"] = full[0]
        return finish("fail", f"every one of {k} examples is classified right from step {full[0]} (loss "
                              f"{full[1]:.4g}), yet in the {user.steps - full[0]} steps since the loss only reached "
                              f"{user.best:.4g}, not half-way to its floor {floor:.3g}, and Adam "
                              f"{', '.join(n.replace('adam_', 'lr=') for n in also)} stalls the same way: the outputs cannot "
                              "grow, so the loss can't approach its floor (logits bounded by a tanh, clamp, sigmoid "
                              "or an unscaled normalisation before the loss)")
    if adam_ok is not None and bounded:
        lr, r = adam_ok
        metrics["adam_lr"], metrics["adam_steps"], metrics["adam_end_loss"] = lr, r.steps, r.end
        return finish("warn", f"with your optimizer ({metrics['optimizer']}) every one of {k} examples is right from "
                              f"step {full[0]} but the loss stalls at {user.best:.4g}; Adam lr={lr:g} memorises them "
                              f"in {r.steps} steps: your optimizer settings (LR, momentum) stall it (see update-ratio)")
    if adam_ok is not None:
        lr, r = adam_ok
        metrics["adam_lr"], metrics["adam_steps"], metrics["adam_end_loss"] = lr, r.steps, r.end
        if user.stopped in ("nonfinite", "diverged") or user_prog < STUCK_PROGRESS:
            return finish("fail", f"can't memorise {k} examples: {yours}; Adam lr={lr:g} memorises them in "
                                  f"{r.steps} steps, so the optimizer settings (LR, momentum) are the problem")
        why = "the weights your optimizer leaves out" if partial else "LR likely too low"
        return finish("warn", f"slow to memorise {k} examples: {yours}; Adam lr={lr:g} over all weights does it "
                              f"in {r.steps} steps ({why})")
    best_adam = max((_progress(r, floor) for n, r in runs.items() if n != "yours"), default=0.0)
    metrics["adam_progress"] = best_adam
    if ctx.over_budget() or any(r.stopped == "budget" for r in runs.values()):
        return finish("warn", f"{yours}; the {ctx.budget:g}s time budget ran out before the Adam retries could "
                              "tell a model bug from optimizer settings; raise --budget")
    if max(best_adam, user_prog) >= CAPACITY_PROGRESS:
        return finish("warn", f"loss fell but did not reach near zero on {k} examples within {cap} steps "
                              f"(best {100 * max(best_adam, user_prog):.0f}% of the way): a small model, or raise "
                              "--overfit-steps")
    return finish("fail", f"can't memorise {k} examples even with Adam (best {100 * best_adam:.0f}% of the way "
                          f"to zero in {cap} steps): a model or data bug (outputs ignoring inputs, misaligned "
                          "targets, a cut-off layer, a wrong loss)")
