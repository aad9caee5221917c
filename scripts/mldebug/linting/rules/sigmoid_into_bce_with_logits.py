"""sigmoid-into-bce-with-logits: sigmoid probabilities into a loss that applies the sigmoid itself,
passed directly or as the output of a model whose last layer is a sigmoid."""
from .. import rule
from ..base import text
from ..losses import loss_input_hits, model_ends


@rule("sigmoid-into-bce-with-logits")
def check(a):
    for call in loss_input_hits(a, "bcel", "sigmoid"):
        yield call, (f"{text(call.func) or 'bcel'} gets sigmoid probabilities; it applies the sigmoid itself, "
                     "so pass the logits")
    m = model_ends(a)
    for node, k, what in m.ends:
        if k == "sigmoid" and "bcel" in m.kinds_used and "bce" not in m.kinds_used:
            yield node, (f"{what} and this file's loss is BCEWithLogitsLoss, which applies the sigmoid itself: "
                         "return logits from the model")
