#!/usr/bin/python3
"""Times one training step (forward, loss, backward) of the Llama that tests/oracle/llama_oracle.py
builds, in PyTorch eager on the CPU, on the weights and batch that script wrote.

    /usr/bin/python3 bench/native/torch_step.py --hf-config C --seq-len S --batch B --dir D \
        --threads 2 --repeat 5

The attention is the oracle's LlamaAttention in eager mode (an explicit causal mask and softmax over
an S x S score matrix per head), Hugging Face's "eager" attn_implementation: Debian 12's torch 1.13 has
no scaled_dot_product_attention (it came in 2.0). Prints the loss and the seconds of each step, then
'best S' (the fastest step after one warm-up step)."""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "oracle"))
import llama_oracle as lo  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hf-config", required=True)
    ap.add_argument("--seq-len", type=int, required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dir", required=True, help="where llama_oracle.py wrote params/inputs.safetensors")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = lo.read_config(args.hf_config, args.seq_len, None)
    params = {n: t.clone().requires_grad_(True) for n, t in lo.read_safetensors(os.path.join(args.dir, "params.safetensors")).items()}
    inputs = lo.read_safetensors(os.path.join(args.dir, "inputs.safetensors"))
    times = []
    for _ in range(args.repeat + 1):
        for t in params.values():
            t.grad = None
        start = time.perf_counter()
        loss = lo.forward_loss(params, inputs["input_ids"], inputs["labels"], cfg)
        loss.backward()
        times.append(time.perf_counter() - start)
    print(f"torch {torch.__version__} eager, {torch.get_num_threads()} threads: loss {loss.item():.6f}, "
          f"steps {' '.join(f'{t:.3f}' for t in times)} s")
    print(f"best {min(times[1:]):.4f}")


if __name__ == "__main__":
    main()
