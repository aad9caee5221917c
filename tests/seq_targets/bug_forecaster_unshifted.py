"""Bug (target-offset): the windowing uses horizon 0: the target is the demand at the same step
the model reads (an L1 forecaster)."""
import torch.nn.functional as F
from forecast import GRUForecaster, hourly, windows
CAUSAL_DIM = 1
def build_model(): return GRUForecaster()
def get_batch(): return windows(hourly(), horizon=0)
def loss_fn(pred, y): return F.l1_loss(pred, y)
