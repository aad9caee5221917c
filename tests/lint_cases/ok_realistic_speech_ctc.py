"""A small CTC speech recognizer as people write it: a conv front-end over (B, T, n_mels), the
time axis moved to the front for a time-major GRU, subsampling that folds channels into features,
a train_one_epoch() helper stepping a per-step OneCycleLR, and greedy decoding under eval()."""
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import OneCycleLR


class Subsample(nn.Module):
    """Two stride-2 convs over (time, freq); channels and frequency are folded into one feature axis."""

    def __init__(self, n_mels=80, channels=32, out_dim=144):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, channels, 3, stride=2), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, stride=2), nn.ReLU())
        self.proj = nn.Linear(channels * (((n_mels - 1) // 2 - 1) // 2), out_dim)

    def forward(self, feats):                                   # (B, T, n_mels)
        x = self.conv(feats.unsqueeze(1))                       # (B, C, T', F')
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).contiguous().view(b, t, c * f)  # (B, T', C * F')
        return self.proj(x)


class Recognizer(nn.Module):
    def __init__(self, n_mels=80, dim=144, n_tokens=32):
        super().__init__()
        self.sub = Subsample(n_mels, out_dim=dim)
        self.gru = nn.GRU(dim, dim, num_layers=2, dropout=0.1)  # time-major
        self.out = nn.Linear(dim, n_tokens)

    def forward(self, feats):
        x = self.sub(feats)                                     # (B, T', dim)
        b, t, d = x.shape
        x = x.transpose(0, 1)                                   # (T', B, dim)
        h, _ = self.gru(x.reshape(t, b, d))
        return self.out(h).log_softmax(-1)                      # (T', B, n_tokens)


def train_one_epoch(model, loader, optimizer, scheduler, ctc):
    model.train()
    total = 0.0
    for feats, feat_lens, targets, target_lens in loader:
        log_probs = model(feats)
        out_lens = ((feat_lens - 1) // 2 - 1) // 2
        loss = ctc(log_probs, targets, out_lens, target_lens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        scheduler.step()                                        # OneCycleLR: one step per batch
        total += loss.item()
    return total / max(1, len(loader))


@torch.no_grad()
def greedy_decode(model, loader, blank=0):
    model.eval()
    hyps = []
    for feats, _, _, _ in loader:
        best = model(feats).argmax(-1).transpose(0, 1)          # (B, T')
        for row in best.tolist():
            out, prev = [], blank
            for tok in row:
                if tok != prev and tok != blank:
                    out.append(tok)
                prev = tok
            hyps.append(out)
    return hyps


def main(train_loader, dev_loader, epochs=20, peak_lr=1e-3):
    model = Recognizer()
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=1e-2)
    scheduler = OneCycleLR(optimizer, max_lr=peak_lr, epochs=epochs, steps_per_epoch=len(train_loader))
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    for epoch in range(epochs):
        loss = train_one_epoch(model, train_loader, optimizer, scheduler, ctc)
        hyps = greedy_decode(model, dev_loader)
        print(f"epoch {epoch}: ctc {loss:.3f}, {len(hyps)} utterances decoded")
    return model


if __name__ == "__main__":
    def fake_loader(n=4, batch=4, frames=120):
        for _ in range(n):
            feats = torch.randn(batch, frames, 80)
            yield feats, torch.full((batch,), frames), torch.randint(1, 32, (batch, 10)), torch.full((batch,), 10)

    main(list(fake_loader()), list(fake_loader(1)), epochs=1)
