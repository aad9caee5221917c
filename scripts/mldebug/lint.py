"""ml-debug lint: static checks for silent PyTorch training bugs, with `ast` only.

    python scripts/lint.py PATH [PATH ...] [--json] [--select IDS] [--ignore IDS]
    ml-debug lint PATH ...

Reads Python files (directories recursively), never imports or runs them, and prints one line
per finding: `file:line: rule-id message [refs/static_analysis.md#rule-id]`. Every rule is
documented in refs/static_analysis.md under `## <rule-id>`. The rules aim for precision: each
fires only on a pattern that is wrong in (nearly) every program, and a finding can be silenced
on its line with `# ml-debug: ignore` or `# ml-debug: ignore[rule-id,...]`.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from typing import Dict, Iterable, Iterator, List, Optional, Set, Tuple

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
REF = "refs/static_analysis.md"

RULES = {
    "softmax-into-cross-entropy": "softmax probabilities passed to cross_entropy / CrossEntropyLoss, which expects logits",
    "softmax-model-with-cross-entropy": "a model whose output ends in softmax, in a file whose loss is CrossEntropyLoss",
    "softmax-into-nll-loss": "softmax probabilities (not log-probabilities) passed to nll_loss / NLLLoss",
    "sigmoid-into-bce-with-logits": "sigmoid probabilities passed to BCEWithLogitsLoss / binary_cross_entropy_with_logits",
    "view-swaps-dims": ".view/.reshape with dimension sizes in swapped order: reinterprets memory instead of permuting axes",
    "step-without-zero-grad": "optimizer.step() in a loop with backward() but no zero_grad(): gradients add up across steps",
    "zero-grad-before-step": "zero_grad() between backward() and step() on the same optimizer: every step sees zero gradients",
    "zero-grad-in-accumulation-loop": "zero_grad() inside a micro-batch loop whose optimizer steps after it: only the last micro-batch counts",
    "layer-replaced-after-optimizer": "a layer assigned onto the model after its optimizer was built: the new layer's parameters never train",
    "no-grad-without-eval": "evaluation loop under torch.no_grad()/inference_mode() in a file that never calls .eval()",
    "eval-without-train": "training loop whose model is put in eval mode (validation) and never back into train mode",
    "graph-break-in-loss": ".item()/.tolist()/.numpy() on the value a loss or forward returns: that term gets no gradient",
    "detach-in-loss": ".detach()/.data on the prediction inside a loss, or on everything a forward returns",
    "per-epoch-scheduler-in-batch-loop": "epoch-sized LR scheduler (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR) stepped every batch",
    "functional-dropout-always-on": "F.dropout in a module without training=self.training: dropout stays on in eval()",
}

# ------------------------------------------------------------------ names and helpers

SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "env", ".venv", ".git", ".tox"}
# defaults for module aliases that are almost always these, when the file's imports don't say
DEFAULT_ALIASES = {"F": "torch.nn.functional", "nn": "torch.nn", "optim": "torch.optim", "torch": "torch"}

OPTIMIZER_CLASSES = {"SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta",
                     "LBFGS", "SparseAdam", "ASGD", "Rprop", "Adafactor", "Lion", "Muon", "Adan", "LAMB",
                     "Lamb", "FusedAdam", "DeepSpeedCPUAdam", "AdamW8bit", "Adam8bit", "Sophia", "Shampoo"}
SCHEDULER_HINT = re.compile(r"(LR|Scheduler|Schedule|Warmup)$")
# schedulers whose constructor arguments are usually counted in epochs (see per-epoch-scheduler-in-batch-loop)
EPOCH_SCHEDULERS = {"StepLR": ("step_size", 1), "MultiStepLR": ("milestones", 1),
                    "ExponentialLR": ("gamma", 1), "CosineAnnealingLR": ("T_max", 1)}
# A count this small in StepLR/MultiStepLR/CosineAnnealingLR reads as epochs; stepped per batch it
# decays within a few hundred batches. Real per-step schedules count thousands of steps.
MAX_EPOCH_COUNT = 1000
# ExponentialLR stepped per batch with gamma <= this divides the LR by 1e4 within ~920 batches.
MAX_PER_EPOCH_GAMMA = 0.99

LOSS_CLASSES = {"CrossEntropyLoss": "ce", "NLLLoss": "nll", "BCEWithLogitsLoss": "bcel", "BCELoss": "bce"}
LOSS_FUNCS = {"cross_entropy": "ce", "nll_loss": "nll", "binary_cross_entropy_with_logits": "bcel",
              "binary_cross_entropy": "bce"}
# shape/dtype-only methods: a softmax output stays probabilities through them
PROB_PASSTHROUGH = {"view", "reshape", "squeeze", "unsqueeze", "float", "double", "half", "to", "contiguous",
                    "flatten", "transpose", "permute", "clamp", "clamp_min", "clamp_max", "clip", "type", "cuda",
                    "cpu", "view_as", "reshape_as"}
LAYOUT_OPS = {"transpose", "permute", "movedim", "moveaxis", "swapaxes", "swapdims", "t", "einsum", "rearrange",
              "flatten", "unflatten", "transpose_", "t_"}
DROPOUT_FUNCS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
GRAPH_BREAK_CALLS = {"item", "tolist", "numpy"}
# tensor creation functions take sizes, not values
CREATION_FUNCS = {"zeros", "ones", "empty", "full", "arange", "randn", "rand", "randint", "eye", "linspace",
                  "logspace", "randperm", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
                  "randn_like"}
ARITH_METHODS = {"add", "sub", "add_", "sub_", "subtract"}
COEF_NAME = re.compile(r"^(lam|lambda|alpha|beta|gamma|coef|coeff|weight|w|scale|eps|temp|tau|factor|ratio)",
                       re.I)
NOT_LOSS_NAME = re.compile(r"estimate|eval|valid|(^|_)val|test|log|print|plot|report|track|record|metric|avg"
                           r"|average|history|summar|display|show", re.I)
# torch.nn classes that own parameters (replacing a parameter-free module, e.g. nn.Identity, is harmless)
PARAM_LAYERS = re.compile(r"^(Linear|LazyLinear|Bilinear|Conv|LazyConv|Embedding|RNN|LSTM|GRU|BatchNorm|LayerNorm"
                          r"|GroupNorm|InstanceNorm|RMSNorm|Sequential|ModuleList|ModuleDict|MultiheadAttention"
                          r"|Transformer|PReLU|Parameter)")
IGNORE_COMMENT = re.compile(r"#\s*ml-debug:\s*ignore(?:\[([^\]]*)\])?")


def text(node: Optional[ast.AST]) -> str:
    try:
        return ast.unparse(node) if node is not None else ""
    except Exception:  # noqa: BLE001  (unparse of odd nodes)
        return ""


def attr_name(node: ast.AST) -> Optional[str]:
    """Last name of a Name/Attribute: `F.softmax` -> 'softmax'."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def method_call(node: ast.AST, names) -> bool:
    """`something.<name>(...)` with name in names."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names


def pos(node: ast.AST) -> Tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not enter nested function/class/lambda bodies."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(n))


def ordered(nodes: Iterable[ast.AST]) -> List[ast.AST]:
    return sorted(nodes, key=pos)


def int_const(node) -> Optional[int]:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = int_const(node.operand)
        return -v if v is not None else None
    return None


def num_const(node) -> Optional[float]:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def arg(call: ast.Call, name: str, index: int) -> Optional[ast.AST]:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    args = [a for a in call.args if not isinstance(a, ast.Starred)]
    return args[index] if len(args) > index else None


def params(fn) -> List[str]:
    a = fn.args
    names = [p.arg for p in a.posonlyargs + a.args]
    return names[1:] if names and names[0] in ("self", "cls") else names


# ------------------------------------------------------------------ file model


class FileInfo:
    """Everything the rules need about one parsed file."""

    def __init__(self, path: str, tree: ast.Module, source: str):
        self.path, self.tree, self.lines = path, tree, source.splitlines()
        self.nodes: List[ast.AST] = list(ast.walk(tree))
        self.parent: Dict[ast.AST, ast.AST] = {}
        for n in self.nodes:
            for c in ast.iter_child_nodes(n):
                self.parent[c] = n
        self.aliases = dict(DEFAULT_ALIASES)
        for n in self.nodes:
            if isinstance(n, ast.Import):
                for a in n.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                for a in n.names:
                    self.aliases[a.asname or a.name] = f"{n.module}.{a.name}"
        self.functions: Dict[str, List[ast.AST]] = {}
        for n in self.nodes:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(n.name, []).append(n)
        # what names / attributes are bound to: loss modules, optimizers, schedulers, activation modules
        self.bindings: Dict[str, Set[str]] = {}
        self.ctor: Dict[str, ast.Call] = {}
        for n in self.nodes:
            if isinstance(n, (ast.Assign, ast.AnnAssign)) and isinstance(n.value, ast.Call):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                cls = attr_name(n.value.func)
                for t in targets:
                    if isinstance(t, (ast.Name, ast.Attribute)) and cls:
                        self.bindings.setdefault(text(t), set()).add(cls)
                        self.ctor[text(t)] = n.value
        self.calls = [n for n in self.nodes if isinstance(n, ast.Call)]

    def canon(self, node: ast.AST) -> str:
        """Dotted name with the first component resolved through the file's imports."""
        s = text(node)
        head, _, rest = s.partition(".")
        full = self.aliases.get(head)
        return (full + ("." + rest if rest else "")) if full else s

    def bound_class(self, node: ast.AST) -> Optional[str]:
        """The class a name/attribute is bound to, when every binding in the file agrees."""
        cls = self.bindings.get(text(node))
        return next(iter(cls)) if cls and len(cls) == 1 else None

    def scope_of(self, node: ast.AST) -> ast.AST:
        n = self.parent.get(node)
        while n is not None and not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            n = self.parent.get(n)
        return n if n is not None else self.tree

    def ancestors(self, node: ast.AST, stop: Optional[ast.AST] = None) -> Iterator[ast.AST]:
        n = self.parent.get(node)
        while n is not None and n is not stop:
            yield n
            n = self.parent.get(n)

    def enclosing_class(self, node: ast.AST) -> Optional[ast.ClassDef]:
        for a in self.ancestors(node):
            if isinstance(a, ast.ClassDef):
                return a
        return None


class Scope:
    """Assignments of one function (or the module), for look-ups by name."""

    def __init__(self, node: ast.AST):
        self.node = node
        self.assigns: Dict[str, List[Tuple[Tuple[int, int], ast.AST]]] = {}
        for n in walk_scope(node):
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    self._bind(t, n.value, n)
            elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and n.value is not None:
                self._bind(n.target, n.value, n)

    def _bind(self, target, value, stmt):
        end = (getattr(stmt, "end_lineno", 0) or 0, getattr(stmt, "end_col_offset", 0) or 0)
        if isinstance(target, ast.Name):
            self.assigns.setdefault(target.id, []).append((end, value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:  # unpacking: every name depends on the whole value
                if isinstance(t, ast.Name):
                    self.assigns.setdefault(t.id, []).append((end, value))

    def last(self, name: str, before: Tuple[int, int]) -> Optional[ast.AST]:
        """The value most recently assigned to `name` above `before` (straight-line reading)."""
        best = None
        for p, v in self.assigns.get(name, []):
            if p < before and (best is None or p > best[0]):
                best = (p, v)
        return best[1] if best else None

    def all(self, name: str) -> List[ast.AST]:
        return [v for _, v in self.assigns.get(name, [])]


class Linter:
    def __init__(self, info: FileInfo):
        self.f = info
        self.findings: List[Tuple[int, str, str]] = []
        self.scopes: Dict[ast.AST, Scope] = {}

    def scope(self, node: ast.AST) -> Scope:
        s = self.f.scope_of(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)) \
            else node
        if s not in self.scopes:
            self.scopes[s] = Scope(s)
        return self.scopes[s]

    def add(self, node_or_line, rule: str, message: str):
        line = node_or_line if isinstance(node_or_line, int) else getattr(node_or_line, "lineno", 0)
        self.findings.append((line, rule, message))

    def run(self) -> List[Tuple[int, str, str]]:
        for rule in (self.loss_inputs, self.model_outputs, self.view_swaps, self.optimizer_loops,
                     self.no_grad_eval, self.eval_without_train, self.layer_replaced, self.graph_breaks, self.schedulers,
                     self.functional_dropout):
            rule()
        seen, out = set(), []
        for line, rule, msg in sorted(self.findings):
            if (line, rule) not in seen and not self.suppressed(line, rule):
                seen.add((line, rule))
                out.append((line, rule, msg))
        return out

    def suppressed(self, line: int, rule: str) -> bool:
        if not 0 < line <= len(self.f.lines):
            return False
        m = IGNORE_COMMENT.search(self.f.lines[line - 1])
        if not m:
            return False
        return m.group(1) is None or rule in [r.strip() for r in m.group(1).split(",")]

    # -------------------------------------------------------------- probabilities into losses

    def prob_kind(self, e: ast.AST, depth: int = 0) -> Optional[str]:
        """'softmax' | 'sigmoid' | 'log_softmax' when `e` evaluates to that activation's output."""
        if depth > 8 or e is None:
            return None
        if isinstance(e, ast.Subscript):
            return self.prob_kind(e.value, depth + 1)
        if isinstance(e, ast.Name):
            v = self.scope(e).last(e.id, pos(e))
            return self.prob_kind(v, depth + 1) if v is not None else None
        if not isinstance(e, ast.Call):
            return None
        fn = e.func
        name = attr_name(fn)
        if isinstance(fn, ast.Call):  # nn.Softmax(dim=1)(x)
            return self.activation_class(attr_name(fn.func))
        if name in ("softmax", "_softmax"):
            return "softmax"
        if name in ("sigmoid", "expit"):
            return "sigmoid"
        if name == "log_softmax":
            return "log_softmax"
        if isinstance(fn, ast.Attribute) and name in PROB_PASSTHROUGH and not self.is_module_path(fn.value):
            return self.prob_kind(fn.value, depth + 1)
        if isinstance(fn, (ast.Name, ast.Attribute)):  # self.softmax(x) with self.softmax = nn.Softmax(...)
            cls = self.class_of(fn)
            if cls:
                return self.activation_class(cls)
        return None

    def class_of(self, node: ast.AST) -> Optional[str]:
        """The class a called name is bound to: the latest local `x = Cls(...)` above it, unknown for a
        parameter, else the file-wide binding (module globals, self.attributes)."""
        if isinstance(node, ast.Name):
            scope = self.f.scope_of(node)
            v = self.scope(node).last(node.id, pos(node))
            if v is not None:
                return attr_name(v.func) if isinstance(v, ast.Call) else None
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.id in params(scope):
                return None
        return self.f.bound_class(node)

    @staticmethod
    def activation_class(cls: Optional[str]) -> Optional[str]:
        return {"Softmax": "softmax", "Softmax2d": "softmax", "Sigmoid": "sigmoid",
                "LogSoftmax": "log_softmax"}.get(cls or "")

    def is_module_path(self, node: ast.AST) -> bool:
        """`torch`, `F`, `torch.nn.functional`, `np` ...: a module, not a tensor."""
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        return isinstance(root, ast.Name) and (root.id in self.f.aliases and
                                              self.f.aliases[root.id].split(".")[0] in ("torch", "numpy", "math"))

    def loss_kind(self, call: ast.Call) -> Optional[str]:
        """'ce' | 'nll' | 'bcel' | 'bce' for a call that computes one of those losses."""
        fn = call.func
        if isinstance(fn, ast.Call):  # nn.CrossEntropyLoss()(x, y)
            return LOSS_CLASSES.get(attr_name(fn.func) or "")
        name = attr_name(fn)
        if name in LOSS_FUNCS and (isinstance(fn, ast.Name) or self.is_module_path(fn.value)):
            canon = self.f.canon(fn)
            if canon.startswith("torch.") or isinstance(fn, ast.Name) and canon == name:
                return LOSS_FUNCS[name]
        if isinstance(fn, (ast.Name, ast.Attribute)):
            return LOSS_CLASSES.get(self.class_of(fn) or "")
        return None

    def loss_inputs(self):
        wrong = {("ce", "softmax"): ("softmax-into-cross-entropy",
                                     "{loss} gets softmax probabilities; it applies log-softmax itself, so pass "
                                     "the logits"),
                 ("nll", "softmax"): ("softmax-into-nll-loss",
                                      "{loss} gets softmax probabilities; it expects log-probabilities "
                                      "(use log_softmax, or cross_entropy on the logits)"),
                 ("bcel", "sigmoid"): ("sigmoid-into-bce-with-logits",
                                       "{loss} gets sigmoid probabilities; it applies the sigmoid itself, so "
                                       "pass the logits")}
        for call in self.f.calls:
            kind = self.loss_kind(call)
            if kind not in ("ce", "nll", "bcel"):
                continue
            x = arg(call, "input", 0)
            pk = self.prob_kind(x) if x is not None else None
            hit = wrong.get((kind, pk))
            if hit:
                self.add(call, hit[0], hit[1].format(loss=text(call.func) or kind))

    # -------------------------------------------------------------- models that end in softmax

    def model_outputs(self):
        """nn.Sequential(..., nn.Softmax()) or a forward returning softmax, with a CE/NLL/BCE-logits loss in the file."""
        kinds_used: Set[str] = set()
        soft_targets = False
        for call in self.f.calls:
            k = self.loss_kind(call)
            if k:
                kinds_used.add(k)
                t = arg(call, "target", 1)
                if k == "ce" and t is not None and self.prob_kind(t) == "softmax":
                    soft_targets = True  # distillation: a softmax model legitimately makes the targets
            cls = attr_name(call.func)
            if cls in LOSS_CLASSES:
                kinds_used.add(LOSS_CLASSES[cls])
        ends: List[Tuple[ast.AST, str, str]] = []
        submodules = {attr_name(n.value.func) for n in self.f.nodes if isinstance(n, ast.Assign) and
                      isinstance(n.value, ast.Call) and any(isinstance(t, ast.Attribute) for t in n.targets)}
        for call in self.f.calls:
            if attr_name(call.func) == "Sequential" and call.args:
                last = call.args[-1]
                holder = self.f.parent.get(call)
                if not isinstance(holder, ast.Return) and not (
                        isinstance(holder, ast.Assign) and all(isinstance(t, ast.Name) for t in holder.targets)):
                    continue  # self.attn = nn.Sequential(..., nn.Softmax()) is a part, not the model
                if not all(isinstance(a, ast.Call) for a in call.args):
                    continue  # nn.Sequential(model, nn.Softmax(1)): an inference wrapper around a model
                if isinstance(last, ast.Call):
                    k = self.activation_class(attr_name(last.func))
                    if k in ("softmax", "sigmoid"):
                        ends.append((last, k, "the nn.Sequential ends in " + text(last.func)))
        for fns in self.f.functions.values():
            for fn in fns:
                cls = self.f.enclosing_class(fn)
                if fn.name != "forward" or cls is None or cls.name in submodules or \
                        [a.arg for a in fn.args.args[:1]] != ["self"]:
                    continue  # a submodule (attention weights, gates) or an autograd.Function
                rets = [r for r in walk_scope(fn) if isinstance(r, ast.Return) and r.value is not None]
                kinds = []
                for r in rets:
                    v = r.value.elts[0] if isinstance(r.value, ast.Tuple) and r.value.elts else r.value
                    kinds.append(self.prob_kind(v))
                if rets and len(set(kinds)) == 1 and kinds[0] in ("softmax", "sigmoid"):
                    # every return is probabilities (`return logits if self.training else softmax` is fine)
                    ends.append((rets[-1], kinds[0], f"{cls.name}.forward returns {kinds[0]} output"))
        has_log = any(attr_name(c.func) in ("log", "log_") for c in self.f.calls)
        for node, k, what in ends:
            if k == "softmax" and "ce" in kinds_used and not soft_targets and "nll" not in kinds_used:
                self.add(node, "softmax-model-with-cross-entropy",
                         f"{what} and this file's loss is cross-entropy, which applies log-softmax itself: "
                         "return logits from the model and apply softmax only for predictions")
            elif k == "softmax" and "nll" in kinds_used and "ce" not in kinds_used and not has_log:
                self.add(node, "softmax-into-nll-loss",
                         f"{what} and this file's loss is NLLLoss, which expects log-probabilities: "
                         "end in LogSoftmax, or drop the softmax and use CrossEntropyLoss")
            elif k == "sigmoid" and "bcel" in kinds_used and "bce" not in kinds_used:
                self.add(node, "sigmoid-into-bce-with-logits",
                         f"{what} and this file's loss is BCEWithLogitsLoss, which applies the sigmoid itself: "
                         "return logits from the model")

    # -------------------------------------------------------------- view/reshape used as a transpose

    def dim_source(self, e: ast.AST, table) -> Optional[Tuple[str, int]]:
        """(tensor, axis) when `e` is a size read off a tensor: `B` from `B, T, C = x.shape`, or `x.size(1)`."""
        if isinstance(e, ast.Name):
            return table.get(e.id)
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "size" and \
                len(e.args) == 1 and int_const(e.args[0]) is not None:
            return text(e.func.value), int_const(e.args[0])
        if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape" and \
                int_const(e.slice) is not None:
            return text(e.value.value), int_const(e.slice)
        return None

    def dim_table(self, scope: ast.AST) -> Dict[str, Tuple[str, int]]:
        table: Dict[str, Tuple[str, int]] = {}
        rebound: Set[str] = set()
        for n in ordered(x for x in walk_scope(scope) if isinstance(x, ast.Assign)):
            for t in n.targets:
                v = n.value
                src, start = None, 0
                if isinstance(v, ast.Subscript) and isinstance(v.slice, ast.Slice) and v.slice.step is None:
                    start = int_const(v.slice.lower) if v.slice.lower is not None else 0
                    v = v.value
                if isinstance(v, ast.Attribute) and v.attr == "shape":
                    src = text(v.value)
                elif isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "size" \
                        and not v.args:
                    src = text(v.func.value)
                if isinstance(t, (ast.Tuple, ast.List)) and src is not None and start is not None and start >= 0:
                    if any(isinstance(x, ast.Starred) for x in t.elts):
                        continue
                    for i, x in enumerate(t.elts):
                        if isinstance(x, ast.Name) and x.id != "_":
                            (rebound.add(x.id) if x.id in table else None)
                            table[x.id] = (src, start + i)
                elif isinstance(t, ast.Name):
                    d = self.dim_source(n.value, {})
                    if t.id in table:
                        rebound.add(t.id)
                    if d is not None and d[1] >= 0:
                        table[t.id] = d
        for name in rebound:  # a name bound twice is ambiguous: leave it out
            table.pop(name, None)
        return table

    def view_swaps(self):
        scopes = {self.f.scope_of(c) for c in self.f.calls if attr_name(c.func) in ("view", "reshape")}
        for scope in sorted(scopes, key=pos):
            table = self.dim_table(scope)
            if any(isinstance(n, ast.Call) and attr_name(n.func) == "pad" for n in walk_scope(scope)) or \
                    re.search(r"shift|skew", getattr(scope, "name", ""), re.I):
                continue  # pad-then-view: the relative-position shift trick (Transformer-XL) on purpose
            layout_lines = [n.lineno for n in walk_scope(scope)
                            if (isinstance(n, ast.Call) and attr_name(n.func) in LAYOUT_OPS) or
                            (isinstance(n, ast.Attribute) and n.attr in ("T", "mT", "H", "mH"))]
            for call in walk_scope(scope):
                if not isinstance(call, ast.Call):
                    continue
                name = attr_name(call.func)
                if name not in ("view", "reshape") or not isinstance(call.func, ast.Attribute):
                    continue
                if self.is_module_path(call.func.value):  # torch.reshape(x, shape)
                    shape = call.args[1:2]
                else:
                    shape = call.args
                if len(shape) == 1 and isinstance(shape[0], (ast.Tuple, ast.List)):
                    shape = shape[0].elts
                seq: List[Tuple[str, int, ast.AST]] = []
                for e in shape:
                    for part in self.size_parts(e):
                        d = self.dim_source(part, table)
                        if d is not None:
                            seq.append((d[0], d[1], part))
                swapped = None
                for i, (s1, a1, n1) in enumerate(seq):
                    for s2, a2, n2 in seq[i + 1:]:
                        if s1 == s2 and a2 < a1 and (a1 >= 0) == (a2 >= 0):
                            swapped = (s1, n1, n2)
                            break
                    if swapped:
                        break
                if not swapped or any(ln <= call.lineno for ln in layout_lines) or self.sliced_after(call, scope):
                    continue
                src, n1, n2 = swapped
                self.add(call, "view-swaps-dims",
                         f".{name}({', '.join(text(e) for e in shape)}) puts {text(n1)} before {text(n2)}, the "
                         f"reverse of their order in {src}.shape: {name} reinterprets memory and mixes elements "
                         "(across the batch, for the batch axis); to swap axes use .permute/.transpose")

    def sliced_after(self, call: ast.AST, scope: ast.AST) -> bool:
        """The result of `call` is sliced next (`y[:, :, 1:]`): the view is a skewing trick, not a transpose."""
        holder = self.f.parent.get(call)
        if isinstance(holder, ast.Subscript) and holder.value is call:
            return True
        if not (isinstance(holder, ast.Assign) and len(holder.targets) == 1 and
                isinstance(holder.targets[0], ast.Name)):
            return False
        name = holder.targets[0].id
        for n in walk_scope(scope):
            if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == name and \
                    pos(n) > pos(call) and any(isinstance(x, ast.Slice) and (x.lower or x.upper)
                                               for x in ast.walk(n.slice)):
                return True
        return False

    @staticmethod
    def size_parts(e: ast.AST) -> List[ast.AST]:
        """The factors of a size expression: `H * W` -> [H, W]; `C // nh` -> [C]."""
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
            return Linter.size_parts(e.left) + Linter.size_parts(e.right)
        if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.FloorDiv, ast.Div)):
            return Linter.size_parts(e.left)
        return [e]

    # -------------------------------------------------------------- optimizer loops

    def step_receiver(self, call: ast.AST) -> Optional[str]:
        """Text of the optimizer a `.step()` call steps, or None when it is not an optimizer step."""
        if not method_call(call, {"step"}):
            return None
        recv = call.func.value
        if attr_name(recv) in ("scaler", "grad_scaler") or self.f.bound_class(recv) == "GradScaler":
            return text(call.args[0]) if call.args else None  # scaler.step(optimizer)
        if call.args or call.keywords:  # optimizer.step(closure): the closure zeroes the gradients
            return None
        cls = self.f.bound_class(recv)
        if cls in OPTIMIZER_CLASSES:
            return text(recv)
        if cls and (SCHEDULER_HINT.search(cls) or "sched" in cls.lower()):
            return None
        low = (attr_name(recv) or "").lower()
        if "sched" in low or "lr" == low[-2:]:
            return None
        return text(recv) if re.search(r"opt", low) else None

    def is_backward(self, n: ast.AST) -> bool:
        return method_call(n, {"backward", "manual_backward"})

    def is_zero(self, n: ast.AST) -> bool:
        if method_call(n, {"zero_grad"}):
            return True
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "grad" for t in n.targets):
            return True  # p.grad = None
        if method_call(n, {"zero_", "detach_"}) and ".grad" in text(n.func.value):
            return True
        if isinstance(n, ast.Attribute) and n.attr == "zero_grad":  # passed along as a callback
            return True
        return False

    def helper_defs(self, call: ast.Call) -> List[ast.AST]:
        """Same-file functions a call may run: f(...) or self.f(...)."""
        fn = call.func
        if isinstance(fn, ast.Name) or (isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and
                                        fn.value.id in ("self", "cls")):
            return self.f.functions.get(attr_name(fn), [])
        return []

    def contains(self, node: ast.AST, pred, depth: int = 0, seen=None) -> bool:
        """pred holds for a node under `node`, or inside a same-file function it calls (2 levels)."""
        seen = set() if seen is None else seen
        for n in walk_scope(node):
            if pred(n):
                return True
            if isinstance(n, ast.Call) and depth < 2:
                for d in self.helper_defs(n):
                    if d not in seen:
                        seen.add(d)
                        if self.contains(d, pred, depth + 1, seen):
                            return True
        return False

    def loops_of(self, node: ast.AST, scope: ast.AST) -> List[ast.AST]:
        """Enclosing loops of `node` inside `scope`, innermost first."""
        return [a for a in self.f.ancestors(node, scope) if isinstance(a, (ast.For, ast.While, ast.AsyncFor))]

    def block_path(self, node: ast.AST, loop: ast.AST) -> List[int]:
        """ids of the nested statement blocks (if/with/try bodies) holding `node`, from `loop` down."""
        path, child = [], node
        for a in self.f.ancestors(node):
            for field in ("body", "orelse", "finalbody", "handlers"):
                block = getattr(a, field, None)
                if isinstance(block, list) and any(child is s for s in block):
                    path.append((id(a), field))
            if a is loop:
                break
            child = a
        return list(reversed(path))

    def accumulation_zeroing(self, step: ast.AST, recv: str, scope: ast.AST):
        """zero_grad(recv) inside an inner loop with backward() that the step sits outside of."""
        step_loops = set(map(id, self.loops_of(step, scope)))
        for z in walk_scope(scope):
            if not (method_call(z, {"zero_grad"}) and text(z.func.value) == recv):
                continue
            for inner in self.loops_of(z, scope):
                if id(inner) in step_loops:
                    break  # reached a loop that also holds the step
                outer = self.loops_of(inner, scope)
                if not any(id(o) in step_loops for o in outer):
                    continue
                if any(self.is_backward(n) for n in walk_scope(inner)) and not any(
                        isinstance(n, ast.Attribute) and n.attr == "grad" and isinstance(n.ctx, ast.Load)
                        for n in walk_scope(inner)):
                    self.add(z, "zero-grad-in-accumulation-loop",
                             f"{text(z)} runs on every pass of the loop that calls backward(), but "
                             f"{text(step)} runs once after that loop: each pass wipes the gradients of the "
                             "previous ones, so only the last micro-batch reaches the step; zero once per step")
                    break

    def optimizer_loops(self):
        for call in self.f.calls:
            recv = self.step_receiver(call)
            if recv is None:
                continue
            scope = self.f.scope_of(call)
            self.accumulation_zeroing(call, recv, scope)
            loop = next((lp for lp in self.loops_of(call, scope) if self.contains(lp, self.is_backward)), None)
            if loop is None:
                continue
            if any(isinstance(n, ast.Assign) and any(text(t) == recv for t in n.targets)
                   for n in walk_scope(loop)):
                continue  # a fresh optimizer each pass: nothing carries over between its steps
            if not self.contains(loop, self.is_zero):
                self.add(call, "step-without-zero-grad",
                         f"{text(call)} runs in a loop with backward() but nothing in the loop zeroes the "
                         "gradients, so each step uses the sum of all past gradients: call "
                         f"{recv}.zero_grad() once per step")
                continue
            # the most recent backward / zero_grad(recv) before this step, reading the loop as a cycle
            events = []
            for n in walk_scope(loop):
                if self.is_backward(n) or (isinstance(n, ast.Call) and any(
                        self.contains(d, self.is_backward, 1) for d in self.helper_defs(n))):
                    events.append((pos(n), "backward", n))  # directly, or in a same-file helper
                elif method_call(n, {"zero_grad"}) and text(n.func.value) == recv:
                    events.append((pos(n), "zero", n))
            events.sort(key=lambda e: e[0])
            before = [e for e in events if e[0] < pos(call)]
            after = [e for e in events if e[0] > pos(call)]
            prev = (before or after or [None])[-1]
            if prev is None or prev[1] != "zero":
                continue
            zpath, spath = self.block_path(prev[2], loop), self.block_path(call, loop)
            if zpath == spath[:len(zpath)]:  # the zero_grad runs whenever the step does
                self.add(prev[2], "zero-grad-before-step",
                         f"{text(prev[2])} runs after backward() and before {text(call)}, so the step sees "
                         "zero gradients and the model never learns: zero the gradients before backward()")

    # -------------------------------------------------------------- train/eval mode

    def is_no_grad_ctx(self, e: ast.AST) -> bool:
        if isinstance(e, ast.Call):
            e = e.func
        return attr_name(e) in ("no_grad", "inference_mode")

    def is_eval_call(self, n: ast.AST) -> bool:
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

    def computes_loss(self, node: ast.AST) -> bool:
        for n in walk_scope(node):
            if isinstance(n, ast.Call):
                name = (attr_name(n.func) or "").lower()
                if "loss" in name or "criterion" in name or name in LOSS_FUNCS or self.loss_kind(n) or \
                        name in ("argmax", "accuracy"):
                    return True
        return False

    def no_grad_eval(self):
        if any(self.is_eval_call(n) for n in self.f.nodes):
            return
        if not any(self.is_backward(n) for n in self.f.nodes):
            return  # model code or a library: the training script that calls it decides the mode
        called = {attr_name(c.func) for c in self.f.calls}
        blocks: List[Tuple[ast.AST, ast.AST]] = []  # (where to report, body holder)
        for n in self.f.nodes:
            if isinstance(n, (ast.With, ast.AsyncWith)) and any(self.is_no_grad_ctx(i.context_expr)
                                                                 for i in n.items):
                blocks.append((n, n))
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    any(self.is_no_grad_ctx(d) for d in n.decorator_list):
                blocks.append((n, n))
        for where, holder in blocks:
            scope = holder if isinstance(holder, (ast.FunctionDef, ast.AsyncFunctionDef)) else \
                self.f.scope_of(holder)
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and scope.name not in called:
                continue  # called from another file, which may well call .eval() first
            loops = [x for x in walk_scope(holder) if isinstance(x, (ast.For, ast.AsyncFor))]
            if isinstance(holder, ast.With):
                loops = [x for x in ast.walk(holder) if isinstance(x, (ast.For, ast.AsyncFor))]
            if any(self.computes_loss(lp) for lp in loops):
                self.add(where, "no-grad-without-eval",
                         "an evaluation loop runs under no_grad/inference_mode, but this file never calls "
                         "model.eval(): dropout stays on and BatchNorm uses batch statistics during evaluation "
                         "(no_grad only turns off gradient tracking)")

    def optimized_models(self) -> Set[str]:
        """Texts T such that T.parameters() feeds an optimizer built in this file."""
        out: Set[str] = set()
        for c in self.f.calls:
            if attr_name(c.func) in OPTIMIZER_CLASSES or (attr_name(c.func) or "").lower().endswith("optimizer"):
                for n in ast.walk(c):
                    if method_call(n, {"parameters", "named_parameters"}):
                        out.add(text(n.func.value))
        return out

    def mode_events(self, node: ast.AST, mapping: Dict[str, str], depth: int, stack) -> List[tuple]:
        """Ordered (kind, receiver, report_node) for mode changes, backward and step under node,
        inlining same-file helpers (receivers renamed from parameters to the caller's arguments)."""
        out = []
        for n in ordered(x for x in walk_scope(node) if isinstance(x, (ast.Call, ast.Assign))):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("eval", "train"):
                recv = text(n.func.value)
                recv = mapping.get(recv, recv)
                out.append(("eval" if self.is_eval_call(n) else "train", recv, n))
            elif self.is_backward(n):
                out.append(("backward", "", n))
            elif isinstance(n, ast.Call) and depth < 3:
                for d in self.helper_defs(n):
                    if d in stack:
                        continue
                    sub = {p: mapping.get(text(a), text(a)) for p, a in zip(params(d), n.args)}
                    out.extend(self.mode_events(d, sub, depth + 1, stack | {d}))
        return out

    def layer_replaced(self):
        """`opt = SGD(model.parameters()); model.fc = nn.Linear(...)` in one function, no optimizer after."""
        scopes = [self.f.tree] + [fn for fns in self.f.functions.values() for fn in fns]
        for scope in scopes:
            ctors = []  # (position, model text) of optimizers built from model.parameters()
            for c in walk_scope(scope):
                if isinstance(c, ast.Call) and (attr_name(c.func) in OPTIMIZER_CLASSES or
                                                (attr_name(c.func) or "").lower().endswith("optimizer")):
                    for n in ast.walk(c):
                        if method_call(n, {"parameters", "named_parameters"}):
                            ctors.append((pos(c), text(n.func.value)))
            if not ctors:
                continue
            for a in walk_scope(scope):
                if not (isinstance(a, ast.Assign) and isinstance(a.value, ast.Call) and
                        self.f.canon(a.value.func).startswith("torch.nn.") and
                        PARAM_LAYERS.match(attr_name(a.value.func) or "")):
                    continue
                for t in a.targets:
                    if not isinstance(t, (ast.Attribute, ast.Subscript)):
                        continue
                    owner = text(t.value)
                    for model in {m for _, m in ctors}:
                        if owner != model and not owner.startswith(model + "."):
                            continue
                        built = [p for p, m in ctors if m == model]
                        if min(built) < pos(a) and not any(p > pos(a) for p in built):
                            self.add(a, "layer-replaced-after-optimizer",
                                     f"{text(t)} is replaced after the optimizer was built from "
                                     f"{model}.parameters(), so the optimizer holds the old layer's parameters "
                                     "and the new layer never trains: build the optimizer after changing the model")

    def eval_without_train(self):
        models = self.optimized_models()
        if not models or not any(self.is_eval_call(n) for n in self.f.nodes):
            return
        done: Set[int] = set()
        for loop in self.f.nodes:
            if not isinstance(loop, (ast.For, ast.While, ast.AsyncFor)):
                continue
            events = self.mode_events(loop, {}, 0, frozenset())
            backs = [i for i, e in enumerate(events) if e[0] == "backward"]
            if not backs:
                continue
            for m in models:
                mine = [(i, e) for i, e in enumerate(events) if e[0] in ("eval", "train") and e[1] == m]
                if not any(e[0] == "eval" for _, e in mine):
                    continue
                before = [x for x in mine if x[0] < backs[0]]
                prev = (before or mine)[-1][1]  # cyclic: wrap to the end of the loop body
                if prev[0] == "eval" and prev[2].lineno not in done:
                    done.add(prev[2].lineno)
                    self.add(prev[2], "eval-without-train",
                             f"{text(prev[2])} runs inside the training loop at line {loop.lineno} and nothing "
                             f"calls {m}.train() "
                             "before the next backward(), so from the second pass on the model trains in eval "
                             "mode (no dropout, frozen BatchNorm statistics): call "
                             f"{m}.train() at the top of each epoch")

    # -------------------------------------------------------------- graph breaks in losses and forward

    def loss_scopes(self) -> List[Tuple[ast.AST, str]]:
        out = []
        for fns in self.f.functions.values():
            for fn in fns:
                cls = self.f.enclosing_class(fn)
                if fn.name == "forward" and cls is not None:
                    first = (fn.args.posonlyargs + fn.args.args)[:1]
                    if not first or first[0].arg != "self":
                        continue  # autograd.Function.forward(ctx, ...) may return detached tensors
                    out.append((fn, "loss" if cls.name.lower().endswith("loss") else "forward"))
                elif "loss" in fn.name.lower() or fn.name.lower() == "criterion":
                    if NOT_LOSS_NAME.search(fn.name):
                        continue
                    if any(self.is_no_grad_ctx(d) for d in fn.decorator_list) or any(
                            isinstance(w, ast.With) and any(self.is_no_grad_ctx(i.context_expr) for i in w.items)
                            for w in walk_scope(fn)):
                        continue  # evaluation code, not a training loss
                    if any(isinstance(lp, (ast.For, ast.While)) and any(method_call(c, GRAPH_BREAK_CALLS)
                                                                        for c in ast.walk(lp))
                           for lp in walk_scope(fn)):
                        continue  # numbers summed over a loop: an evaluation or logging helper
                    out.append((fn, "loss"))
        return out

    @staticmethod
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

    def is_coef(self, e: ast.AST) -> bool:
        if num_const(e) is not None:
            return True
        if isinstance(e, ast.UnaryOp):
            return self.is_coef(e.operand)
        n = attr_name(e) if isinstance(e, (ast.Name, ast.Attribute)) else None
        return bool(n and COEF_NAME.match(n))

    def value_path(self, e: ast.AST, additive: bool, scope: Scope, seen: Set[int], hits: list, live: list):
        """Walk what `e`'s value is computed from. `hits`: (node, op, additive) for item/tolist/numpy/
        detach/.data on the way; `live`: nodes reached without passing one (parameters, module calls)."""
        if e is None or id(e) in seen:
            return
        seen.add(id(e))
        rec = lambda x, add=additive: self.value_path(x, add, scope, seen, hits, live)  # noqa: E731
        if isinstance(e, ast.Call):
            fn = e.func
            name = attr_name(fn)
            if isinstance(fn, ast.Attribute) and not self.is_module_path(fn.value):
                if name in GRAPH_BREAK_CALLS or name == "detach":
                    hits.append((e, name, additive))
                    return
                if isinstance(fn.value, ast.Name) and fn.value.id == "self":
                    live.append(e)  # self.layer(x): trainable; its inputs are not terms of the output
                    for a in e.args:
                        rec(a, False)
                    return
                rec(fn.value)
                if name in ARITH_METHODS:
                    for a in e.args:
                        rec(a)
                elif name in ("mul", "div", "mul_", "div_", "multiply", "divide"):
                    for a in e.args:
                        rec(a, additive and False)
                return
            if name in CREATION_FUNCS or name in ("len", "range", "int", "float", "bool", "isinstance", "print",
                                                  "getattr", "hasattr", "type"):
                return
            if isinstance(fn, ast.Name) and fn.id in scope.assigns or isinstance(fn, ast.Call):
                live.append(e)  # a model called through a variable
            for a in e.args:
                rec(a.value if isinstance(a, ast.Starred) else a)
            for k in e.keywords:
                if k.arg in (None, "input", "target", "other", "weight", "tensors"):
                    rec(k.value)
            return
        if isinstance(e, ast.Attribute):
            if e.attr == "data":
                hits.append((e, "data", additive))
                return
            if isinstance(e.value, ast.Name) and e.value.id == "self":
                live.append(e)  # self.weight
                return
            if e.attr in ("T", "mT", "real"):
                rec(e.value)
            return
        if isinstance(e, ast.BinOp):
            if isinstance(e.op, (ast.Add, ast.Sub)):
                rec(e.left)
                rec(e.right)
            elif isinstance(e.op, (ast.Mult, ast.MatMult)):
                rec(e.left, additive and self.is_coef(e.right))
                rec(e.right, additive and self.is_coef(e.left))
            elif isinstance(e.op, (ast.Div, ast.FloorDiv)):
                rec(e.left, additive and self.is_coef(e.right))
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
            if e.id in self.current_params:
                live.append(e)
            for v in scope.all(e.id):
                rec(v)

    def depends_on(self, e: ast.AST, name: str, scope: Scope, depth: int = 0, seen=None) -> bool:
        seen = set() if seen is None else seen
        for n in ast.walk(e):
            if isinstance(n, ast.Name) and id(n) not in seen:
                seen.add(id(n))
                if n.id == name:
                    return True
                if depth < 10 and any(self.depends_on(v, name, scope, depth + 1, seen) for v in scope.all(n.id)):
                    return True
        return False

    current_params: Set[str] = set()

    @staticmethod
    def calls_submodule(node: ast.AST) -> bool:
        """The detached expression runs `self.layer(...)`: trainable work is cut off (a fixed table isn't)."""
        inner = node.func.value if isinstance(node, ast.Call) else node.value
        return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and
                   isinstance(n.func.value, ast.Name) and n.func.value.id == "self" for n in ast.walk(inner))

    def graph_breaks(self):
        for fn, kind in self.loss_scopes():
            scope = self.scope(fn)
            ps = params(fn)
            self.current_params = set(ps)
            for ret in self.returned(fn):
                hits: list = []
                live: list = []
                self.value_path(ret, True, scope, set(), hits, live)
                for node, op, additive in hits:
                    where = "loss" if kind == "loss" else f"{self.f.enclosing_class(fn).name}.forward"
                    if op in GRAPH_BREAK_CALLS and additive:
                        self.add(node, "graph-break-in-loss",
                                 f".{op}() turns a term of the value {fn.name}() returns into a plain number, "
                                 "so that term sends no gradient back: keep it a tensor")
                    elif op in ("detach", "data") and kind == "loss" and additive and ps:
                        inner = node.func.value if isinstance(node, ast.Call) else node.value
                        if self.depends_on(inner, ps[0], scope):
                            self.add(node, "detach-in-loss",
                                     f"{text(node)} detaches the prediction ({ps[0]}) inside the {where}, so "
                                     "this term sends no gradient back to the model")
                cut = [n for n, op, _ in hits if op in ("detach", "data") and self.calls_submodule(n)]
                if kind == "forward" and not live and cut:
                    node = cut[0]
                    self.add(node, "detach-in-loss",
                             f"everything {fn.name}() returns passes through {text(node)}, so no gradient "
                             "reaches this module's parameters or inputs")
            self.current_params = set()

    # -------------------------------------------------------------- schedulers

    def epoch_sized(self, cls: str, e: Optional[ast.AST]) -> bool:
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

    def one_step_helper(self, call: ast.AST) -> bool:
        """A call to a same-file function that does one training step (backward or step, not in a loop)."""
        if not isinstance(call, ast.Call):
            return False
        for d in self.helper_defs(call):
            for n in walk_scope(d):
                if (self.is_backward(n) or self.step_receiver(n) is not None) and not self.loops_of(n, d):
                    return True
        return False

    def schedulers(self):
        for call in self.f.calls:
            if not method_call(call, {"step"}) or call.args:
                continue
            recv = call.func.value
            scope = self.f.scope_of(call)
            local = [n for n in walk_scope(scope) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                     and any(text(t) == text(recv) for t in n.targets) and pos(n) < pos(call)]
            if local:  # the constructor in this function wins over bindings elsewhere in the file
                ctor = max(local, key=pos).value
                cls = attr_name(ctor.func)
            else:
                ctor, cls = self.f.ctor.get(text(recv)), self.f.bound_class(recv)
            if cls not in EPOCH_SCHEDULERS or ctor is None:
                continue
            loops = self.loops_of(call, scope)
            if len(loops) < 2:
                continue
            inner = loops[0]
            if not any((self.step_receiver(n) is not None or self.is_backward(n) or self.one_step_helper(n)) and
                       self.loops_of(n, scope)[:1] == [inner] for n in walk_scope(inner)):
                continue  # the inner loop must be the batch loop itself, not an epoch loop calling a helper
            if any(isinstance(a, ast.If) for a in self.f.ancestors(call, inner)):
                continue  # stepped only on some batches (e.g. at epoch boundaries)
            argname, idx = EPOCH_SCHEDULERS[cls]
            a = arg(ctor, argname, idx)
            if self.epoch_sized(cls, a):
                self.add(call, "per-epoch-scheduler-in-batch-loop",
                         f"{text(recv)} is a {cls}({argname}={text(a)}), sized in epochs, but .step() runs "
                         "every batch, so the LR decays len(loader) times too fast: step it once per epoch "
                         "(after the batch loop), or size it in steps")

    # -------------------------------------------------------------- functional dropout

    def functional_dropout(self):
        for call in self.f.calls:
            name = attr_name(call.func)
            cls = self.f.enclosing_class(call) if name in DROPOUT_FUNCS else None
            if cls is None or not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and
                                      n.name == "forward" for n in cls.body):
                continue  # only modules (classes with a forward) have a mode to ignore
            canon = self.f.canon(call.func)
            if not canon.startswith("torch.nn.functional.") and canon != "torch." + name:
                continue
            training = arg(call, "training", 2) if canon.startswith("torch.nn.functional.") else arg(call, "train", 2)
            if training is None and canon.startswith("torch.nn.functional."):
                msg = f"{text(call.func)}() defaults to training=True"
            elif isinstance(training, ast.Constant) and training.value is True:
                msg = f"{text(call.func)}(..., {text(training)})"
            else:
                continue
            self.add(call, "functional-dropout-always-on",
                     f"{msg}, so dropout stays on after model.eval() and evaluation is noisy: pass "
                     "training=self.training, or use an nn.Dropout module")


# ------------------------------------------------------------------ files and the command


def python_files(path: str) -> Iterator[str]:
    if os.path.isfile(path):
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS and
                         not os.path.exists(os.path.join(root, d, "pyvenv.cfg")))
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(root, name)


def lint_source(source: str, path: str = "<string>") -> List[dict]:
    """Findings for one source text (raises SyntaxError on bad code)."""
    tree = ast.parse(source, filename=path)
    info = FileInfo(path, tree, source)
    return [{"file": path, "line": line, "rule": rule, "message": msg, "ref": f"{REF}#{rule}"}
            for line, rule, msg in Linter(info).run()]


def lint_file(path: str) -> List[dict]:
    with open(path, encoding="utf-8") as fh:
        return lint_source(fh.read(), path)


EPILOG = """\
examples:
  python scripts/lint.py train.py                 one file
  python scripts/lint.py src/ examples/           directories, recursively (skips hidden dirs and venvs)
  python scripts/lint.py src/ --json              one JSON document on stdout
  python scripts/lint.py src/ --ignore no-grad-without-eval
  python scripts/lint.py --list-rules

output: one line per finding, `file:line: rule-id message [refs/static_analysis.md#rule-id]`.
--json: {"files": N, "findings": [{"file", "line", "rule", "message", "ref"}], "errors": [...]}.
Silence one line with a comment `# ml-debug: ignore` or `# ml-debug: ignore[rule-id,...]`.
The code is parsed with `ast`, never imported or run; torch need not be installed.

exit status: 0 no findings, 1 findings,
             2 bad arguments, a path that does not exist, or a file that could not be parsed
               (the other files are still linted and reported).
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ml-debug lint", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Static checks for silent PyTorch training bugs (softmax into cross-entropy, "
                            "view used as transpose, missing zero_grad/eval/train, ...). "
                            "See refs/static_analysis.md.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="Python files or directories")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout and nothing else")
    p.add_argument("--select", metavar="IDS", help="comma-separated rule ids to run (default: all)")
    p.add_argument("--ignore", metavar="IDS", help="comma-separated rule ids to leave out")
    p.add_argument("--list-rules", action="store_true", help="print the rule ids with a line each and exit")
    return p


def _ids(s: Optional[str]) -> Optional[Set[str]]:
    if s is None:
        return None
    ids = {x.strip() for x in s.split(",") if x.strip()}
    bad = sorted(ids - set(RULES))
    if bad:
        raise ValueError(f"unknown rule id(s): {', '.join(bad)}; see --list-rules")
    return ids


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.list_rules:
        for rid, desc in RULES.items():
            print(f"{rid:36} {desc}")
        return EXIT_OK
    try:
        select, ignore = _ids(args.select), _ids(args.ignore) or set()
    except ValueError as e:
        print(f"ml-debug lint: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not args.paths:
        print("ml-debug lint: error: give at least one file or directory (see --help)", file=sys.stderr)
        return EXIT_USAGE
    findings: List[dict] = []
    errors: List[dict] = []
    n_files = 0
    for path in args.paths:
        if not os.path.exists(path):
            errors.append({"file": path, "line": 0, "message": "no such file or directory"})
            continue
        for f in python_files(path):
            n_files += 1
            try:
                found = lint_file(f)
            except SyntaxError as e:
                errors.append({"file": f, "line": e.lineno or 0, "message": f"syntax error: {e.msg}"})
                continue
            except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
                errors.append({"file": f, "line": 0, "message": f"cannot read: {e}"})
                continue
            findings.extend(x for x in found
                            if (select is None or x["rule"] in select) and x["rule"] not in ignore)
    if args.json:
        print(json.dumps({"files": n_files, "findings": findings, "errors": errors}, indent=2))
    else:
        for x in findings:
            print(f"{x['file']}:{x['line']}: {x['rule']} {x['message']} [{x['ref']}]")
        for e in errors:
            print(f"{e['file']}:{e['line']}: error {e['message']}", file=sys.stderr)
        print(f"{len(findings)} finding(s) in {n_files} file(s)" +
              (f", {len(errors)} error(s)" if errors else ""), file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_FINDINGS if findings else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
