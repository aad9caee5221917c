"""layer-replaced-after-optimizer: `opt = SGD(model.parameters()); model.fc = nn.Linear(...)` in one
function with no optimizer built after: the new layer's parameters never train."""
import ast
import re

from .. import rule
from ..base import attr_name, method_call, pos, text, walk_scope
from ..training import is_optimizer_ctor

# torch.nn classes that own parameters (replacing a parameter-free module, e.g. nn.Identity, is harmless)
PARAM_LAYERS = re.compile(r"^(Linear|LazyLinear|Bilinear|Conv|LazyConv|Embedding|RNN|LSTM|GRU|BatchNorm|LayerNorm"
                          r"|GroupNorm|InstanceNorm|RMSNorm|Sequential|ModuleList|ModuleDict|MultiheadAttention"
                          r"|Transformer|PReLU|Parameter)")


@rule("layer-replaced-after-optimizer")
def check(a):
    scopes = [a.f.tree] + [fn for fns in a.f.functions.values() for fn in fns]
    for scope in scopes:
        ctors = []  # (position, model text) of optimizers built from model.parameters()
        for c in walk_scope(scope):
            if is_optimizer_ctor(c):
                for n in ast.walk(c):
                    if method_call(n, {"parameters", "named_parameters"}):
                        ctors.append((pos(c), text(n.func.value)))
        if not ctors:
            continue
        for asg in walk_scope(scope):
            if not (isinstance(asg, ast.Assign) and isinstance(asg.value, ast.Call) and
                    a.f.canon(asg.value.func).startswith("torch.nn.") and
                    PARAM_LAYERS.match(attr_name(asg.value.func) or "")):
                continue
            for t in asg.targets:
                if not isinstance(t, (ast.Attribute, ast.Subscript)):
                    continue
                owner = text(t.value)
                for model in {m for _, m in ctors}:
                    if owner != model and not owner.startswith(model + "."):
                        continue
                    built = [p for p, m in ctors if m == model]
                    if min(built) < pos(asg) and not any(p > pos(asg) for p in built):
                        yield asg, (f"{text(t)} is replaced after the optimizer was built from "
                                    f"{model}.parameters(), so the optimizer holds the old layer's parameters "
                                    "and the new layer never trains: build the optimizer after changing the model")
