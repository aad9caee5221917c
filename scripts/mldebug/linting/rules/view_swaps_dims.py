"""view-swaps-dims: .view/.reshape with two sizes of one tensor in the reverse of their order in its
shape, in a function with no transpose/permute before it: memory is reinterpreted, axes are not moved.
(After a layout change, `view-swaps-dims-after-transpose` follows the actual axis order.)"""
from typing import List, Tuple

from .. import rule
from ..base import text
from ..shapes import (dim_source, dim_table, layout_lines, shift_trick, size_parts, sliced_after, view_calls,
                      view_scopes)


@rule("view-swaps-dims")
def check(a):
    for scope in view_scopes(a):
        table = dim_table(scope)
        if shift_trick(scope):
            continue  # pad-then-view: the relative-position shift trick (Transformer-XL) on purpose
        lines = layout_lines(a, scope)
        for call, name, _tensor, shape in view_calls(a, scope):
            seq: List[Tuple[str, int, object]] = []
            for e in shape:
                for part in size_parts(e):
                    d = dim_source(part, table)
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
            if not swapped or any(ln <= call.lineno for ln in lines) or sliced_after(a, call, scope):
                continue
            src, n1, n2 = swapped
            yield call, (f".{name}({', '.join(text(e) for e in shape)}) puts {text(n1)} before {text(n2)}, the "
                         f"reverse of their order in {src}.shape: {name} reinterprets memory and mixes elements "
                         "(across the batch, for the batch axis); to swap axes use .permute/.transpose")
