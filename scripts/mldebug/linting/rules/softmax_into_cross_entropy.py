"""softmax-into-cross-entropy: softmax probabilities passed to a loss that applies log-softmax itself."""
from .. import rule
from ..base import text
from ..losses import loss_input_hits


@rule("softmax-into-cross-entropy")
def check(a):
    for call in loss_input_hits(a, "ce", "softmax"):
        yield call, (f"{text(call.func) or 'ce'} gets softmax probabilities; it applies log-softmax itself, "
                     "so pass the logits")
