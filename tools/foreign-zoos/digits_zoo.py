#!/usr/bin/python3
"""Foreign zoos, made the way a PyTorch user makes one, trained on scikit-learn's 8x8 digits with random seed, learning
rate, weight decay, activation and optimiser, a state_dict saved at several epochs, and a labels.csv naming the files
(the column names a Python user picks). Nothing here is tuned for this library.
  --arch mlp (default): MLPs 64 -> 16 -> 10, batch 32.
  --arch cnn: conv 1->4 3x3, max-pool 2, conv 4->8 2x2, linear 32->10; the batch size is drawn too (16, 32, 64).

    apt-get install python3-torch python3-sklearn
    /usr/bin/python3 tools/foreign-zoos/digits_zoo.py --models 300 --out /tmp/digits-zoo
    zoogen import --labels /tmp/digits-zoo/labels.csv --out zoos/digits-mlp
    /usr/bin/python3 tools/foreign-zoos/digits_zoo.py --arch cnn --models 300 --out /tmp/digits-cnn-zoo
    zoogen import --labels /tmp/digits-cnn-zoo/labels.csv --out zoos/digits-cnn

Not run by tests or CI (they need no Python); docs/results.md names the command and the numbers it gave.
"""
import argparse
import os
import random

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--arch", choices=["mlp", "cnn"], default="mlp")
parser.add_argument("--models", type=int, default=300)
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--checkpoints", default="0,1,2,5,10,20")
parser.add_argument("--out", required=True)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
checkpoints = {int(c) for c in args.checkpoints.split(",")}

digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)
if args.arch == "cnn":
    x = x.reshape(-1, 1, 8, 8)
x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.3, random_state=args.seed)
x_train, x_test = torch.tensor(x_train), torch.tensor(x_test)
y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)
acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
torch.set_num_threads(1)

rng = random.Random(args.seed)
rows = ["file,model_id,epoch,seed,test_acc,train_acc,test_loss,train_loss,lr,weight_decay,activation,optimizer" + (",batch_size" if args.arch == "cnn" else "")]
for model_id in range(args.models):
    seed = rng.randrange(1, 2**31 - 1)
    lr = 10 ** rng.uniform(-3.5, -1)
    wd = rng.choice([0.0, 1e-4, 1e-3, 1e-2])
    act = rng.choice(list(acts))
    opt_name = rng.choice(["adam", "sgd", "rmsprop"])
    batch = rng.choice([16, 32, 64]) if args.arch == "cnn" else 32   # the MLP zoo keeps its draws (and so its models)
    torch.manual_seed(seed)
    if args.arch == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 4, 3), acts[act](), nn.MaxPool2d(2), nn.Conv2d(4, 8, 2), acts[act](), nn.Flatten(), nn.Linear(32, 10))
    else:
        model = nn.Sequential(nn.Linear(64, 16), acts[act](), nn.Linear(16, 10))
    opt = {"adam": lambda: torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd),
           "sgd": lambda: torch.optim.SGD(model.parameters(), lr=lr * 10, momentum=0.9, weight_decay=wd),
           "rmsprop": lambda: torch.optim.RMSprop(model.parameters(), lr=lr, weight_decay=wd)}[opt_name]()
    g = torch.Generator().manual_seed(seed)
    for epoch in range(args.epochs + 1):
        if epoch > 0:
            model.train()
            order = torch.randperm(len(x_train), generator=g)
            for i in range(0, len(order), batch):
                b = order[i:i + batch]
                opt.zero_grad()
                nn.functional.cross_entropy(model(x_train[b]), y_train[b]).backward()
                opt.step()
        if epoch in checkpoints:
            model.eval()
            with torch.no_grad():
                out_tr, out_te = model(x_train), model(x_test)
                tr_acc = (out_tr.argmax(1) == y_train).float().mean().item()
                te_acc = (out_te.argmax(1) == y_test).float().mean().item()
                tr_loss = nn.functional.cross_entropy(out_tr, y_train).item()
                te_loss = nn.functional.cross_entropy(out_te, y_test).item()
            name = f"m{model_id:04d}_e{epoch:02d}.pt"
            torch.save(model.state_dict(), os.path.join(args.out, name))
            rows.append(f"{name},{model_id},{epoch},{seed},{te_acc:.6f},{tr_acc:.6f},{te_loss:.6f},{tr_loss:.6f},{lr:.6g},{wd},{act},{opt_name}" + (f",{batch}" if args.arch == "cnn" else ""))
    if model_id % 50 == 49:
        print(f"{model_id + 1} models", flush=True)
with open(os.path.join(args.out, "labels.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
print(f"wrote {len(rows) - 1} checkpoints of {args.models} models to {args.out}")
