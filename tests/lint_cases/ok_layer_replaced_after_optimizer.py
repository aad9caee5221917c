"""The head is replaced first, or the optimizer is rebuilt afterwards."""
import torch
import torch.nn as nn


def finetune(model, classes=5):
    model.fc = nn.Linear(model.fc.in_features, classes)
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def two_stage(model, classes=5):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.head = nn.Linear(128, classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)       # rebuilt: sees the new head
    return opt


def warm(model):
    opt = torch.optim.Adam(model.parameters())
    model.loss_fn = nn.CrossEntropyLoss()                        # no parameters: harmless
    return opt
