"""Clean: a bidirectional LSTM tagger with BatchNorm: 12 tags per token (not a next-token task)."""
import torch.nn.functional as F
from corpus import PAD, stories
from lm_models import BiTagger
def build_model(): return BiTagger()
def get_batch():
    s = stories(); tags = (s * 5 + 3) % 12; tags[s == PAD] = -100; return s, tags
def loss_fn(logits, y): return F.cross_entropy(logits.reshape(-1, 12), y.reshape(-1), ignore_index=-100)
