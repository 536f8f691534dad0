#!/usr/bin/python3
"""Runs a generated training step (.aspir, custom form, as autosp-gen prints it) with PyTorch on
the oracle's files and compares its loss and gradients with expected.safetensors:

    bin/autosp-gen --hf-config C --seq-len 16 --batch 2 --dtype f64 -o /tmp/o/step.aspir
    /usr/bin/python3 tests/oracle/llama_oracle.py --hf-config C --seq-len 16 --batch 2 --dtype f64 --seed 0 --out-dir /tmp/o
    /usr/bin/python3 tests/oracle/run_aspir.py /tmp/o/step.aspir /tmp/o

Each op follows the semantics its doc comment in dialects/tensor states (computed in the
program's dtype here). It knows the ops a Llama step uses, nothing more: it is a cross-check of
autosp-gen against the oracle, not an interpreter.
"""

import math
import os
import re
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_oracle import read_safetensors  # noqa: E402

DT = {"f32": torch.float32, "f64": torch.float64, "bf16": torch.bfloat16, "i64": torch.int64}


def parse_type(text):
    m = re.fullmatch(r"tensor<(?:([0-9x]+)x)?(\w+)>", text.strip())
    shape = [int(d) for d in m.group(1).split("x")] if m.group(1) else []
    return shape, DT[m.group(2)]


def attrs_of(text):
    out = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" in part:
            k, v = (s.strip() for s in part.split("=", 1))
            out[k] = float(v) if re.fullmatch(r"-?[0-9.]+(e[-+]?[0-9]+)?", v) else v
        else:
            out[part] = True
    return out


def rope(x, theta, offset=0):
    b, s, n, d = x.shape
    half = d // 2
    inv = torch.tensor([theta ** (-2.0 * i / d) for i in range(half)], dtype=torch.float64)
    ang = torch.arange(offset, offset + s, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat((ang.cos(), ang.cos()), -1).to(x.dtype)[None, :, None, :]
    sin = torch.cat((ang.sin(), ang.sin()), -1).to(x.dtype)[None, :, None, :]
    rot = torch.cat((-x[..., half:], x[..., :half]), -1)
    return x * cos + rot * sin


def attention(q, k, v, causal, scale):
    b, s, hq, d = q.shape
    t, hkv = k.shape[1], k.shape[2]
    g = torch.arange(hq) // (hq // hkv)
    kk, vv = k[:, :, g, :], v[:, :, g, :]                      # [B, T, Hq, D]
    scores = torch.einsum("bihd,bjhd->bhij", q, kk) * scale
    if causal:
        i = torch.arange(s)[:, None]
        j = torch.arange(t)[None, :]
        scores = scores.masked_fill(j > i + (t - s), float("-inf"))
    p = torch.softmax(scores, -1)
    return torch.einsum("bhij,bjhe->bihe", p, vv)


def cross_entropy(logits, labels, shift, ignore):
    s = logits.shape[1]
    z = logits[:, : s - shift].reshape(-1, logits.shape[-1])
    t = labels[:, shift:].reshape(-1)
    return F.cross_entropy(z, t, ignore_index=ignore, reduction="mean")


def run(path, params, inputs):
    text = open(path).read()
    header = re.search(r"func\.func @train_step\((.*)\) -> ", text).group(1)
    env, grads_of = {}, {}
    for m in re.finditer(r"%(\w+): (tensor<[^>]*>)(?: \{([^}]*)\})?", header):
        name, (shape, dt), attrs = m.group(1), parse_type(m.group(2)), attrs_of(m.group(3))
        if "aspir.param" in attrs:
            hf = attrs["aspir.param"].strip('"')
            env[name] = params[hf].to(dt).requires_grad_(True)
            grads_of[hf] = env[name]
        else:
            env[name] = inputs[attrs["aspir.name"].strip('"')]
        assert list(env[name].shape) == shape, (name, shape)
    loss = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("func.return"):
            loss = env[re.match(r"func\.return %(\w+)", line).group(1)]
            continue
        m = re.match(r"%(\w+) = (tensor\.\w+) +((?:%\w+(?:, )?)+) *(?:\{([^}]*)\})? *: (.*)$", line)
        if not m:
            continue
        res, op, a = m.group(1), m.group(2), attrs_of(m.group(4))
        xs = [env[o.strip()[1:]] for o in m.group(3).split(",")]
        result_type = m.group(5).split("->")[-1]
        if op == "tensor.embedding":
            y = F.embedding(xs[1], xs[0])
        elif op == "tensor.rms_norm":
            y = xs[0] * torch.rsqrt(xs[0].pow(2).mean(-1, keepdim=True) + a["eps"]) * xs[1]
        elif op == "tensor.linear":
            y = F.linear(*xs)
        elif op == "tensor.reshape":
            y = xs[0].reshape(parse_type(result_type)[0])
        elif op == "tensor.cast":
            y = xs[0].to(parse_type(result_type)[1])
        elif op == "tensor.rope":
            y = rope(xs[0], a["theta"], int(a.get("offset", 0)))
        elif op == "tensor.attention":
            y = attention(*xs, a.get("causal", False), a.get("scale", 1.0 / math.sqrt(xs[0].shape[-1])))
        elif op == "tensor.add":
            y = xs[0] + xs[1]
        elif op == "tensor.mul":
            y = xs[0] * xs[1]
        elif op == "tensor.silu":
            y = F.silu(xs[0])
        elif op == "tensor.cross_entropy":
            y = cross_entropy(xs[0], xs[1], int(a.get("shift", 1)), int(a.get("ignore_index", -100)))
        else:
            raise SystemExit(f"run_aspir.py: op {op} is not known here")
        assert list(y.shape) == parse_type(result_type)[0], (line, y.shape)
        env[res] = y
    loss.backward()
    return loss, {n: v.grad for n, v in grads_of.items()}


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    path, out_dir = sys.argv[1], sys.argv[2]
    params = read_safetensors(os.path.join(out_dir, "params.safetensors"))
    inputs = read_safetensors(os.path.join(out_dir, "inputs.safetensors"))
    expected = read_safetensors(os.path.join(out_dir, "expected.safetensors"))
    loss, grads = run(path, params, inputs)
    assert set(grads) == {k[5:] for k in expected if k.startswith("grad.")}, "parameter sets differ"
    tol = 1e-10 if loss.dtype == torch.float64 else 1e-4
    worst = abs(loss.item() - expected["loss"].item()) / max(1e-30, abs(expected["loss"].item()))
    worst_name = "loss"
    for n, g in grads.items():
        e = expected["grad." + n].to(g.dtype)
        err = ((g - e).abs().max() / e.abs().max().clamp_min(1e-30)).item()
        if err > worst:
            worst, worst_name = err, n
    print(f"loss {loss.item():.17g} vs expected {expected['loss'].item():.17g}; "
          f"worst relative difference {worst:.3g} ({worst_name}); {len(grads)} gradients")
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
