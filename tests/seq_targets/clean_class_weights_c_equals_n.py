"""Clean: class weights (C,) over (N,C) logits where C == N (48 classes, batch 48)."""
import torch, torch.nn.functional as F
from tabular import Classifier, houses
WEIGHTS = torch.linspace(0.5, 2.0, 48)
def build_model(): return Classifier(c=48)
def get_batch():
    x, price = houses(); return x, torch.bucketize(price, torch.linspace(-2, 2, 47))
def loss_fn(logits, y):
    return -(F.one_hot(y, 48).float() * F.log_softmax(logits, -1) * WEIGHTS).sum(1).mean()
