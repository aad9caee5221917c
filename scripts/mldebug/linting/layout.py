"""Axis order through a chain of view/reshape/transpose/permute calls, inside one function.

A tensor's layout is the list of its axes; an axis is the tuple of the sizes multiplied into it, in
memory order, each size a symbol `(tensor, axis, version)` read off a shape
(`b, t, d = x.shape` gives x the axes `(b,), (t,), (d,)`), or None when unknown. Following
`x.transpose(1, 2).reshape(t, b, d)` from that unpack, the receiver of the reshape has the axes
`(b,), (d,), (t,)`; the reshape asks for `t, b, d`. A reshape keeps the elements in memory order,
so when two sizes appear in the opposite order to the axes they name, the reshape regroups memory
instead of moving axes: elements of different batch items (or time steps) end up mixed.

Everything here errs towards "unknown": a name bound in a branch or in a loop, an in-place
layout change, an unknown function or module, an index that depends on the rank when the rank is
unknown, all give no layout, so the rule that uses it stays quiet.
"""
from __future__ import annotations

import ast
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from .analysis import Analysis
from .base import end_pos, int_const, pos, text, walk_scope
from .shapes import shape_source

Sym = Tuple[str, int, object]          # (tensor name, axis, version of the tensor's binding)
Axis = Tuple[Optional[Sym], ...]       # sizes multiplied into one axis, in memory order; () is a size-1 axis
AMBIGUOUS = object()                   # a name whose binding here depends on the path taken
ENTRY = "entry"                        # a parameter / global: bound before the function starts
MAX_DEPTH = 40                         # how far back through assignments a chain is followed

# blocks that may run zero times or on one path only: a binding inside one does not surely reach past it
CONDITIONAL = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.ExceptHandler, ast.IfExp)
if hasattr(ast, "Match"):
    CONDITIONAL = CONDITIONAL + (ast.Match,)
if hasattr(ast, "TryStar"):
    CONDITIONAL = CONDITIONAL + (ast.TryStar,)
LOOP_NODES = (ast.For, ast.AsyncFor, ast.While)

# methods that change a tensor's shape in place: the name's layout can no longer be followed
INPLACE_LAYOUT = {"transpose_", "t_", "unsqueeze_", "squeeze_", "resize_", "resize_as_", "as_strided_",
                  "swapaxes_", "swapdims_", "set_", "resize"}
# methods and torch/F functions that keep their (first) input's axes as they are
SAME_LAYOUT = {"contiguous", "clone", "detach", "float", "double", "half", "bfloat16", "long", "int", "bool",
               "to", "cuda", "cpu", "type", "type_as", "requires_grad_", "relu", "relu_", "gelu", "silu", "sigmoid",
               "tanh", "exp", "log", "abs", "neg", "sqrt", "rsqrt", "softmax", "log_softmax", "masked_fill",
               "masked_fill_", "clamp", "clamp_", "clip", "mul_", "add_", "sub_", "div_", "sign", "square", "elu",
               "leaky_relu", "mish", "hardswish", "dropout", "layer_norm", "normalize", "erf", "sin", "cos"}
# out-of-place arithmetic methods: like `x * y`, a tensor argument may broadcast extra leading axes in
BROADCASTING = {"mul", "add", "sub", "div", "pow", "multiply", "subtract", "divide"}
# module classes whose output has the input's axes; Linear-like ones keep all but the last
SAME_LAYOUT_MODULES = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "LayerNorm", "RMSNorm",
                       "ReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Identity", "Softmax", "LogSoftmax",
                       "LeakyReLU", "ELU", "Mish", "Hardswish", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
                       "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"}
LAST_AXIS_MODULES = {"Linear", "LazyLinear"}
SWAP_OPS = {"transpose", "swapaxes", "swapdims"}
MATMUL_OPS = {"matmul", "bmm", "mm"}


class Layout:
    """Axes of a tensor. `head`: unknown extra axes may come first (after broadcasting with an unknown
    tensor); `tail`: unknown axes may follow (a partial unpack such as `b, t = x.shape[:2]`).
    `steps`: the layout calls on the way, for messages."""

    def __init__(self, axes: Sequence[Axis], head=False, tail=False, steps: Tuple[str, ...] = ()):
        self.axes, self.head, self.tail, self.steps = tuple(tuple(x) for x in axes), head, tail, steps

    @property
    def closed(self) -> bool:
        return not self.head and not self.tail

    def flat(self) -> List[Optional[Sym]]:
        return [s for ax in self.axes for s in ax]

    def with_(self, axes=None, head=None, tail=None, step: Optional[str] = None) -> "Layout":
        return Layout(self.axes if axes is None else axes, self.head if head is None else head,
                      self.tail if tail is None else tail, self.steps + ((step,) if step else ()))

    def index(self, i: Optional[int], insert: bool = False) -> Optional[int]:
        """Position of axis `i` in self.axes (of a slot for a new axis, with insert), or None when the
        rank needed to place it is unknown or it is out of range."""
        if i is None:
            return None
        n = len(self.axes) + (1 if insert else 0)
        if i >= 0:
            return i if not self.head and i < n else None
        return n + i if not self.tail and n + i >= 0 else None


class Flow:
    """Where each name of one scope is bound, to answer "which binding reaches this use?"."""

    def __init__(self, a: Analysis, scope: ast.AST):
        self.a, self.scope = a, scope
        self.events: Dict[str, List[Tuple[Tuple[int, int], ast.AST, Optional[ast.AST]]]] = {}
        self.unpacks: Dict[str, List[Tuple[ast.Assign, int, bool]]] = {}
        self.inplace: set = set()
        for n in walk_scope(scope):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                self._bind(n)
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and \
                    isinstance(n.func.value, ast.Name) and n.func.attr in INPLACE_LAYOUT:
                self.inplace.add(n.func.value.id)
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and \
                    isinstance(n.value, ast.Name) and n.attr in ("shape", "data"):
                self.inplace.add(n.value.id)  # numpy `x.shape = ...`, `x.data = ...`
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], (ast.Tuple, ast.List)):
                src, start = shape_source(n.value)
                if isinstance(src, ast.Name) and start is not None and start >= 0 and \
                        not any(isinstance(e, ast.Starred) for e in n.targets[0].elts):
                    sliced = n.value.slice if isinstance(n.value, ast.Subscript) else None
                    tail = sliced is not None and sliced.upper is not None
                    self.unpacks.setdefault(src.id, []).append((n, start, tail))
        for evs in self.events.values():
            evs.sort(key=lambda e: e[0])

    def _bind(self, name: ast.Name):
        stmt = self.a.f.parent.get(name)
        while stmt is not None and not isinstance(stmt, (ast.stmt, ast.NamedExpr, ast.comprehension)):
            stmt = self.a.f.parent.get(stmt)
        value = None
        if isinstance(stmt, ast.Assign):
            at = end_pos(stmt)
            if len(stmt.targets) == 1 and stmt.targets[0] is name:
                value = stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            at = end_pos(stmt)
            value = stmt.value if stmt.target is name else None
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            at = end_pos(stmt.iter)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            at = max((end_pos(i.context_expr) for i in stmt.items), default=end_pos(name))
        elif isinstance(stmt, ast.NamedExpr):
            at = end_pos(stmt)
            value = stmt.value
        elif isinstance(stmt, ast.AugAssign):
            at = end_pos(stmt)
        else:
            at = end_pos(name)
        self.events.setdefault(name.id, []).append((at, name, value))

    def in_branch_without(self, node: ast.AST, use: ast.AST) -> bool:
        """`node` sits in a conditional block or loop (inside this scope) that does not also hold `use`."""
        use_anc = set(map(id, self.a.f.ancestors(use, self.scope)))
        return any(isinstance(b, CONDITIONAL) and id(b) not in use_anc for b in self.a.f.ancestors(node, self.scope))

    def reaching(self, name: str, use: ast.AST):
        """The binding event of `name` that reaches `use`: (position, node, value or None), ENTRY when none
        in this scope does, AMBIGUOUS when it depends on the path (branch, loop)."""
        p = pos(use)
        evs = self.events.get(name, [])
        use_loops = {id(x) for x in self.a.f.ancestors(use, self.scope) if isinstance(x, LOOP_NODES)}
        for e in evs:
            if e[0] >= p and any(id(x) in use_loops for x in self.a.f.ancestors(e[1], self.scope)
                                 if isinstance(x, LOOP_NODES)):
                return AMBIGUOUS  # rebound later in a loop that also runs this use
        before = [e for e in evs if e[0] < p]
        if not before:
            return ENTRY
        last = before[-1]
        if self.in_branch_without(last[1], use):
            return AMBIGUOUS
        return last

    def version(self, name: str, use: ast.AST):
        r = self.reaching(name, use)
        return r if r is AMBIGUOUS or r == ENTRY else r[0]


class Tracker:
    """Layouts of tensor expressions in one scope (see the module docstring)."""

    def __init__(self, a: Analysis, scope: ast.AST):
        self.a, self.scope = a, scope
        self.flow = Flow(a, scope)
        self.names: Dict[Sym, str] = {}   # how to print a symbol

    # ------------------------------------------------------------ sizes

    def size_symbol(self, e: ast.AST) -> Optional[Sym]:
        """The symbol of a size expression: `t` bound by `b, t, d = x.shape`, `x.size(1)`, `x.shape[1]`."""
        sym = None
        if isinstance(e, ast.Name):
            r = self.flow.reaching(e.id, e)
            if r is AMBIGUOUS or r == ENTRY:
                return None
            stmt = self.a.f.parent.get(r[1])
            if isinstance(stmt, (ast.Tuple, ast.List)):
                holder = self.a.f.parent.get(stmt)
                if isinstance(holder, ast.Assign) and len(holder.targets) == 1 and holder.targets[0] is stmt:
                    src, start = shape_source(holder.value)
                    if isinstance(src, ast.Name) and start is not None and start >= 0 and \
                            not any(isinstance(x, ast.Starred) for x in stmt.elts):
                        i = next(k for k, x in enumerate(stmt.elts) if x is r[1])
                        v = self.flow.version(src.id, holder.value)
                        sym = (src.id, start + i, v) if v is not AMBIGUOUS else None
            elif r[2] is not None:
                sym = self.inline_symbol(r[2])
        else:
            sym = self.inline_symbol(e)
        if sym is not None:
            self.names.setdefault(sym, text(e))
        return sym

    def inline_symbol(self, e: ast.AST) -> Optional[Sym]:
        t, k = None, None
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "size" and \
                len(e.args) == 1 and not e.keywords:
            t, k = e.func.value, int_const(e.args[0])
        elif isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
            t, k = e.value.value, int_const(e.slice)
        if not isinstance(t, ast.Name) or k is None or k < 0:
            return None
        v = self.flow.version(t.id, e)
        return (t.id, k, v) if v is not AMBIGUOUS else None

    def request(self, sizes: List[ast.AST]) -> Optional[List[object]]:
        """The axes a view/reshape asks for: a tuple of symbols (None unknown) per size, or "infer" for -1."""
        if any(isinstance(s, ast.Starred) for s in sizes) or not sizes:
            return None
        out: List[object] = []
        for s in sizes:
            if int_const(s) == -1:
                out.append("infer")
                continue
            out.append(tuple(self.factors(s)))
        return out

    def factors(self, e: ast.AST) -> List[Optional[Sym]]:
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
            return self.factors(e.left) + self.factors(e.right)
        c = int_const(e)
        if c == 1:
            return []
        if c is not None:
            return [None]
        return [self.size_symbol(e)]

    # ------------------------------------------------------------ layouts

    def of_name(self, node: ast.Name, depth: int) -> Optional[Layout]:
        name = node.id
        if name in self.flow.inplace:
            return None
        r = self.flow.reaching(name, node)
        if r is AMBIGUOUS:
            return None
        ver = r if r == ENTRY else r[0]
        best = None
        for stmt, start, tail in self.flow.unpacks.get(name, []):
            if end_pos(stmt) < pos(node) and self.flow.version(name, stmt.value) == ver and \
                    not self.flow.in_branch_without(stmt, node) and (best is None or pos(stmt) > pos(best[0])):
                best = (stmt, start, tail)
        if best is not None:
            stmt, start, tail = best
            axes: List[Axis] = [(None,)] * start
            for i, x in enumerate(stmt.targets[0].elts):
                sym = (name, start + i, ver)
                if isinstance(x, ast.Name) and x.id != "_":
                    self.names.setdefault(sym, x.id)
                else:
                    self.names.setdefault(sym, f"{name}.shape[{start + i}]")
                axes.append((sym,))
            return Layout(axes, tail=tail)
        if r == ENTRY or r[2] is None:
            return None
        return self.of(r[2], depth + 1)

    def of(self, e: ast.AST, depth: int = 0) -> Optional[Layout]:
        """The layout of expression `e`, or None when it cannot be followed."""
        if e is None or depth > MAX_DEPTH:
            return None
        if isinstance(e, ast.Name):
            return self.of_name(e, depth)
        if isinstance(e, ast.Attribute):
            if e.attr in ("T", "H", "mT", "mH"):
                base = self.of(e.value, depth + 1)
                return self.reorder(base, "T" if e.attr in ("T", "H") else "mT", [], f".{e.attr}")
            return None
        if isinstance(e, ast.BinOp):
            return self.binop(e, depth)
        if isinstance(e, ast.IfExp):
            x, y = self.of(e.body, depth + 1), self.of(e.orelse, depth + 1)
            return x if x is not None and y is not None and (x.axes, x.head, x.tail) == (y.axes, y.head, y.tail) \
                else None
        if isinstance(e, ast.Call):
            return self.call(e, depth)
        return None

    def binop(self, e: ast.BinOp, depth: int) -> Optional[Layout]:
        if isinstance(e.op, ast.MatMult):
            return self.matmul(self.of(e.left, depth + 1), self.of(e.right, depth + 1))
        if not isinstance(e.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv)):
            return None
        if self.scalar(e.left) or self.scalar(e.right):
            return None if self.scalar(e.left) and self.scalar(e.right) else \
                self.of(e.right if self.scalar(e.left) else e.left, depth + 1)  # a number keeps the axes
        x, y = self.of(e.left, depth + 1), self.of(e.right, depth + 1)
        if x is not None and y is not None:
            if x.closed and y.closed:
                return x if len(x.axes) >= len(y.axes) else y
            return x.with_(head=True)
        known = x or y
        # broadcasting with an unknown tensor may add leading axes, never reorders the known ones
        return known.with_(head=True) if known is not None else None

    def scalar(self, e: ast.AST) -> bool:
        """A plain number: a constant, a size, math.*(...), int()/float(), or arithmetic on those."""
        if isinstance(e, ast.Constant):
            return isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
        if isinstance(e, ast.UnaryOp):
            return self.scalar(e.operand)
        if isinstance(e, ast.BinOp):
            return self.scalar(e.left) and self.scalar(e.right)
        if isinstance(e, ast.Call):
            if isinstance(e.func, ast.Name) and e.func.id in ("int", "float", "len"):
                return True
            if isinstance(e.func, ast.Attribute) and (self.a.f.canon(e.func).startswith("math.") or
                                                      e.func.attr in ("size", "item", "numel", "dim") and
                                                      len(e.args) <= 1):
                return True
        if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
            return True
        return self.inline_symbol(e) is not None or (isinstance(e, ast.Name) and self.size_symbol(e) is not None)

    @staticmethod
    def matmul(x: Optional[Layout], y: Optional[Layout]) -> Optional[Layout]:
        """x @ y: x's axes but the last, then y's last; extra batch axes of y may come first."""
        if x is None or y is None or x.tail or y.tail or len(x.axes) < 2 or len(y.axes) < 2:
            return None
        return Layout(x.axes[:-1] + y.axes[-1:], head=x.head or y.head or len(y.axes) > len(x.axes),
                      steps=x.steps + y.steps)

    def call(self, e: ast.Call, depth: int) -> Optional[Layout]:
        fn, args = e.func, list(e.args)
        if any(isinstance(x, ast.Starred) for x in args) or not isinstance(fn, (ast.Name, ast.Attribute)):
            return None
        if isinstance(fn, ast.Name) or (isinstance(fn.value, ast.Name) and fn.value.id == "self"):
            cls = self.a.class_of(fn) if isinstance(fn, ast.Name) else self.a.f.bound_class(fn)
            if cls in SAME_LAYOUT_MODULES or cls in LAST_AXIS_MODULES:   # self.norm(x), self.proj(x)
                if len(args) != 1 or e.keywords:
                    return None
                base = self.of(args[0], depth + 1)
                if base is None or cls in SAME_LAYOUT_MODULES:
                    return base
                return base.with_(axes=base.axes[:-1] + ((None,),)) if base.axes and not base.tail else base
            if not (isinstance(fn, ast.Name) and self.a.f.canon(fn).startswith("torch.") and args):
                return None                                     # a helper or model of unknown effect
            name, tensor, rest = fn.id, args[0], args[1:]       # from torch import flatten
        elif self.a.is_module_path(fn.value):
            if not self.a.f.canon(fn).startswith("torch.") or not args:
                return None  # numpy/math functions follow other conventions (np.transpose takes a permutation)
            name, tensor, rest = fn.attr, args[0], args[1:]    # torch.transpose(x, 0, 1)
        else:
            name, tensor, rest = fn.attr, fn.value, args        # x.transpose(0, 1)
        return self.tensor_op(name, tensor, rest, e.keywords, depth)

    def tensor_op(self, name: str, tensor: ast.AST, rest: List[ast.AST], keywords, depth: int) -> Optional[Layout]:
        ints = [int_const(x) for x in rest]
        step = f".{name}({', '.join(text(x) for x in rest)})"
        if name in MATMUL_OPS and len(rest) == 1 and not keywords:
            return self.matmul(self.of(tensor, depth + 1), self.of(rest[0], depth + 1))
        if name in ("view", "reshape"):
            if any(k.arg == "order" for k in keywords):
                return None                                     # numpy's order="F" reads column-major
            sizes = rest[0].elts if len(rest) == 1 and isinstance(rest[0], (ast.Tuple, ast.List)) else rest
            req = self.request(list(sizes))
            if req is None:
                return None
            base = self.of(tensor, depth + 1)
            return Layout(self.resolve(req, base), steps=base.steps if base is not None else ())
        if name in SAME_LAYOUT:
            return self.of(tensor, depth + 1)
        if name in BROADCASTING and len(rest) == 1:
            base = self.of(tensor, depth + 1)
            return base if base is None or self.scalar(rest[0]) else base.with_(head=True)
        if name not in SWAP_OPS | {"permute", "movedim", "moveaxis", "t", "flatten", "unsqueeze", "squeeze"}:
            return None
        base = self.of(tensor, depth + 1)
        if base is None:
            return None
        kw = {k.arg: int_const(k.value) for k in keywords}
        if name == "flatten" and set(kw) <= {"start_dim", "end_dim"}:
            if kw:
                ints = [kw.get("start_dim", ints[0] if ints else 0),
                        kw.get("end_dim", ints[1] if len(ints) > 1 else -1)]
        elif keywords:
            return None
        if name in ("flatten", "unsqueeze", "squeeze"):
            return self.reshape_axes(base, name, ints, step)
        if name == "permute" and len(rest) == 1 and isinstance(rest[0], (ast.Tuple, ast.List)):
            ints = [int_const(x) for x in rest[0].elts]
        return self.reorder(base, name, ints, step)

    def resolve(self, req: List[object], base: Optional[Layout]) -> List[Axis]:
        """Request axes with a -1 filled in from the input's sizes, when every size is known."""
        known = [x for ax in req if ax != "infer" for x in ax]
        rest: Optional[Axis] = None
        if req.count("infer") == 1 and base is not None and base.closed and None not in known \
                and None not in base.flat():
            need = Counter(known)
            left = []
            for x in base.flat():
                if need[x] > 0:
                    need[x] -= 1
                else:
                    left.append(x)
            rest = tuple(left) if not any(v > 0 for v in need.values()) else None
        return [(rest if rest is not None else (None,)) if ax == "infer" else ax for ax in req]

    def reorder(self, base: Optional[Layout], name: str, ints: List[Optional[int]], step: str) -> Optional[Layout]:
        if base is None or None in ints:
            return None
        axes = list(base.axes)
        if name in SWAP_OPS and len(ints) == 2:
            i, j = base.index(ints[0]), base.index(ints[1])
            if i is None or j is None:
                return None
            if name == "transpose" and len(axes) == 2 and base.closed and i < j and self.numpy_file():
                return None  # numpy's a.transpose(0, 1) keeps a 2-D array as it is; torch's swaps
            axes[i], axes[j] = axes[j], axes[i]
            return base.with_(axes=axes, step=step)
        if name == "t" and not ints and base.closed and len(axes) <= 2:
            return base.with_(axes=axes[::-1], step=step)
        if name == "T" and base.closed:
            return base.with_(axes=axes[::-1], step=step)
        if name == "mT" and not base.tail and len(axes) >= 2:
            axes[-2], axes[-1] = axes[-1], axes[-2]
            return base.with_(axes=axes, step=step)
        if name in ("permute",) or (name == "transpose" and len(ints) > 2):
            if not base.closed or len(ints) != len(axes):
                return None
            idx = [base.index(i) for i in ints]
            if None in idx or sorted(idx) != list(range(len(axes))):
                return None
            return base.with_(axes=[axes[i] for i in idx], step=step)
        if name in ("movedim", "moveaxis") and len(ints) == 2 and base.closed:
            i, j = base.index(ints[0]), base.index(ints[1])
            if i is None or j is None:
                return None
            ax = axes.pop(i)
            axes.insert(j, ax)
            return base.with_(axes=axes, step=step)
        return None

    @staticmethod
    def reshape_axes(base: Layout, name: str, ints: List[Optional[int]], step: str) -> Optional[Layout]:
        axes = list(base.axes)
        if None in ints:
            return None
        if name == "flatten":
            s = ints[0] if len(ints) > 0 else 0
            t = ints[1] if len(ints) > 1 else -1
            i, j = base.index(s), base.index(t)
            if i is None or j is None or j < i:
                return None
            merged = tuple(f for ax in axes[i:j + 1] for f in ax)
            return base.with_(axes=axes[:i] + [merged] + axes[j + 1:], step=step)
        if name == "unsqueeze" and len(ints) == 1:
            i = base.index(ints[0], insert=True)
            if i is None:
                return None
            return base.with_(axes=axes[:i] + [()] + axes[i:])
        if name == "squeeze" and len(ints) == 1:
            i = base.index(ints[0])
            if i is None or axes[i] != ():
                return None  # only an axis we know has size 1 goes away
            return base.with_(axes=axes[:i] + axes[i + 1:])
        return None

    def numpy_file(self) -> bool:
        return any(v.split(".")[0] == "numpy" for v in self.a.f.aliases.values())

    def show(self, layout_or_axes) -> str:
        axes = layout_or_axes.axes if isinstance(layout_or_axes, Layout) else layout_or_axes
        parts = []
        for ax in axes:
            parts.append(" * ".join(self.names.get(s, "?") if s is not None else "?" for s in ax) if ax else "1")
        return "(" + ", ".join(parts) + ")"


def contradiction(actual: Layout, asked: List[Axis]) -> Optional[Tuple[Sym, Sym]]:
    """(p, q) when the request puts size p before size q but the tensor has q's axis before p's.
    Only sizes that appear once on each side count (`T, T` attention maps tell nothing)."""
    flat_a = actual.flat()
    flat_q = [s for ax in asked for s in ax]
    ca = Counter(s for s in flat_a if s is not None)
    cq = Counter(s for s in flat_q if s is not None)
    both = {s for s in ca if ca[s] == 1 and cq.get(s) == 1}
    order_a = [s for s in flat_a if s in both]
    order_q = [s for s in flat_q if s in both]
    if order_a == order_q:
        return None
    rank = {s: i for i, s in enumerate(order_a)}
    for i, p in enumerate(order_q):
        for q in order_q[i + 1:]:
            if rank[q] < rank[p]:
                return p, q
    return None
