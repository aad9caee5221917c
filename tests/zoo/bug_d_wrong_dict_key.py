"""Bug (input-dependence): a dict-input text classifier whose forward embeds the attention
mask instead of the token ids (both are integer tensors of the same shape, so it runs)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, CLASSES, SEQ, BATCH = 50, 4, 24, 32


def _batch(seed=7):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (BATCH, SEQ), generator=g)
    lengths = torch.randint(SEQ // 2, SEQ + 1, (BATCH,), generator=g)
    mask = (torch.arange(SEQ)[None, :] < lengths[:, None]).long()     # (B, T) 1 = real token
    ids = ids * mask                                                  # 0 = padding
    y = ids[:, :4].sum(1) % CLASSES                                   # label from the first tokens
    return {"input_ids": ids, "attention_mask": mask}, y


class BagClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32, padding_idx=0)
        self.pos = nn.Parameter(0.02 * torch.randn(SEQ, 32))
        self.head = nn.Sequential(nn.Linear(32 * SEQ, 64), nn.ReLU(), nn.Linear(64, CLASSES))

    def forward(self, input_ids, attention_mask):                         # (B, T), (B, T)
        h = self.emb(attention_mask) + self.pos                           # BUG: should embed input_ids; (B, T, 32)
        h = h * attention_mask.unsqueeze(-1)                              # zero the padding
        return self.head(h.flatten(1))                                    # (B, CLASSES)


def build_model():
    return BagClassifier()


def get_batch():
    return _batch()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
