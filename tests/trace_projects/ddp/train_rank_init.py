"""Bug: each rank seeds with seed + rank (for its augmentations) before building the model, and the
hand-written loop averages gradients but never broadcasts rank 0's initial weights: the replicas
start different and stay different (equal updates on unequal weights)."""
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from common import SensorData, SensorNet, cleanup, log, parse, setup


def average_gradients(model, world):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def main():
    args = parse()
    rank, world = setup()
    torch.manual_seed(args.seed + rank)        # BUG: per-rank seed before the model is built, no broadcast
    data = SensorData(args.n_train)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    model = SensorNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    step = 0
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            step += 1
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            average_gradients(model, world)
            optimizer.step()
            log(rank, step, loss.item(), args.log_every)
    cleanup()


if __name__ == "__main__":
    main()
