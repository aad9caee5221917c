"""softmax-into-nll-loss: softmax probabilities (not log-probabilities) into nll_loss / NLLLoss, passed
directly or as the output of a model whose last layer is a softmax."""
from .. import rule
from ..base import text
from ..losses import loss_input_hits, model_ends


@rule("softmax-into-nll-loss")
def check(a):
    for call in loss_input_hits(a, "nll", "softmax"):
        yield call, (f"{text(call.func) or 'nll'} gets softmax probabilities; it expects log-probabilities "
                     "(use log_softmax, or cross_entropy on the logits)")
    m = model_ends(a)
    for node, k, what in m.ends:
        if k == "softmax" and "nll" in m.kinds_used and "ce" not in m.kinds_used and not m.has_log:
            yield node, (f"{what} and this file's loss is NLLLoss, which expects log-probabilities: "
                         "end in LogSoftmax, or drop the softmax and use CrossEntropyLoss")
