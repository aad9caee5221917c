"""Clean: a RankNet loss compares every pair of scores on purpose: s[:, None] - s."""
import torch.nn.functional as F
from tabular import Regressor, houses
def build_model(): return Regressor()
def get_batch(): return houses()
def loss_fn(pred, price):
    s = pred.squeeze(-1)
    pair = s.unsqueeze(1) - s                                   # (N, N): all pairs of one model scores
    order = (price.unsqueeze(1) - price).sign()                 # (N, N) from the targets alone
    return F.softplus(-order * pair).mean()
