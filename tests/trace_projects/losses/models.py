"""An MLP regressor, a count (rate) model, and an embedding network."""
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, d_out))

    def forward(self, x):            # (B, d_in) -> (B, d_out)
        return self.net(x)


class Regressor(MLP):
    def __init__(self, d_in, hidden):
        super().__init__(d_in, hidden, 1)

    def forward(self, x):            # (B, d_in) -> (B,)
        return super().forward(x).squeeze(-1)


class RateModel(MLP):
    """Predicts an event rate; ReLU keeps it non-negative."""

    def __init__(self, d_in, hidden):
        super().__init__(d_in, hidden, 1)

    def forward(self, x):            # (B, d_in) -> rate (B,), >= 0
        return F.relu(super().forward(x)).squeeze(-1)


class Embedder(MLP):
    pass
