"""A synthetic corpus of 'stories' (a fixed Markov chain over a small vocabulary), cut into
fixed-length blocks, and the collate function that turns a list of blocks into a batch."""
import torch
from torch.utils.data import Dataset

PAD = 0


class StoryBlocks(Dataset):
    def __init__(self, vocab, block, n_blocks=256, seed=0):
        g = torch.Generator().manual_seed(seed)
        nxt = torch.randint(1, vocab, (vocab, 3), generator=torch.Generator().manual_seed(11))
        stream = torch.empty(n_blocks * (block + 1), dtype=torch.long)
        stream[0] = 1
        picks = torch.randint(0, 3, (stream.numel(),), generator=g)
        for i in range(1, stream.numel()):
            stream[i] = nxt[stream[i - 1], picks[i]]
        self.blocks = stream.view(n_blocks, block + 1)

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, i):
        return self.blocks[i]


def collate(blocks, shift=True):
    """Stack blocks into input_ids and labels. With shift, labels are the next tokens (the
    convention of a plain nn.Module LM); without, labels are the inputs themselves (the
    convention of Hugging Face *LMHeadModel, which shifts inside its forward)."""
    seq = torch.stack(blocks)
    if shift:
        return {"input_ids": seq[:, :-1].contiguous(), "labels": seq[:, 1:].contiguous()}
    return {"input_ids": seq[:, :-1].contiguous(), "labels": seq[:, :-1].contiguous()}
