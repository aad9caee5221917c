"""What the view/reshape rules share: sizes read off a tensor's shape (`B, T, C = x.shape`,
`x.size(1)`), the size arguments of a `.view`/`.reshape` call, and the places where a view with
"swapped" sizes is a trick on purpose (the relative-position shift)."""
from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Set, Tuple

from .analysis import Analysis
from .base import LAYOUT_OPS, attr_name, int_const, ordered, pos, text, walk_scope


def dim_source(e: ast.AST, table) -> Optional[Tuple[str, int]]:
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


def shape_source(v: ast.AST) -> Tuple[Optional[ast.AST], Optional[int]]:
    """(tensor, first axis) when `v` is `x.shape`, `x.size()` or a step-less slice of them (`x.shape[1:]`)."""
    start = 0
    if isinstance(v, ast.Subscript) and isinstance(v.slice, ast.Slice) and v.slice.step is None:
        start = int_const(v.slice.lower) if v.slice.lower is not None else 0
        v = v.value
    if isinstance(v, ast.Attribute) and v.attr == "shape":
        return v.value, start
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "size" and not v.args:
        return v.func.value, start
    return None, None


def dim_table(scope: ast.AST) -> Dict[str, Tuple[str, int]]:
    """name -> (tensor text, axis) for the names bound once in `scope` to a size of a tensor."""
    table: Dict[str, Tuple[str, int]] = {}
    rebound: Set[str] = set()
    for n in ordered(x for x in walk_scope(scope) if isinstance(x, ast.Assign)):
        for t in n.targets:
            srcnode, start = shape_source(n.value)
            src = text(srcnode) if srcnode is not None else None
            if isinstance(t, (ast.Tuple, ast.List)) and src is not None and start is not None and start >= 0:
                if any(isinstance(x, ast.Starred) for x in t.elts):
                    continue
                for i, x in enumerate(t.elts):
                    if isinstance(x, ast.Name) and x.id != "_":
                        (rebound.add(x.id) if x.id in table else None)
                        table[x.id] = (src, start + i)
            elif isinstance(t, ast.Name):
                d = dim_source(n.value, {})
                if t.id in table:
                    rebound.add(t.id)
                if d is not None and d[1] >= 0:
                    table[t.id] = d
    for name in rebound:  # a name bound twice is ambiguous: leave it out
        table.pop(name, None)
    return table


def size_parts(e: ast.AST) -> List[ast.AST]:
    """The factors of a size expression: `H * W` -> [H, W]; `C // nh` -> [C]."""
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
        return size_parts(e.left) + size_parts(e.right)
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.FloorDiv, ast.Div)):
        return size_parts(e.left)
    return [e]


def view_calls(a: Analysis, scope: ast.AST) -> List[Tuple[ast.Call, str, ast.AST, List[ast.AST]]]:
    """(call, 'view' | 'reshape', tensor expression, size arguments) for each view/reshape in `scope`:
    `x.view(B, T)`, `x.reshape((B, T))`, `torch.reshape(x, (B, T))`."""
    return a.memo(("view_calls", scope), lambda: _view_calls(a, scope))


def _view_calls(a: Analysis, scope: ast.AST) -> List[Tuple[ast.Call, str, ast.AST, List[ast.AST]]]:
    out = []
    for call in walk_scope(scope):
        if not isinstance(call, ast.Call):
            continue
        name = attr_name(call.func)
        if name not in ("view", "reshape") or not isinstance(call.func, ast.Attribute):
            continue
        if a.is_module_path(call.func.value):  # torch.reshape(x, shape)
            shape = call.args[1:2]
            tensor = call.args[0] if call.args else None
        else:
            shape = call.args
            tensor = call.func.value
        if len(shape) == 1 and isinstance(shape[0], (ast.Tuple, ast.List)):
            shape = shape[0].elts
        out.append((call, name, tensor, list(shape)))
    return out


def view_scopes(a: Analysis) -> List[ast.AST]:
    """Functions (and the module) holding a .view/.reshape call, in file order."""
    return a.memo("view_scopes", lambda: sorted({a.f.scope_of(c) for c in a.f.calls
                                                 if attr_name(c.func) in ("view", "reshape")}, key=pos))


def shift_trick(scope: ast.AST) -> bool:
    """pad-then-view: the relative-position shift trick (Transformer-XL) swaps sizes on purpose."""
    return any(isinstance(n, ast.Call) and attr_name(n.func) == "pad" for n in walk_scope(scope)) or \
        bool(re.search(r"shift|skew", getattr(scope, "name", ""), re.I))


def layout_lines(a: Analysis, scope: ast.AST) -> List[int]:
    """Lines of `scope` that transpose/permute/flatten/einsum (or read .T/.mT/.H/.mH)."""
    return a.memo(("layout_lines", scope), lambda: _layout_lines(scope))


def _layout_lines(scope: ast.AST) -> List[int]:
    return [n.lineno for n in walk_scope(scope)
            if (isinstance(n, ast.Call) and attr_name(n.func) in LAYOUT_OPS) or
            (isinstance(n, ast.Attribute) and n.attr in ("T", "mT", "H", "mH"))]


def sliced_after(a: Analysis, call: ast.AST, scope: ast.AST) -> bool:
    """The result of `call` is sliced next (`y[:, :, 1:]`): the view is a skewing trick, not a transpose."""
    holder = a.f.parent.get(call)
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
