"""A synthetic token corpus (a fixed Markov chain, learnable next-token structure) with padding,
and the collate functions LM projects use."""
import torch

PAD, VOCAB = 0, 64


def stories(n=16, length=33, seed=0):
    g = torch.Generator().manual_seed(seed)
    nxt = torch.randint(1, VOCAB, (VOCAB, 3), generator=torch.Generator().manual_seed(11))
    seq = torch.empty(n, length, dtype=torch.long)
    seq[:, 0] = torch.randint(1, VOCAB, (n,), generator=g)
    for t in range(1, length):
        seq[:, t] = nxt[seq[:, t - 1], torch.randint(0, 3, (n,), generator=g)]
    lengths = torch.randint(length // 2, length + 1, (n,), generator=g)
    for i, L in enumerate(lengths):
        seq[i, L:] = PAD                       # right padding
    return seq


def collate_next_token(seq):
    """inputs seq[:, :-1], labels seq[:, 1:] with padding ignored (-100)."""
    x, y = seq[:, :-1].contiguous(), seq[:, 1:].clone()
    y[y == PAD] = -100
    return x, y


def collate_hf(seq):
    """Hugging Face convention: labels are the inputs themselves; the model shifts them."""
    labels = seq.clone()
    labels[labels == PAD] = -100
    return {"input_ids": seq, "attention_mask": (seq != PAD).long(), "labels": labels}
