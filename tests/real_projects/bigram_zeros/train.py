"""A makemore-style bigram character model (after karpathy/makemore's Bigram and training loop).

The bigram table is a parameter initialised to zeros (uniform predictions at init), as makemore
does; the model computes its own loss from `model(X, Y)`. Words are generated here.
"""
import argparse

import torch
import torch.nn as nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

parser = argparse.ArgumentParser()
parser.add_argument("--max-steps", type=int, default=200)
parser.add_argument("--batch-size", type=int, default=32)
args = parser.parse_args()


class Bigram(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros((vocab_size, vocab_size)))

    def forward(self, idx, targets=None):
        logits = self.logits[idx]
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


class CharDataset(Dataset):
    def __init__(self, words, chars, max_word_length):
        self.words, self.max_word_length = words, max_word_length
        self.stoi = {ch: i + 1 for i, ch in enumerate(chars)}

    def __len__(self):
        return len(self.words)

    def get_vocab_size(self):
        return len(self.stoi) + 1

    def __getitem__(self, idx):
        ix = torch.tensor([self.stoi[w] for w in self.words[idx]], dtype=torch.long)
        x = torch.zeros(self.max_word_length + 1, dtype=torch.long)
        y = torch.zeros(self.max_word_length + 1, dtype=torch.long)
        x[1:1 + len(ix)] = ix
        y[:len(ix)] = ix
        y[len(ix) + 1:] = -1  # index -1 masks the loss at the inactive locations
        return x, y


torch.manual_seed(3407)
g = torch.Generator().manual_seed(1)
syll = ["ka", "ri", "mo", "el", "an", "jo", "sa", "na", "li", "ve", "th", "or"]
words = ["".join(syll[int(i)] for i in torch.randint(0, len(syll), (int(torch.randint(1, 4, (1,), generator=g)),),
                                                    generator=g)) for _ in range(1000)]
chars = sorted(set("".join(words)))
ds = CharDataset(words, chars, max(len(w) for w in words))
model = Bigram(ds.get_vocab_size())
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True)
step = 0
while step < args.max_steps:
    for X, Y in loader:
        logits, loss = model(X, Y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            print(f"step {step} | loss {loss.item():.4f}")
        step += 1
        if step >= args.max_steps:
            break
