"""Token streams from a fixed random Markov chain: the next token is predictable from the last."""
import torch


class MarkovStream:
    def __init__(self, vocab, seq_len, batch_size, seed=0):
        self.g = torch.Generator().manual_seed(seed)
        self.next = torch.randint(0, vocab, (vocab, 2), generator=torch.Generator().manual_seed(7))
        self.vocab, self.seq_len, self.batch_size = vocab, seq_len, batch_size

    def batch(self):
        seq = torch.empty(self.batch_size, self.seq_len + 1, dtype=torch.long)
        seq[:, 0] = torch.randint(0, self.vocab, (self.batch_size,), generator=self.g)
        for t in range(1, self.seq_len + 1):
            pick = torch.randint(0, 2, (self.batch_size,), generator=self.g)
            seq[:, t] = self.next[seq[:, t - 1], pick]
        return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()   # inputs, next-token targets

    def __iter__(self):
        while True:
            yield self.batch()
