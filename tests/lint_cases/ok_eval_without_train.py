"""Mode switches done right; a frozen teacher kept in eval mode during distillation."""
import torch
import torch.nn.functional as F


def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        loss = sum(F.cross_entropy(model(x), y).item() for x, y in loader) / len(loader)
    model.train()
    return loss


def fit(model, train_loader, val_loader, epochs=10):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        print(evaluate(model, val_loader))


def fit_top_of_epoch(model, train_loader, val_loader, epochs=10):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            acc = sum((model(x).argmax(1) == y).float().mean().item() for x, y in val_loader)
        print(acc)


def distill(student, teacher, loader, T=4.0):
    opt = torch.optim.SGD(student.parameters(), lr=0.05)
    for x, y in loader:
        teacher.eval()
        with torch.no_grad():
            t = teacher(x)
        s = student(x)
        loss = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean")
        opt.zero_grad()
        loss.backward()
        opt.step()
