"""What the training-loop rules share: optimizer steps, backward, zeroing, train/eval mode,
losses computed in a loop, and learning-rate schedulers (which ones count in epochs)."""
from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Set, Tuple

from .analysis import Analysis
from .base import (LOSS_FUNCS, OPTIMIZER_CLASSES, SCHEDULER_HINT, attr_name, method_call, num_const, ordered,
                   params, pos, text, walk_scope)

# schedulers whose constructor arguments are usually counted in epochs (see per-epoch-scheduler-in-batch-loop)
EPOCH_SCHEDULERS = {"StepLR": ("step_size", 1), "MultiStepLR": ("milestones", 1),
                    "ExponentialLR": ("gamma", 1), "CosineAnnealingLR": ("T_max", 1)}
# A count this small in StepLR/MultiStepLR/CosineAnnealingLR reads as epochs; stepped per batch it
# decays within a few hundred batches. Real per-step schedules count thousands of steps.
MAX_EPOCH_COUNT = 1000
# ExponentialLR stepped per batch with gamma <= this divides the LR by 1e4 within ~920 batches.
MAX_PER_EPOCH_GAMMA = 0.99


def step_receiver(a: Analysis, call: ast.AST) -> Optional[str]:
    """Text of the optimizer a `.step()` call steps, or None when it is not an optimizer step."""
    if not method_call(call, {"step"}):
        return None
    recv = call.func.value
    if attr_name(recv) in ("scaler", "grad_scaler") or a.f.bound_class(recv) == "GradScaler":
        return text(call.args[0]) if call.args else None  # scaler.step(optimizer)
    if call.args or call.keywords:  # optimizer.step(closure): the closure zeroes the gradients
        return None
    cls = a.f.bound_class(recv)
    if cls in OPTIMIZER_CLASSES:
        return text(recv)
    if cls and (SCHEDULER_HINT.search(cls) or "sched" in cls.lower()):
        return None
    low = (attr_name(recv) or "").lower()
    if "sched" in low or "lr" == low[-2:]:
        return None
    return text(recv) if re.search(r"opt", low) else None


def is_backward(n: ast.AST) -> bool:
    return method_call(n, {"backward", "manual_backward"})


def is_zero(n: ast.AST) -> bool:
    if method_call(n, {"zero_grad"}):
        return True
    if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "grad" for t in n.targets):
        return True  # p.grad = None
    if method_call(n, {"zero_", "detach_"}) and ".grad" in text(n.func.value):
        return True
    if isinstance(n, ast.Attribute) and n.attr == "zero_grad":  # passed along as a callback
        return True
    return False


def is_no_grad_ctx(e: ast.AST) -> bool:
    if isinstance(e, ast.Call):
        e = e.func
    return attr_name(e) in ("no_grad", "inference_mode")


def is_eval_call(n: ast.AST) -> bool:
    if method_call(n, {"eval"}) and not n.args:
        return True
    if method_call(n, {"train"}) and n.args and isinstance(n.args[0], ast.Constant) and \
            n.args[0].value is False:
        return True
    if method_call(n, {"train"}) and any(k.arg == "mode" and isinstance(k.value, ast.Constant) and
                                        k.value.value is False for k in n.keywords):
        return True
    if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "training"
                                         for t in n.targets):
        return True  # layer.training = False (makemore style)
    return False


def computes_loss(a: Analysis, node: ast.AST) -> bool:
    from .losses import loss_calls
    losses = a.memo("loss_call_ids", lambda: {id(c) for c, _ in loss_calls(a)})
    for n in walk_scope(node):
        if isinstance(n, ast.Call):
            name = (attr_name(n.func) or "").lower()
            if "loss" in name or "criterion" in name or name in LOSS_FUNCS or id(n) in losses or \
                    name in ("argmax", "accuracy"):
                return True
    return False


def is_optimizer_ctor(c: ast.AST) -> bool:
    return isinstance(c, ast.Call) and (attr_name(c.func) in OPTIMIZER_CLASSES or
                                        (attr_name(c.func) or "").lower().endswith("optimizer"))


def optimized_models(a: Analysis) -> Set[str]:
    """Texts T such that T.parameters() feeds an optimizer built in this file."""
    out: Set[str] = set()
    for c in a.f.calls:
        if is_optimizer_ctor(c):
            for n in ast.walk(c):
                if method_call(n, {"parameters", "named_parameters"}):
                    out.add(text(n.func.value))
    return out


def mode_events(a: Analysis, node: ast.AST, mapping: Dict[str, str], depth: int, stack) -> List[tuple]:
    """Ordered (kind, receiver, report_node) for mode changes, backward and step under node,
    inlining same-file helpers (receivers renamed from parameters to the caller's arguments)."""
    out = []
    for n in ordered(x for x in walk_scope(node) if isinstance(x, (ast.Call, ast.Assign))):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("eval", "train"):
            recv = text(n.func.value)
            recv = mapping.get(recv, recv)
            out.append(("eval" if is_eval_call(n) else "train", recv, n))
        elif is_backward(n):
            out.append(("backward", "", n))
        elif isinstance(n, ast.Call) and depth < 3:
            for d in a.helper_defs(n):
                if d in stack:
                    continue
                sub = {p: mapping.get(text(x), text(x)) for p, x in zip(params(d), n.args)}
                out.extend(mode_events(a, d, sub, depth + 1, stack | {d}))
    return out


# ---------------------------------------------------------------- schedulers

def epoch_sized(cls: str, e: Optional[ast.AST]) -> bool:
    """The scheduler's size argument reads as a count of epochs (see MAX_EPOCH_COUNT)."""
    if e is None:
        return False
    if cls == "ExponentialLR":
        g = num_const(e)
        return g is not None and g <= MAX_PER_EPOCH_GAMMA
    names = [(attr_name(n) or "").lower() for n in ast.walk(e) if isinstance(n, (ast.Name, ast.Attribute))]
    if any(re.search(r"len|step|iter|batch|total|update|sample", n) for n in names):
        return False
    if any("epoch" in n for n in names):
        return True
    consts = [num_const(n) for n in ast.walk(e) if isinstance(n, ast.Constant)]
    if names or not consts or any(c is None for c in consts):
        return False
    return max(consts) <= MAX_EPOCH_COUNT


def one_step_helper(a: Analysis, call: ast.AST) -> bool:
    """A call to a same-file function that does one training step (backward or step, not in a loop)."""
    if not isinstance(call, ast.Call):
        return False
    for d in a.helper_defs(call):
        for n in walk_scope(d):
            if (is_backward(n) or step_receiver(a, n) is not None) and not a.loops_of(n, d):
                return True
    return False


def is_batch_loop(a: Analysis, loop: ast.AST, scope: ast.AST) -> bool:
    """The loop does the training step itself (optimizer step, backward, or a one-step helper at its own
    level), so it runs once per batch; an epoch loop that calls a whole-epoch helper is not one."""
    return any((step_receiver(a, n) is not None or is_backward(n) or one_step_helper(a, n)) and
               a.loops_of(n, scope)[:1] == [loop] for n in walk_scope(loop))


def scheduler_ctor(a: Analysis, recv: ast.AST, before: ast.AST) -> Tuple[Optional[ast.Call], Optional[str]]:
    """(constructor call, class name) of the scheduler `recv` names at `before`: the latest assignment in
    the same function wins over bindings elsewhere in the file."""
    scope = a.f.scope_of(before)
    local = [n for n in walk_scope(scope) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
             and any(text(t) == text(recv) for t in n.targets) and pos(n) < pos(before)]
    if local:
        ctor = max(local, key=pos).value
        return ctor, attr_name(ctor.func)
    return a.f.ctor.get(text(recv)), a.f.bound_class(recv)


def optimizer_steps(a: Analysis) -> List[Tuple[ast.Call, str, ast.AST, Optional[ast.AST]]]:
    """(step call, optimizer text, scope, training loop) for each optimizer step in the file. The loop is
    the innermost one around the step that runs backward() (directly or in a same-file helper), or None;
    it is also None when the loop builds a fresh optimizer each pass (nothing carries over)."""
    def compute():
        out = []
        for call in a.f.calls:
            recv = step_receiver(a, call)
            if recv is None:
                continue
            scope = a.f.scope_of(call)
            loop = next((lp for lp in a.loops_of(call, scope) if a.contains(lp, is_backward)), None)
            if loop is not None and any(isinstance(n, ast.Assign) and any(text(t) == recv for t in n.targets)
                                        for n in walk_scope(loop)):
                loop = None
            out.append((call, recv, scope, loop))
        return out
    return a.memo("optimizer_steps", compute)
