"""Bug (target-offset): the collate already shifts (labels = next tokens) and the HF-style model
shifts again inside: position t is trained toward t+2."""
from corpus import collate_next_token, stories
from lm_models import HFStyleLM
def build_model(): return HFStyleLM()
def get_batch():
    x, y = collate_next_token(stories()); return {"input_ids": x, "labels": y}, y
def loss_fn(out, y): return out.loss
