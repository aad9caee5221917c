"""Clean FSDP2 training (fully_shard, runs on CPU with gloo): each block and the root sharded,
DistributedSampler with set_epoch. FSDP1 (FullyShardedDataParallel) needs an accelerator."""
import torch
import torch.nn.functional as F
from torch.distributed.fsdp import fully_shard
from torch.utils.data import DataLoader, DistributedSampler

from common import SensorData, SensorNet, cleanup, log, parse, setup


def main():
    args = parse()
    rank, world = setup()
    torch.manual_seed(args.seed)
    data = SensorData(args.n_train)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    model = SensorNet()
    fully_shard(model.conv)
    fully_shard(model.head)
    fully_shard(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    step = 0
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            step += 1
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            log(rank, step, loss.item(), args.log_every)
    cleanup()


if __name__ == "__main__":
    main()
