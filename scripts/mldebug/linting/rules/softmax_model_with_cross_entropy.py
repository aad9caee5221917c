"""softmax-model-with-cross-entropy: a model whose output ends in softmax, in a file whose loss is
cross-entropy (which applies log-softmax itself)."""
from .. import rule
from ..losses import model_ends


@rule("softmax-model-with-cross-entropy")
def check(a):
    m = model_ends(a)
    for node, k, what in m.ends:
        if k == "softmax" and "ce" in m.kinds_used and not m.soft_targets and "nll" not in m.kinds_used:
            yield node, (f"{what} and this file's loss is cross-entropy, which applies log-softmax itself: "
                         "return logits from the model and apply softmax only for predictions")
