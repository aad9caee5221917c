"""A small 1-D convolutional encoder and a linear classification head."""
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, channels, width):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 5, padding=2, stride=2), nn.BatchNorm1d(width), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten())

    def forward(self, x):            # (B, C, L) -> (B, width)
        return self.net(x)


class Classifier(nn.Module):
    def __init__(self, channels, width, n_classes):
        super().__init__()
        self.encoder = Encoder(channels, width)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):            # (B, C, L) -> logits (B, n_classes)
        return self.head(self.encoder(x))

    def reset_head(self, n_classes):
        """A fresh head for a new label set."""
        self.head = nn.Linear(self.head.in_features, n_classes)
        return self.head
