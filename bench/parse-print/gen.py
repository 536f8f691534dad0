#!/usr/bin/env python3
"""Writes a module of N tensor-dialect ops for the parse-print benchmark.

  gen.py --ops 1000000 --form aspir   -o big.aspir      AutoSpIR custom form
  gen.py --ops 1000000 --form generic -o big.generic.aspir   AutoSpIR generic form
  gen.py --ops 1000000 --form mlir    -o big.mlir       MLIR generic form for mlir-opt

The three files hold the same program. For mlir-opt the ops are renamed from
"tensor.*" to "tns.*": MLIR registers a dialect called tensor itself, and
rejects unknown ops in a registered dialect even with --allow-unregistered-dialect.
"""
import argparse

T = "tensor<8x8xf32>"
# (op, operand count, extra attribute text, result type) cycled through the body.
MIX = [
    ("add", 2, "", T),
    ("mul", 2, "", T),
    ("neg", 1, "", T),
    ("matmul", 2, "", T),
    ("exp", 1, "", T),
    ("sub", 2, "", T),
    ("transpose", 1, " {perm = [1, 0]}", T),
    ("silu", 1, "", T),
    ("div", 2, "", T),
    ("rsqrt", 1, "", T),
]
SAME_TYPE = {"add", "mul", "neg", "exp", "sub", "silu", "div", "rsqrt"}
FUNC_OPS = 10000  # ops per function (plus its return)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=1_000_000)
    ap.add_argument("--form", choices=["aspir", "generic", "mlir"], default="aspir")
    ap.add_argument("-o", required=True)
    a = ap.parse_args()
    prefix = "tns" if a.form == "mlir" else "tensor"
    with open(a.o, "w") as f:
        w = f.write
        w("module {\n")
        done = 0
        fn = 0
        while done < a.ops:
            n = min(FUNC_OPS, a.ops - done)
            w(f"  func.func @f{fn}(%a: {T}, %b: {T}) -> {T} {{\n")
            prev, prev2 = "%a", "%b"
            for i in range(n - 1):  # the return is op number n
                name, arity, attrs, rt = MIX[i % len(MIX)]
                operands = [prev, prev2][:arity]
                args = ", ".join(operands)
                v = f"%v{i}"
                if a.form == "aspir":
                    if name in SAME_TYPE:
                        ty = T
                    elif arity == 1:
                        ty = f"{T} -> {rt}"
                    else:
                        ty = f"({', '.join([T] * arity)}) -> {rt}"
                    w(f"    {v} = {prefix}.{name} {args}{attrs} : {ty}\n")
                else:
                    w(f'    {v} = "{prefix}.{name}"({args}){attrs} : ({", ".join([T] * arity)}) -> {rt}\n')
                prev2, prev = prev, v
            w(f"    func.return {prev} : {T}\n  }}\n")
            done += n
            fn += 1
        w("}\n")


if __name__ == "__main__":
    main()
