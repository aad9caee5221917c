"""Clean DDP training: DistributedSampler (shuffle in the sampler), set_epoch every epoch, DDP averages grads."""
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler

from common import SensorData, SensorNet, cleanup, faults, log, parse, setup


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
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        for x, y in loader:
            step += 1
            faults(args, rank, model, optimizer, step)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            log(rank, step, loss.item(), args.log_every)
    cleanup()


if __name__ == "__main__":
    main()
