"""One torch.optim.AdamW step from PyTorch's own gradients: the reference for examples/zero.

Reads the oracle's params.safetensors and expected.safetensors (loss, grad.<name>), sets each
parameter's .grad, runs AdamW(lr, betas, eps, weight_decay).step() once from zero state, and
writes loss, <name>, <name>.exp_avg, <name>.exp_avg_sq: the names autosp-run gives the results
of a program compiled with the optimizer pass.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "oracle"))
from llama_oracle import read_safetensors, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="the oracle's --out-dir")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    params = read_safetensors(os.path.join(a.dir, "params.safetensors"))
    expected = read_safetensors(os.path.join(a.dir, "expected.safetensors"))
    ps = {}
    for name, t in params.items():
        p = torch.nn.Parameter(t.clone())
        p.grad = expected["grad." + name].clone()
        ps[name] = p
    opt = torch.optim.AdamW(list(ps.values()), lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps,
                            weight_decay=a.weight_decay, foreach=False)
    opt.step()
    out = {"loss": expected["loss"]}
    for name, p in ps.items():
        out[name] = p.detach()
        out[name + ".exp_avg"] = opt.state[p]["exp_avg"]
        out[name + ".exp_avg_sq"] = opt.state[p]["exp_avg_sq"]
    write_safetensors(a.out, out)


if __name__ == "__main__":
    main()
