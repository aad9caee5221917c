"""An MLP classifier with BatchNorm and dropout."""
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d_in, d_out, dropout):
        super().__init__()
        self.fc = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x):            # (B, d_in) -> (B, d_out)
        return self.drop(self.act(self.bn(self.fc(x))))


class TabularNet(nn.Module):
    def __init__(self, n_features, hidden, n_classes, dropout=0.1):
        super().__init__()
        self.body = nn.Sequential(Block(n_features, hidden, dropout), Block(hidden, hidden, dropout))
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, features):     # (B, F) -> logits (B, C)
        return self.head(self.body(features))
