"""BUG loss-input: a config-built CNN head ends in nn.Sigmoid (final_activation='sigmoid') while the loss is BCEWithLogitsLoss: sigmoid applied twice."""
import torch
import torch.nn as nn

CONFIG = {"channels": [16, 32], "n_labels": 6, "final_activation": "sigmoid", "dropout": 0.1}
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "identity": nn.Identity, "softmax": lambda: nn.Softmax(-1)}


def satellite_tiles(n=32, seed=102):
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, CONFIG["n_labels"], generator=g) < 0.3).float()
    x = 0.4 * torch.randn(n, 3, 16, 16, generator=g)
    for i in range(n):
        for j in labels[i].nonzero().flatten().tolist():
            x[i, j % 3, (j // 3) * 8:(j // 3) * 8 + 8] += 0.8
    return x, labels


def build_head(cin, cfg):
    return nn.Sequential(nn.Flatten(), nn.Dropout(cfg["dropout"]), nn.Linear(cin, cfg["n_labels"]),
                         ACTIVATIONS[cfg["final_activation"]]())


def build_model(cfg=CONFIG):
    layers, cin = [], 3
    for c in cfg["channels"]:
        layers += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1)]
    return nn.Sequential(*layers, build_head(cin, cfg))


def get_batch():
    return satellite_tiles()


loss_fn = nn.BCEWithLogitsLoss()


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
