"""no-grad-without-eval: an evaluation loop under torch.no_grad()/inference_mode() in a training file
that never calls .eval(): dropout and BatchNorm stay in training mode during evaluation."""
import ast
from typing import List, Tuple

from .. import rule
from ..base import FUNCS, attr_name, walk_scope
from ..training import computes_loss, is_backward, is_eval_call, is_no_grad_ctx


@rule("no-grad-without-eval")
def check(a):
    if any(is_eval_call(n) for n in a.f.nodes):
        return
    if not any(is_backward(n) for n in a.f.nodes):
        return  # model code or a library: the training script that calls it decides the mode
    called = {attr_name(c.func) for c in a.f.calls}
    blocks: List[Tuple[ast.AST, ast.AST]] = []  # (where to report, body holder)
    for n in a.f.nodes:
        if isinstance(n, (ast.With, ast.AsyncWith)) and any(is_no_grad_ctx(i.context_expr) for i in n.items):
            blocks.append((n, n))
        elif isinstance(n, FUNCS) and any(is_no_grad_ctx(d) for d in n.decorator_list):
            blocks.append((n, n))
    for where, holder in blocks:
        scope = holder if isinstance(holder, FUNCS) else a.f.scope_of(holder)
        if isinstance(scope, FUNCS) and scope.name not in called:
            continue  # called from another file, which may well call .eval() first
        loops = [x for x in walk_scope(holder) if isinstance(x, (ast.For, ast.AsyncFor))]
        if isinstance(holder, ast.With):
            loops = [x for x in ast.walk(holder) if isinstance(x, (ast.For, ast.AsyncFor))]
        if any(computes_loss(a, lp) for lp in loops):
            yield where, ("an evaluation loop runs under no_grad/inference_mode, but this file never calls "
                          "model.eval(): dropout stays on and BatchNorm uses batch statistics during evaluation "
                          "(no_grad only turns off gradient tracking)")
