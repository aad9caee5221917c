"""Bug (silent-broadcast): a hand-written MSE where the (N,1) prediction meets the (N,) price."""
from tabular import Regressor, houses
def build_model(): return Regressor()
def get_batch(): return houses()
def squared_error(pred, target):
    return (pred - target) ** 2
def loss_fn(pred, price): return squared_error(pred, price).mean()
