"""A target file: the model ends in nn.Softmax and the loss is CrossEntropyLoss."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(
        nn.Flatten(),                # (N, 1, 28, 28) -> (N, 784)
        nn.Linear(784, 256), nn.ReLU(),
        nn.Linear(256, 10),
        nn.Softmax(dim=1),  # expect: softmax-model-with-cross-entropy
    )


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 28 * 28, 10)

    def forward(self, x):                        # x: (N, 1, 28, 28)
        h = torch.relu(self.conv(x)).flatten(1)  # (N, 8*28*28)
        return torch.softmax(self.fc(h), dim=1)  # expect: softmax-model-with-cross-entropy


def get_batch():
    return torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))


loss_fn = nn.CrossEntropyLoss()
