"""CLEAN: HF-style token classifier (NER) returning a dict with logits and hidden states; labels -100 on padding and sub-word continuations."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, PAD, N_TAGS, MAXLEN = 80, 0, 5, 16


def ner_batch(n=24, seed=12):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (n, MAXLEN), generator=g)
    tags = (ids % N_TAGS).clone()                # tag is a function of the token (and its left neighbour)
    tags[:, 1:] = torch.where(ids[:, :-1] < 10, 0, tags[:, 1:])
    lengths = torch.randint(8, MAXLEN + 1, (n,), generator=g)
    attn = torch.zeros(n, MAXLEN, dtype=torch.long)
    for i in range(n):
        attn[i, :lengths[i]] = 1
    ids = ids * attn
    labels = tags.masked_fill(attn == 0, -100)
    cont = torch.rand(n, MAXLEN, generator=g) < 0.15            # word-piece continuations carry no label
    labels = labels.masked_fill(cont, -100)
    return {"input_ids": ids, "attention_mask": attn}, labels


class TinyTokenClassifier(nn.Module):
    def __init__(self, d=48, heads=4):
        super().__init__()
        self.embeddings = nn.Embedding(VOCAB, d, padding_idx=PAD)
        self.position = nn.Embedding(MAXLEN, d)
        self.layer = nn.TransformerEncoderLayer(d, heads, 96, dropout=0.1, batch_first=True, norm_first=True)
        self.classifier = nn.Linear(d, N_TAGS)

    def forward(self, input_ids, attention_mask):
        pos = torch.arange(input_ids.size(1), device=input_ids.device)
        h = self.layer(self.embeddings(input_ids) + self.position(pos), src_key_padding_mask=attention_mask == 0)
        return {"logits": self.classifier(h), "hidden_states": h}


def build_model():
    return TinyTokenClassifier()


def get_batch():
    return ner_batch()


def loss_fn(outputs, labels):
    logits = outputs["logits"]
    return F.cross_entropy(logits.view(-1, N_TAGS), labels.view(-1), ignore_index=-100)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
