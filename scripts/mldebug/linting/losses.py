"""What the loss rules share: which activation a value comes out of (softmax, sigmoid,
log_softmax), which loss a call computes, models whose output ends in an activation, and the
path from a loss's return value back to the computations it is made of."""
from __future__ import annotations

import ast
import re
from typing import List, Optional, Set, Tuple

from .analysis import Analysis, Scope
from .base import (GRAPH_BREAK_CALLS, LOSS_CLASSES, LOSS_FUNCS, arg, attr_name, method_call, num_const, params,
                   pos, text, walk_scope)
from .training import is_no_grad_ctx

# shape/dtype-only methods: a softmax output stays probabilities through them
PROB_PASSTHROUGH = {"view", "reshape", "squeeze", "unsqueeze", "float", "double", "half", "to", "contiguous",
                    "flatten", "transpose", "permute", "clamp", "clamp_min", "clamp_max", "clip", "type", "cuda",
                    "cpu", "view_as", "reshape_as"}
# tensor creation functions take sizes, not values
CREATION_FUNCS = {"zeros", "ones", "empty", "full", "arange", "randn", "rand", "randint", "eye", "linspace",
                  "logspace", "randperm", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
                  "randn_like"}
ARITH_METHODS = {"add", "sub", "add_", "sub_", "subtract"}
COEF_NAME = re.compile(r"^(lam|lambda|alpha|beta|gamma|coef|coeff|weight|w|scale|eps|temp|tau|factor|ratio)",
                       re.I)
NOT_LOSS_NAME = re.compile(r"estimate|eval|valid|(^|_)val|test|log|print|plot|report|track|record|metric|avg"
                           r"|average|history|summar|display|show", re.I)


def activation_class(cls: Optional[str]) -> Optional[str]:
    return {"Softmax": "softmax", "Softmax2d": "softmax", "Sigmoid": "sigmoid",
            "LogSoftmax": "log_softmax"}.get(cls or "")


def prob_kind(a: Analysis, e: ast.AST, depth: int = 0) -> Optional[str]:
    """'softmax' | 'sigmoid' | 'log_softmax' when `e` evaluates to that activation's output."""
    if depth > 8 or e is None:
        return None
    if isinstance(e, ast.Subscript):
        return prob_kind(a, e.value, depth + 1)
    if isinstance(e, ast.Name):
        v = a.scope(e).last(e.id, pos(e))
        return prob_kind(a, v, depth + 1) if v is not None else None
    if not isinstance(e, ast.Call):
        return None
    fn = e.func
    name = attr_name(fn)
    if isinstance(fn, ast.Call):  # nn.Softmax(dim=1)(x)
        return activation_class(attr_name(fn.func))
    if name in ("softmax", "_softmax"):
        return "softmax"
    if name in ("sigmoid", "expit"):
        return "sigmoid"
    if name == "log_softmax":
        return "log_softmax"
    if isinstance(fn, ast.Attribute) and name in PROB_PASSTHROUGH and not a.is_module_path(fn.value):
        return prob_kind(a, fn.value, depth + 1)
    if isinstance(fn, (ast.Name, ast.Attribute)):  # self.softmax(x) with self.softmax = nn.Softmax(...)
        cls = a.class_of(fn)
        if cls:
            return activation_class(cls)
    return None


def loss_kind(a: Analysis, call: ast.Call) -> Optional[str]:
    """'ce' | 'nll' | 'bcel' | 'bce' for a call that computes one of those losses."""
    fn = call.func
    if isinstance(fn, ast.Call):  # nn.CrossEntropyLoss()(x, y)
        return LOSS_CLASSES.get(attr_name(fn.func) or "")
    name = attr_name(fn)
    if name in LOSS_FUNCS and (isinstance(fn, ast.Name) or a.is_module_path(fn.value)):
        canon = a.f.canon(fn)
        if canon.startswith("torch.") or isinstance(fn, ast.Name) and canon == name:
            return LOSS_FUNCS[name]
    if isinstance(fn, (ast.Name, ast.Attribute)):
        return LOSS_CLASSES.get(a.class_of(fn) or "")
    return None


def loss_calls(a: Analysis) -> List[Tuple[ast.Call, str]]:
    """(call, loss kind) for every call in the file that computes a known loss, in file order."""
    def compute():
        out = []
        for call in a.f.calls:
            k = loss_kind(a, call)
            if k:
                out.append((call, k))
        return out
    return a.memo("loss_calls", compute)


def loss_input_hits(a: Analysis, loss: str, activation: str) -> List[ast.Call]:
    """Calls computing `loss` ('ce' | 'nll' | 'bcel') whose input is `activation`'s output."""
    out = []
    for call, k in loss_calls(a):
        if k != loss:
            continue
        x = arg(call, "input", 0)
        if x is not None and prob_kind(a, x) == activation:
            out.append(call)
    return out


class ModelEnds:
    """Models whose output ends in softmax/sigmoid, and the losses the file uses."""

    def __init__(self, a: Analysis):
        self.kinds_used: Set[str] = set()
        self.soft_targets = False
        for call, k in loss_calls(a):
            self.kinds_used.add(k)
            t = arg(call, "target", 1)
            if k == "ce" and t is not None and prob_kind(a, t) == "softmax":
                self.soft_targets = True  # distillation: a softmax model legitimately makes the targets
        for call in a.f.calls:
            cls = attr_name(call.func)
            if cls in LOSS_CLASSES:
                self.kinds_used.add(LOSS_CLASSES[cls])
        self.ends: List[Tuple[ast.AST, str, str]] = []  # (node, 'softmax' | 'sigmoid', description)
        submodules = {attr_name(n.value.func) for n in a.f.nodes if isinstance(n, ast.Assign) and
                      isinstance(n.value, ast.Call) and any(isinstance(t, ast.Attribute) for t in n.targets)}
        for call in a.f.calls:
            if attr_name(call.func) == "Sequential" and call.args:
                last = call.args[-1]
                holder = a.f.parent.get(call)
                if not isinstance(holder, ast.Return) and not (
                        isinstance(holder, ast.Assign) and all(isinstance(t, ast.Name) for t in holder.targets)):
                    continue  # self.attn = nn.Sequential(..., nn.Softmax()) is a part, not the model
                if not all(isinstance(x, ast.Call) for x in call.args):
                    continue  # nn.Sequential(model, nn.Softmax(1)): an inference wrapper around a model
                if isinstance(last, ast.Call):
                    k = activation_class(attr_name(last.func))
                    if k in ("softmax", "sigmoid"):
                        self.ends.append((last, k, "the nn.Sequential ends in " + text(last.func)))
        for fns in a.f.functions.values():
            for fn in fns:
                cls = a.f.enclosing_class(fn)
                if fn.name != "forward" or cls is None or cls.name in submodules or \
                        [x.arg for x in fn.args.args[:1]] != ["self"]:
                    continue  # a submodule (attention weights, gates) or an autograd.Function
                rets = [r for r in walk_scope(fn) if isinstance(r, ast.Return) and r.value is not None]
                kinds = []
                for r in rets:
                    v = r.value.elts[0] if isinstance(r.value, ast.Tuple) and r.value.elts else r.value
                    kinds.append(prob_kind(a, v))
                if rets and len(set(kinds)) == 1 and kinds[0] in ("softmax", "sigmoid"):
                    # every return is probabilities (`return logits if self.training else softmax` is fine)
                    self.ends.append((rets[-1], kinds[0], f"{cls.name}.forward returns {kinds[0]} output"))
        self.has_log = any(attr_name(c.func) in ("log", "log_") for c in a.f.calls)


def model_ends(a: Analysis) -> ModelEnds:
    return a.memo("model_ends", lambda: ModelEnds(a))


# ---------------------------------------------------------------- what a loss / forward returns

def loss_scopes(a: Analysis) -> List[Tuple[ast.AST, str]]:
    """(function, 'loss' | 'forward'): training losses and module forwards whose return value is followed."""
    out = []
    for fns in a.f.functions.values():
        for fn in fns:
            cls = a.f.enclosing_class(fn)
            if fn.name == "forward" and cls is not None:
                first = (fn.args.posonlyargs + fn.args.args)[:1]
                if not first or first[0].arg != "self":
                    continue  # autograd.Function.forward(ctx, ...) may return detached tensors
                out.append((fn, "loss" if cls.name.lower().endswith("loss") else "forward"))
            elif "loss" in fn.name.lower() or fn.name.lower() == "criterion":
                if NOT_LOSS_NAME.search(fn.name):
                    continue
                if any(is_no_grad_ctx(d) for d in fn.decorator_list) or any(
                        isinstance(w, ast.With) and any(is_no_grad_ctx(i.context_expr) for i in w.items)
                        for w in walk_scope(fn)):
                    continue  # evaluation code, not a training loss
                if any(isinstance(lp, (ast.For, ast.While)) and any(method_call(c, GRAPH_BREAK_CALLS)
                                                                    for c in ast.walk(lp))
                       for lp in walk_scope(fn)):
                    continue  # numbers summed over a loop: an evaluation or logging helper
                out.append((fn, "loss"))
    return out


def returned(fn) -> List[ast.AST]:
    """The loss-carrying part of each return: first tuple element, or the 'loss' entry of a dict."""
    out = []
    for r in walk_scope(fn):
        if not isinstance(r, ast.Return) or r.value is None:
            continue
        v = r.value
        if isinstance(v, (ast.Tuple, ast.List)):
            v = v.elts[0] if v.elts else None
        elif isinstance(v, ast.Dict):
            v = next((val for k, val in zip(v.keys, v.values)
                      if isinstance(k, ast.Constant) and k.value == "loss"), None)
        if v is not None:
            out.append(v)
    return out


def is_coef(e: ast.AST) -> bool:
    if num_const(e) is not None:
        return True
    if isinstance(e, ast.UnaryOp):
        return is_coef(e.operand)
    n = attr_name(e) if isinstance(e, (ast.Name, ast.Attribute)) else None
    return bool(n and COEF_NAME.match(n))


class ValuePath:
    """Walk what a returned value is computed from. `hits`: (node, op, additive) for item/tolist/numpy/
    detach/.data on the way; `live`: nodes reached without passing one (parameters, module calls)."""

    def __init__(self, a: Analysis, fn: ast.AST, scope: Scope):
        self.a, self.scope, self.params = a, scope, set(params(fn))
        self.seen: Set[int] = set()
        self.hits: list = []
        self.live: list = []

    def walk(self, e: ast.AST, additive: bool):
        if e is None or id(e) in self.seen:
            return
        self.seen.add(id(e))
        rec = lambda x, add=additive: self.walk(x, add)  # noqa: E731
        scope = self.scope
        if isinstance(e, ast.Call):
            fn = e.func
            name = attr_name(fn)
            if isinstance(fn, ast.Attribute) and not self.a.is_module_path(fn.value):
                if name in GRAPH_BREAK_CALLS or name == "detach":
                    self.hits.append((e, name, additive))
                    return
                if isinstance(fn.value, ast.Name) and fn.value.id == "self":
                    self.live.append(e)  # self.layer(x): trainable; its inputs are not terms of the output
                    for x in e.args:
                        rec(x, False)
                    return
                rec(fn.value)
                if name in ARITH_METHODS:
                    for x in e.args:
                        rec(x)
                elif name in ("mul", "div", "mul_", "div_", "multiply", "divide"):
                    for x in e.args:
                        rec(x, additive and False)
                return
            if name in CREATION_FUNCS or name in ("len", "range", "int", "float", "bool", "isinstance", "print",
                                                  "getattr", "hasattr", "type"):
                return
            if isinstance(fn, ast.Name) and fn.id in scope.assigns or isinstance(fn, ast.Call):
                self.live.append(e)  # a model called through a variable
            for x in e.args:
                rec(x.value if isinstance(x, ast.Starred) else x)
            for k in e.keywords:
                if k.arg in (None, "input", "target", "other", "weight", "tensors"):
                    rec(k.value)
            return
        if isinstance(e, ast.Attribute):
            if e.attr == "data":
                self.hits.append((e, "data", additive))
                return
            if isinstance(e.value, ast.Name) and e.value.id == "self":
                self.live.append(e)  # self.weight
                return
            if e.attr in ("T", "mT", "real"):
                rec(e.value)
            return
        if isinstance(e, ast.BinOp):
            if isinstance(e.op, (ast.Add, ast.Sub)):
                rec(e.left)
                rec(e.right)
            elif isinstance(e.op, (ast.Mult, ast.MatMult)):
                rec(e.left, additive and is_coef(e.right))
                rec(e.right, additive and is_coef(e.left))
            elif isinstance(e.op, (ast.Div, ast.FloorDiv)):
                rec(e.left, additive and is_coef(e.right))
                rec(e.right, False)
            else:
                rec(e.left, False)
                rec(e.right, False)
            return
        if isinstance(e, ast.UnaryOp):
            rec(e.operand)
        elif isinstance(e, ast.IfExp):
            rec(e.body)
            rec(e.orelse)
        elif isinstance(e, ast.Subscript):
            rec(e.value)
        elif isinstance(e, (ast.Tuple, ast.List)):
            for x in e.elts:
                rec(x)
        elif isinstance(e, ast.Starred):
            rec(e.value)
        elif isinstance(e, ast.Name):
            if e.id in self.params:
                self.live.append(e)
            for v in scope.all(e.id):
                rec(v)


def returned_paths(a: Analysis) -> List[Tuple[ast.AST, str, List[ValuePath]]]:
    """For each loss/forward function: (function, kind, one ValuePath per returned value)."""
    def compute():
        out = []
        for fn, kind in loss_scopes(a):
            scope = a.scope(fn)
            paths = []
            for ret in returned(fn):
                vp = ValuePath(a, fn, scope)
                vp.walk(ret, True)
                paths.append(vp)
            out.append((fn, kind, paths))
        return out
    return a.memo("returned_paths", compute)


def depends_on(e: ast.AST, name: str, scope: Scope, depth: int = 0, seen=None) -> bool:
    seen = set() if seen is None else seen
    for n in ast.walk(e):
        if isinstance(n, ast.Name) and id(n) not in seen:
            seen.add(id(n))
            if n.id == name:
                return True
            if depth < 10 and any(depends_on(v, name, scope, depth + 1, seen) for v in scope.all(n.id)):
                return True
    return False


def calls_submodule(node: ast.AST) -> bool:
    """The detached expression runs `self.layer(...)`: trainable work is cut off (a fixed table isn't)."""
    inner = node.func.value if isinstance(node, ast.Call) else node.value
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and
               isinstance(n.func.value, ast.Name) and n.func.value.id == "self" for n in ast.walk(inner))
