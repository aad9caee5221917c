"""view-swaps-dims-after-transpose: after a transpose/permute/flatten in the same function, a
.view/.reshape whose sizes contradict the axis order the tensor actually has at that point, followed
through the chain of view/reshape/transpose/permute calls from a shape unpacked in the function
(`b, t, d = x.shape` ... `x.transpose(1, 2).reshape(t, b, d)`)."""
from .. import rule
from ..base import text
from ..layout import Tracker, contradiction
from ..shapes import layout_lines, shift_trick, sliced_after, view_calls, view_scopes

MAX_SHOWN = 60  # characters of the reshaped expression quoted in a message


@rule("view-swaps-dims-after-transpose")
def check(a):
    for scope in view_scopes(a):
        lines = layout_lines(a, scope)
        if not lines or shift_trick(scope):
            continue  # no layout change: view-swaps-dims covers it; pad-then-view: the shift trick
        tracker = None
        for call, name, tensor, shape in view_calls(a, scope):
            if tensor is None or not any(ln <= call.lineno for ln in lines) or \
                    any(k.arg == "order" for k in call.keywords) or sliced_after(a, call, scope):
                continue
            tracker = tracker or Tracker(a, scope)
            actual = tracker.of(tensor)
            req = tracker.request(shape) if actual is not None else None
            if req is None:
                continue
            hit = contradiction(actual, tracker.resolve(req, actual))
            if hit is None:
                continue
            p, q = (tracker.names.get(s, "?") for s in hit)
            what = text(tensor)
            what = what if len(what) <= MAX_SHOWN else "the tensor"
            after = f" (after {', '.join(actual.steps[-3:])})" if actual.steps else ""
            yield call, (f".{name}({', '.join(text(e) for e in shape)}) puts {p} before {q}, but {what} has the "
                         f"axes {tracker.show(actual)} here{after}: {name} keeps memory order, so it regroups "
                         f"elements across {q} and {p} instead of swapping them (mixing examples when one is the "
                         "batch); move the axes with .permute/.transpose, then reshape")
