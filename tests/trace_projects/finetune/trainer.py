"""Training helpers shared by the pre-train and fine-tune scripts."""
import torch
import torch.nn.functional as F


def freeze(module):
    """Stop training a module's parameters."""
    for p in module.parameters():
        p.requires_grad = False


def train_epochs(model, optimizer, loader, epochs, log_every=8, tag="train"):
    model.train()
    step = 0
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            step += 1
            if step % log_every == 0:
                print(f"{tag} epoch {epoch} step {step} loss {loss.item():.4f}")


@torch.no_grad()
def accuracy(model, loader):
    was = model.training
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(1) == y).sum())
        total += len(y)
    model.train(was)
    return correct / max(total, 1)
