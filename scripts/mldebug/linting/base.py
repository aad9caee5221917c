"""Small `ast` helpers and the name tables shared by the lint rules (no torch import)."""
from __future__ import annotations

import ast
import re
from typing import Iterable, Iterator, List, Optional, Tuple

# defaults for module aliases that are almost always these, when the file's imports don't say
DEFAULT_ALIASES = {"F": "torch.nn.functional", "nn": "torch.nn", "optim": "torch.optim", "torch": "torch"}

OPTIMIZER_CLASSES = {"SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta",
                     "LBFGS", "SparseAdam", "ASGD", "Rprop", "Adafactor", "Lion", "Muon", "Adan", "LAMB",
                     "Lamb", "FusedAdam", "DeepSpeedCPUAdam", "AdamW8bit", "Adam8bit", "Sophia", "Shampoo"}
SCHEDULER_HINT = re.compile(r"(LR|Scheduler|Schedule|Warmup)$")
LOSS_CLASSES = {"CrossEntropyLoss": "ce", "NLLLoss": "nll", "BCEWithLogitsLoss": "bcel", "BCELoss": "bce"}
LOSS_FUNCS = {"cross_entropy": "ce", "nll_loss": "nll", "binary_cross_entropy_with_logits": "bcel",
              "binary_cross_entropy": "bce"}
# calls whose result is a plain Python/numpy number: no gradient flows through it
GRAPH_BREAK_CALLS = {"item", "tolist", "numpy"}
# calls that reorder or merge axes; a .view/.reshape after one may legitimately use any order
LAYOUT_OPS = {"transpose", "permute", "movedim", "moveaxis", "swapaxes", "swapdims", "t", "einsum", "rearrange",
              "flatten", "unflatten", "transpose_", "t_"}


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


def end_pos(node: ast.AST) -> Tuple[int, int]:
    return getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0


FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
LOOPS = (ast.For, ast.While, ast.AsyncFor)


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
