"""Clean: a causal dilated-conv (WaveNet-style) LM whose output is channel-first (B, V, L), fed to
F.cross_entropy as is; the collate shifts. No CAUSAL_DIM: found from the token ids."""
import torch.nn as nn, torch.nn.functional as F
from corpus import VOCAB, collate_next_token, stories
class CausalConvLM(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.convs = nn.ModuleList(nn.Conv1d(d, d, 2, dilation=k) for k in (1, 2, 4))
        self.out = nn.Conv1d(d, VOCAB, 1)
    def forward(self, x):
        h = self.emb(x).transpose(1, 2)
        for c in self.convs:
            h = h + F.relu(c(F.pad(h, (c.dilation[0], 0))))     # left padding only: causal
        return self.out(h)                                      # (B, V, L)
def build_model(): return CausalConvLM()
def get_batch(): return collate_next_token(stories())
def loss_fn(logits, y): return F.cross_entropy(logits, y, ignore_index=-100)
