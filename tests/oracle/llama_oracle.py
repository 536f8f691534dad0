#!/usr/bin/python3
"""Reference loss and gradients of a Llama-family training step, in plain PyTorch.

    /usr/bin/python3 tests/oracle/llama_oracle.py --hf-config ../shared/models/tiny-llama.json \
        --seq-len 16 --batch 2 --dtype f64 --seed 0 --out-dir /tmp/o

builds the model `bin/autosp-gen --hf-config C --seq-len S --batch B --dtype T [--layers L]`
describes -- Hugging Face's LlamaForCausalLM (model_type llama, mistral, qwen2) -- from its own
modules (no transformers, no SDPA), draws seeded weights and a batch, runs forward and
loss.backward(), and writes, in --out-dir:

  params.safetensors    every parameter under its Hugging Face name, in the IR's argument order,
                        in the Hugging Face layout ([out, in] for projections), dtype F32 or F64
  inputs.safetensors    input_ids and labels: I64 [B, S]; labels are the ids with some positions
                        set to -100 (unshifted, as Hugging Face takes them)
  expected.safetensors  loss: rank 0 ([]), and grad.<parameter name> for every parameter, with
                        the parameter's shape; all in the model dtype
  meta.json             the run's settings, the parameter names in order, the loss as a number,
                        and the autosp-gen command that generates the matching program

Numerics: everything is computed in the model dtype. Hugging Face computes RMSNorm, the RoPE
tables, softmax and the loss in float32 whatever the model dtype; for an f32 model this is the
same computation, for f64 it is the same formula in double precision (which is what the IR's
reference semantics, exact then rounded once, compare against).

Weights: normal with std --std (0.02); the RMSNorm weights are 1 + normal(0, std) so that the
norms are not trivially the identity. Values are drawn in float64 from a torch.Generator seeded
with --seed and then rounded to the dtype, so f32 and f64 runs with one seed use the same values.
"""

import argparse
import json
import math
import os
import shlex
import struct
import sys

import torch
import torch.nn.functional as F

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
DTYPES = {"f32": torch.float32, "f64": torch.float64}
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


class ConfigError(Exception):
    pass


# ----------------------------------------------------------------------------- config

def read_config(path, seq_len, layers_override):
    """The Llama-family hyperparameters of a Hugging Face config.json, with the defaults of
    transformers' LlamaConfig / MistralConfig / Qwen2Config, refusing (naming the key) what the
    model would compute differently; the same rules as autosp-gen."""
    with open(path) as f:
        c = json.load(f)
    mt = c.get("model_type")
    if mt not in SUPPORTED_MODEL_TYPES:
        raise ConfigError(f"unsupported model_type {mt!r} (supported: {', '.join(SUPPORTED_MODEL_TYPES)})")

    def need(key):
        if c.get(key) is None:
            raise ConfigError(f"missing key {key!r}")
        return int(c[key])

    hidden, inter, heads, vocab = need("hidden_size"), need("intermediate_size"), need("num_attention_heads"), need("vocab_size")
    kv_heads = int(c.get("num_key_value_heads") or heads)
    if heads % kv_heads:
        raise ConfigError(f"'num_attention_heads' ({heads}) must be a multiple of 'num_key_value_heads' ({kv_heads})")
    head_dim = c.get("head_dim")
    if head_dim is None:
        if hidden % heads:
            raise ConfigError(f"'hidden_size' ({hidden}) is not a multiple of 'num_attention_heads' ({heads}) and there is no 'head_dim'")
        head_dim = hidden // heads
    head_dim = int(head_dim)
    if head_dim % 2:
        raise ConfigError(f"the head dimension is {head_dim}: rotary embeddings need an even size")

    if c.get("hidden_act", "silu") != "silu":
        raise ConfigError(f"'hidden_act' is {c['hidden_act']!r}: only 'silu' is supported")
    theta = float(c.get("rope_theta", 10000.0))
    for key in ("rope_scaling", "rope_parameters"):
        rs = c.get(key)
        if rs is not None:
            if not isinstance(rs, dict) or any(k not in ("rope_type", "type", "rope_theta") for k in rs) \
                    or any(rs.get(k, "default") != "default" for k in ("rope_type", "type")):
                raise ConfigError(f"{key!r} is {json.dumps(rs)}: RoPE scaling is not supported")
            if key == "rope_parameters" and "rope_theta" in rs:
                theta = float(rs["rope_theta"])
    if float(c.get("attention_dropout") or 0.0) != 0.0:
        raise ConfigError(f"'attention_dropout' is {c['attention_dropout']}: attention dropout is not supported")
    if mt == "llama":
        for key in ("attention_bias", "mlp_bias"):
            if c.get(key):
                raise ConfigError(f"{key!r} is true: biases on the llama projections are not supported")

    layers = layers_override if layers_override is not None else c.get("num_hidden_layers")
    if layers is None:
        raise ConfigError("missing key 'num_hidden_layers' (or give --layers)")
    layers = int(layers)

    # Sliding windows: query i sees keys j with i - j < window, so a window >= S masks nothing.
    if mt == "mistral":
        window = c.get("sliding_window", 4096)
        if window is not None and window < seq_len:
            raise ConfigError(f"'sliding_window' is {window}, smaller than --seq-len {seq_len}: sliding-window attention is not supported")
    if mt == "qwen2" and c.get("use_sliding_window"):
        window = c.get("sliding_window", 4096)
        types = c.get("layer_types")
        max_window_layers = c.get("max_window_layers", 28)
        for i in range(layers):
            sliding = (types[i] == "sliding_attention") if types is not None else i >= max_window_layers
            if sliding and window is not None and window < seq_len:
                raise ConfigError(f"'use_sliding_window' is true with 'sliding_window' {window}, smaller than --seq-len {seq_len}, on layer {i}")

    return dict(model_type=mt, hidden=hidden, intermediate=inter, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                vocab=vocab, layers=layers, eps=float(c.get("rms_norm_eps", 1e-6)), theta=theta,
                tie=bool(c.get("tie_word_embeddings", False)), qkv_bias=(mt == "qwen2"))


def param_specs(cfg):
    """(Hugging Face name, shape) of every parameter, in autosp-gen's argument order."""
    h, inter, v = cfg["hidden"], cfg["intermediate"], cfg["vocab"]
    q_dim, kv_dim = cfg["heads"] * cfg["head_dim"], cfg["kv_heads"] * cfg["head_dim"]
    specs = [("model.embed_tokens.weight", (v, h))]
    for i in range(cfg["layers"]):
        p = f"model.layers.{i}."
        specs.append((p + "input_layernorm.weight", (h,)))
        for proj, out in (("q_proj", q_dim), ("k_proj", kv_dim), ("v_proj", kv_dim)):
            specs.append((p + f"self_attn.{proj}.weight", (out, h)))
            if cfg["qkv_bias"]:
                specs.append((p + f"self_attn.{proj}.bias", (out,)))
        specs.append((p + "self_attn.o_proj.weight", (h, q_dim)))
        specs.append((p + "post_attention_layernorm.weight", (h,)))
        specs.append((p + "mlp.gate_proj.weight", (inter, h)))
        specs.append((p + "mlp.up_proj.weight", (inter, h)))
        specs.append((p + "mlp.down_proj.weight", (h, inter)))
    specs.append(("model.norm.weight", (h,)))
    if not cfg["tie"]:
        specs.append(("lm_head.weight", (v, h)))
    return specs


# ----------------------------------------------------------------------------- the model

def rms_norm(x, weight, eps):
    """LlamaRMSNorm: x * rsqrt(mean(x^2, last dim) + eps) * weight (in the model dtype here)."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rope_tables(seq_len, head_dim, theta, dtype):
    """LlamaRotaryEmbedding (rope_type default): inv_freq = 1 / theta^(arange(0, D, 2) / D),
    angles = position * inv_freq, repeated twice along D; cos and sin of them, [S, D]."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype) / head_dim))
    positions = torch.arange(seq_len, dtype=torch.int64).to(dtype)
    freqs = positions[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    """x: [B, H, S, D]; cos, sin: [S, D]."""
    return x * cos + rotate_half(x) * sin


def attention(x, p, prefix, cfg, cos, sin):
    """LlamaAttention (eager): q/k/v projections, RoPE, GQA by repeat_interleave of the KV heads,
    scores scaled by 1/sqrt(D), an explicit causal mask, softmax, o_proj."""
    b, s, _ = x.shape
    hq, hkv, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]

    def proj(name):
        return F.linear(x, p[prefix + f"self_attn.{name}.weight"], p.get(prefix + f"self_attn.{name}.bias"))

    q = proj("q_proj").view(b, s, hq, d).transpose(1, 2)     # [B, Hq, S, D]
    k = proj("k_proj").view(b, s, hkv, d).transpose(1, 2)    # [B, Hkv, S, D]
    v = proj("v_proj").view(b, s, hkv, d).transpose(1, 2)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k = k.repeat_interleave(hq // hkv, dim=1)                 # query head h reads KV head h // (Hq / Hkv)
    v = v.repeat_interleave(hq // hkv, dim=1)
    scores = torch.matmul(q, k.transpose(2, 3)) * (d ** -0.5)
    causal = torch.ones(s, s, dtype=torch.bool).tril()        # query i attends to keys j <= i
    scores = scores.masked_fill(~causal, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, hq * d)
    return F.linear(out, p[prefix + "self_attn.o_proj.weight"])


def mlp(x, p, prefix):
    """LlamaMLP: down(silu(gate(x)) * up(x))."""
    gate = F.linear(x, p[prefix + "mlp.gate_proj.weight"])
    up = F.linear(x, p[prefix + "mlp.up_proj.weight"])
    return F.linear(F.silu(gate) * up, p[prefix + "mlp.down_proj.weight"])


def forward_loss(p, input_ids, labels, cfg):
    """LlamaForCausalLM.forward(input_ids, labels=labels).loss."""
    x = F.embedding(input_ids, p["model.embed_tokens.weight"])
    cos, sin = rope_tables(input_ids.shape[1], cfg["head_dim"], cfg["theta"], x.dtype)
    for i in range(cfg["layers"]):
        prefix = f"model.layers.{i}."
        x = x + attention(rms_norm(x, p[prefix + "input_layernorm.weight"], cfg["eps"]), p, prefix, cfg, cos, sin)
        x = x + mlp(rms_norm(x, p[prefix + "post_attention_layernorm.weight"], cfg["eps"]), p, prefix)
    x = rms_norm(x, p["model.norm.weight"], cfg["eps"])
    head = p["model.embed_tokens.weight"] if cfg["tie"] else p["lm_head.weight"]
    logits = F.linear(x, head)
    # ForCausalLMLoss: position s predicts labels[s + 1]; -100 is not counted; mean over the counted.
    vocab = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1, :].reshape(-1, vocab), labels[:, 1:].reshape(-1),
                           ignore_index=-100, reduction="mean")


# ----------------------------------------------------------------------------- data

def draw_params(specs, dtype, std, gen):
    params = {}
    for name, shape in specs:
        values = torch.randn(shape, generator=gen, dtype=torch.float64) * std
        if name.endswith("norm.weight"):
            values = values + 1.0
        params[name] = values.to(dtype).requires_grad_(True)
    return params


def draw_batch(batch, seq_len, vocab, gen):
    input_ids = torch.randint(0, vocab, (batch, seq_len), generator=gen, dtype=torch.int64)
    labels = input_ids.clone()
    ignored = torch.rand((batch, seq_len), generator=gen, dtype=torch.float64) < 0.125
    labels[ignored] = -100
    # At least one counted target (labels[:, 0] is never a target), and one ignored one when there is room.
    targets = labels[:, 1:]
    if (targets != -100).sum() == 0:
        labels[0, 1] = input_ids[0, 1]
    if (labels[:, 1:] == -100).sum() == 0 and batch * (seq_len - 1) >= 2:
        labels[-1, -1] = -100
    return input_ids, labels


# ----------------------------------------------------------------------------- safetensors

def write_safetensors(path, tensors):
    """The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
    {name: {dtype, shape, data_offsets: [begin, end]}} (offsets relative to the data, which
    follows; padded with spaces to a multiple of 8), then the raw little-endian data, tensors in
    the order given. Written to a temporary file and renamed (no partial file on failure)."""
    assert sys.byteorder == "little"
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes() if t.numel() > 0 else b""
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def read_safetensors(path):
    """The inverse of write_safetensors (for checking the files)."""
    import numpy as np
    np_dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=np_dtypes[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


# ----------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hf-config", required=True, help="the Hugging Face config.json")
    ap.add_argument("--seq-len", type=int, required=True, help="tokens per sequence, S >= 2")
    ap.add_argument("--batch", type=int, default=1, help="sequences, B >= 1 (default 1)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f64", help="model dtype (default f64)")
    ap.add_argument("--layers", type=int, default=None, help="decoder layers (default: num_hidden_layers)")
    ap.add_argument("--seed", type=int, required=True, help="seed of the weights and the batch")
    ap.add_argument("--std", type=float, default=0.02, help="standard deviation of the weights (default 0.02)")
    ap.add_argument("--out-dir", required=True, help="where to write the .safetensors files and meta.json")
    args = ap.parse_args(argv)
    if args.seq_len < 2:
        ap.error("--seq-len must be >= 2 (the loss predicts token s + 1 from token s)")
    if args.batch < 1:
        ap.error("--batch must be >= 1")
    if args.layers is not None and args.layers < 0:
        ap.error("--layers must be >= 0")

    try:
        cfg = read_config(args.hf_config, args.seq_len, args.layers)
    except (ConfigError, OSError, ValueError) as e:
        print(f"llama_oracle.py: error: {args.hf_config}: {e}", file=sys.stderr)
        return 1

    dtype = DTYPES[args.dtype]
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)
    specs = param_specs(cfg)
    params = draw_params(specs, dtype, args.std, gen)
    input_ids, labels = draw_batch(args.batch, args.seq_len, cfg["vocab"], gen)

    loss = forward_loss(params, input_ids, labels, cfg)
    loss.backward()

    os.makedirs(args.out_dir, exist_ok=True)
    write_safetensors(os.path.join(args.out_dir, "params.safetensors"), {n: params[n] for n, _ in specs})
    write_safetensors(os.path.join(args.out_dir, "inputs.safetensors"), {"input_ids": input_ids, "labels": labels})
    expected = {"loss": loss.detach()}
    expected.update({"grad." + n: params[n].grad for n, _ in specs})
    write_safetensors(os.path.join(args.out_dir, "expected.safetensors"), expected)

    gen_cmd = ["bin/autosp-gen", "--hf-config", args.hf_config, "--seq-len", str(args.seq_len),
               "--batch", str(args.batch), "--layers", str(cfg["layers"]), "--dtype", args.dtype]
    meta = {
        "hf_config": os.path.abspath(args.hf_config), "model_type": cfg["model_type"],
        "seq_len": args.seq_len, "batch": args.batch, "layers": cfg["layers"], "dtype": args.dtype,
        "seed": args.seed, "std": args.std, "loss": loss.item(),
        "counted_targets": int((labels[:, 1:] != -100).sum()),
        "params": [n for n, _ in specs],
        "autosp_gen": " ".join(shlex.quote(a) for a in gen_cmd),
        "torch": torch.__version__,
    }
    tmp = os.path.join(args.out_dir, "meta.json.tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(args.out_dir, "meta.json"))
    print(f"loss = {loss.item():.17g} ({cfg['model_type']}, {cfg['layers']} layers, B={args.batch}, S={args.seq_len}, "
          f"{args.dtype}, seed {args.seed}) -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
