"""functional-dropout-always-on: F.dropout in a module's code without training=self.training, so
dropout stays on after model.eval()."""
import ast

from .. import rule
from ..base import FUNCS, arg, attr_name, text

DROPOUT_FUNCS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}


@rule("functional-dropout-always-on")
def check(a):
    for call in a.f.calls:
        name = attr_name(call.func)
        cls = a.f.enclosing_class(call) if name in DROPOUT_FUNCS else None
        if cls is None or not any(isinstance(n, FUNCS) and n.name == "forward" for n in cls.body):
            continue  # only modules (classes with a forward) have a mode to ignore
        canon = a.f.canon(call.func)
        if not canon.startswith("torch.nn.functional.") and canon != "torch." + name:
            continue
        training = arg(call, "training", 2) if canon.startswith("torch.nn.functional.") else arg(call, "train", 2)
        if training is None and canon.startswith("torch.nn.functional."):
            msg = f"{text(call.func)}() defaults to training=True"
        elif isinstance(training, ast.Constant) and training.value is True:
            msg = f"{text(call.func)}(..., {text(training)})"
        else:
            continue
        yield call, (f"{msg}, so dropout stays on after model.eval() and evaluation is noisy: pass "
                     "training=self.training, or use an nn.Dropout module")
