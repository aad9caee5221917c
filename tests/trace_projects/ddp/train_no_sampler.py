"""Bug: DDP without a DistributedSampler. Every rank shuffles the whole dataset with the same seed,
so the ranks read identical batches and the averaged gradient is one rank's gradient N times."""
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from common import SensorData, SensorNet, cleanup, log, parse, setup


def main():
    args = parse()
    rank, world = setup()
    torch.manual_seed(args.seed)
    data = SensorData(args.n_train)
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True)  # BUG: no DistributedSampler
    model = DDP(SensorNet())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    step = 0
    for epoch in range(args.epochs):
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
