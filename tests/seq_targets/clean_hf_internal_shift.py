"""Clean: HF-style model that shifts labels inside, given labels == input_ids (no CAUSAL_DIM)."""
from corpus import collate_hf, stories
from lm_models import HFStyleLM
def build_model(): return HFStyleLM()
def get_batch():
    b = collate_hf(stories()); return b, b["labels"]
def loss_fn(out, y): return out.loss
