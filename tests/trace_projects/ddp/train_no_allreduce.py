"""Bug: hand-written data parallelism that never averages the gradients. The data is sharded
properly and every rank starts from the same seed, but each rank steps on its own gradient, so
the replicas drift apart from the first step."""
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from common import SensorData, SensorNet, cleanup, log, parse, setup


def main():
    args = parse()
    rank, world = setup()
    torch.manual_seed(args.seed)               # same init on every rank
    data = SensorData(args.n_train)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    model = SensorNet()                        # BUG: not wrapped in DDP, and no all_reduce below
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
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
