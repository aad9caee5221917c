"""CLEAN: linear-probe / fine-tune: a 'pretrained' CNN backbone (deterministic checkpoint) frozen with its BatchNorm kept in eval; only the new head trains."""
import torch
import torch.nn as nn
import torch.nn.functional as F

N_CLASSES = 5


def make_backbone():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def load_pretrained(backbone):
    """Stand-in for backbone.load_state_dict(torch.load('imagenet.pt')): fixed weights and running stats."""
    g = torch.Generator().manual_seed(77)
    with torch.no_grad():
        for name, t in backbone.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            else:
                t.copy_(torch.randn(t.shape, generator=g) * (0.3 if t.dim() > 1 else 0.1) + (1.0 if "weight" in name and t.dim() == 1 else 0.0))
    return backbone


class FineTuner(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = load_pretrained(make_backbone())
        for p in self.backbone.parameters():
            p.requires_grad = False
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, N_CLASSES))

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()             # frozen backbone: keep its BatchNorm statistics fixed
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


def photos(n=40, seed=9):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = 0.5 * torch.randn(n, 3, 16, 16, generator=g)
    for i in range(n):
        x[i, int(y[i]) % 3] += 0.6 * (1 + int(y[i]) // 3)
        x[i, :, ::2] *= 1 + 0.5 * (int(y[i]) == 4)
    return x, y


def build_model():
    return FineTuner()


def get_batch():
    return photos()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam((p for p in params if p.requires_grad), lr=3e-3)
