"""Clean: the same regressor, prediction squeezed to (N,) before a hand-written MSE."""
from tabular import Regressor, houses
def build_model(): return Regressor()
def get_batch(): return houses()
def loss_fn(pred, price): return ((pred.squeeze(-1) - price) ** 2).mean()
