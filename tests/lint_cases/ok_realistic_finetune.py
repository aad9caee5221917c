"""A fine-tuning loop in the accelerate style, a DCGAN step, and a Lightning-like module."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def finetune(accelerator, model, train_dataloader, eval_dataloader, get_scheduler, num_epochs=3):
    no_decay = ["bias", "LayerNorm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=5e-5)
    lr_scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                                 num_training_steps=num_epochs * len(train_dataloader))
    for epoch in range(num_epochs):
        model.train()
        for step, batch in enumerate(train_dataloader):
            with accelerator.accumulate(model):
                outputs = model(**batch)
                accelerator.backward(outputs.loss)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
        model.eval()
        for batch in eval_dataloader:
            with torch.no_grad():
                outputs = model(**batch)
            predictions = outputs.logits.argmax(dim=-1)
            print(predictions.shape)


class Generator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.main = nn.Sequential(nn.ConvTranspose2d(nz, ngf, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf),
                                  nn.ReLU(True), nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):                        # z: (N, nz, 1, 1)
        return self.main(z)                      # (N, 3, 8, 8)


class Discriminator(nn.Module):
    def __init__(self, ndf=64):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                                  nn.Conv2d(ndf, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):                        # x: (N, 3, 8, 8)
        return self.main(x).view(-1, 1).squeeze(1)   # (N,) probabilities, for BCELoss


def dcgan(netG, netD, dataloader, nz=100, epochs=5):
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for epoch in range(epochs):
        for real in dataloader:
            netD.zero_grad()
            b = real.size(0)
            errD_real = criterion(netD(real), torch.full((b,), 1.0))
            errD_real.backward()
            fake = netG(torch.randn(b, nz, 1, 1))
            errD_fake = criterion(netD(fake.detach()), torch.full((b,), 0.0))
            errD_fake.backward()
            optimizerD.step()
            netG.zero_grad()
            errG = criterion(netD(fake), torch.full((b,), 1.0))
            errG.backward()
            optimizerG.step()


class LitClassifier(nn.Module):
    def __init__(self, backbone, classes=10):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(512, classes)

    def forward(self, x):
        return self.head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss.item())
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        acc = (logits.argmax(-1) == y).float().mean()
        return {"val_loss": F.cross_entropy(logits, y), "val_acc": acc.item()}
