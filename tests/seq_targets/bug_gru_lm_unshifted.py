"""Bug (target-offset): the dataset returns (tokens, tokens): each position is trained toward the
token it already reads."""
import torch.nn.functional as F
from corpus import stories
from lm_models import GRULM
def build_model(): return GRULM()
def get_batch():
    s = stories(); return s, s.clone()
def loss_fn(logits, y): return F.cross_entropy(logits.transpose(1, 2), y, ignore_index=0)
