"""CLEAN: tiny Hugging Face GPT2LMHeadModel given labels == input_ids (the model shifts internally); the loss is outputs.loss; CAUSAL_DIM=1."""
import torch
from transformers import GPT2Config, GPT2LMHeadModel

VOCAB, SEQ = 64, 24
CAUSAL_DIM = 1


def tokenized_batch(n=16, seed=31):
    g = torch.Generator().manual_seed(seed)
    table = torch.randint(0, VOCAB, (VOCAB,), generator=g)
    ids = torch.empty(n, SEQ, dtype=torch.long)
    ids[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
    for t in range(1, SEQ):
        noise = torch.rand(n, generator=g) < 0.1
        ids[:, t] = torch.where(noise, torch.randint(0, VOCAB, (n,), generator=g), table[ids[:, t - 1]])
    return {"input_ids": ids, "labels": ids.clone()}, ids.clone()


def build_model():
    cfg = GPT2Config(vocab_size=VOCAB, n_positions=SEQ, n_embd=48, n_layer=2, n_head=4,
                     bos_token_id=0, eos_token_id=0, resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1)
    return GPT2LMHeadModel(cfg)


def get_batch():
    return tokenized_batch()


def loss_fn(outputs, labels):
    return outputs.loss


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=6e-4, weight_decay=0.1)
