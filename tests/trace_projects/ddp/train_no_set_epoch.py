"""Bug: a DistributedSampler with shuffle=True whose set_epoch() is never called: every epoch
draws the permutation of epoch 0 again, so each epoch replays the first one's order."""
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler

from common import SensorData, SensorNet, cleanup, log, parse, setup


def main():
    args = parse()
    rank, world = setup()
    torch.manual_seed(args.seed)
    data = SensorData(args.n_train)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    model = DDP(SensorNet())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    step = 0
    for epoch in range(args.epochs):   # BUG: sampler.set_epoch(epoch) missing
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
