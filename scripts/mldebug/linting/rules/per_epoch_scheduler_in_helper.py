"""per-epoch-scheduler-in-helper: an epoch-sized LR scheduler (StepLR, MultiStepLR, ExponentialLR,
CosineAnnealingLR counted in epochs) handed to a helper, `train_one_epoch(model, loader, opt, sched)`
or a trainer method reading `self.scheduler`, that steps it inside its batch loop, while the helper
runs once per epoch. The scheduler is followed from its constructor through the call into the
helper's parameter, in the same file or in another file given on the same command line."""
import ast
from typing import Iterator, List, Optional, Tuple

from .. import rule
from ..analysis import Analysis, argument_for, call_sites, is_method
from ..base import FUNCS, arg, attr_name, method_call, pos, text, walk_scope
from ..training import EPOCH_SCHEDULERS, epoch_sized, is_batch_loop, scheduler_ctor

MAX_HOPS = 2  # helpers that pass the scheduler on: train() -> train_one_epoch() is one hop


def existence_test(test: ast.AST, recv: ast.AST) -> bool:
    """`if sched:` / `if sched is not None:`: the step still runs on every batch."""
    if text(test) == text(recv):
        return True
    return isinstance(test, ast.Compare) and text(test.left) == text(recv) and len(test.ops) == 1 and \
        isinstance(test.ops[0], ast.IsNot) and isinstance(test.comparators[0], ast.Constant) and \
        test.comparators[0].value is None


def stepped_every_batch(a: Analysis, call: ast.Call, fn: ast.AST) -> Optional[List[ast.AST]]:
    """The loops around `call` in `fn` (innermost first) when it runs on every pass of a batch loop."""
    loops = a.loops_of(call, fn)
    if not loops or not is_batch_loop(a, loops[0], fn):
        return None
    child = call
    for x in a.f.ancestors(call, loops[0]):
        if isinstance(x, ast.If) and not (existence_test(x.test, call.func.value) and
                                          any(child is s for s in x.body)):
            return None  # stepped only on some batches (every k steps, at epoch boundaries)
        child = x
    return loops


Source = Tuple[Analysis, ast.Call, Analysis, ast.Call, Optional[str]]


def passed_in(a: Analysis, fn: ast.AST, param: str, hops: int = 0) -> Iterator[Source]:
    """(caller, call of fn, file of the constructor, scheduler constructor, class) for each call that
    passes a scheduler built in the caller (or further up, through the caller's own parameter) as `param`."""
    for ca, site in call_sites(a, fn):
        e = argument_for(fn, site, param)
        if e is None:
            continue
        if isinstance(e, ast.Call):
            yield ca, site, ca, e, attr_name(e.func)
            continue
        if not isinstance(e, (ast.Name, ast.Attribute)):
            continue
        ctor, cls = scheduler_ctor(ca, e, site)
        if ctor is not None:
            yield ca, site, ca, ctor, cls
            continue
        outer = ca.f.scope_of(site)
        if hops < MAX_HOPS and isinstance(e, ast.Name) and isinstance(outer, FUNCS) and \
                e.id in [p.arg for p in outer.args.posonlyargs + outer.args.args + outer.args.kwonlyargs]:
            for _ca2, _site2, cc, ctor2, cls2 in passed_in(ca, outer, e.id, hops + 1):
                yield ca, site, cc, ctor2, cls2


def where(a: Analysis, ca: Analysis, node: ast.AST) -> str:
    return f"line {node.lineno}" if ca.f is a.f else f"{ca.f.path}:{node.lineno}"


@rule("per-epoch-scheduler-in-helper")
def check(a):
    for call in a.f.calls:
        if not method_call(call, {"step"}) or call.args or call.keywords:
            continue
        recv = call.func.value
        fn = a.f.scope_of(call)
        if not isinstance(fn, FUNCS):
            continue
        loops = stepped_every_batch(a, call, fn)
        if loops is None:
            continue
        found = None
        if isinstance(recv, ast.Name):
            names = [p.arg for p in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
            local = [n for n in walk_scope(fn) if isinstance(n, ast.Name) and n.id == recv.id and
                     isinstance(n.ctx, ast.Store)]
            if recv.id not in names or local:
                continue  # built or rebound in the helper itself: per-epoch-scheduler-in-batch-loop's case
            if len(loops) >= 2 and scheduler_ctor(a, recv, call)[1] in EPOCH_SCHEDULERS:
                continue  # per-epoch-scheduler-in-batch-loop already reads it through a file-wide binding
            for ca, site, cc, ctor, cls in passed_in(a, fn, recv.id):
                if len(loops) < 2 and not ca.loops_of(site, ca.f.scope_of(site)):
                    continue  # the helper runs once, not once per epoch
                if cls in EPOCH_SCHEDULERS:
                    argname, idx = EPOCH_SCHEDULERS[cls]
                    size = arg(ctor, argname, idx)
                    if epoch_sized(cls, size):
                        found = (f"the scheduler the call at {where(a, ca, site)} passes in is a "
                                 f"{cls}({argname}={text(size)}) (built at {where(a, cc, ctor)})")
                        break
        elif isinstance(recv, ast.Attribute) and isinstance(recv.value, ast.Name) and recv.value.id == "self" \
                and is_method(a, fn) and len(loops) < 2:
            ctor, cls = a.f.ctor.get(text(recv)), a.f.bound_class(recv)
            if cls not in EPOCH_SCHEDULERS or ctor is None:
                continue
            argname, idx = EPOCH_SCHEDULERS[cls]
            size = arg(ctor, argname, idx)
            if not epoch_sized(cls, size):
                continue
            owner = a.f.parent.get(fn)
            sites = [c for c in a.f.calls if isinstance(c.func, ast.Attribute) and c.func.attr == fn.name and
                     isinstance(c.func.value, ast.Name) and c.func.value.id == "self" and
                     a.f.enclosing_class(c) is owner and a.loops_of(c, a.f.scope_of(c))]
            if sites:
                site = min(sites, key=pos)
                found = (f"line {site.lineno} calls {fn.name}() in a loop, and {text(recv)} is a "
                         f"{cls}({argname}={text(size)}) (built at line {ctor.lineno})")
        if found:
            yield call, (f"{text(recv)}.step() runs on every batch of {fn.name}(), but {found}, sized in epochs: "
                         "the LR decays len(loader) times too fast; step it once per epoch, after "
                         f"{fn.name}() returns, or size the schedule in steps")
