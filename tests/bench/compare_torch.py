#!/usr/bin/python3
"""Times PyTorch's own equalize against `cle equalize` on the same real-size file and pairs.

Not used by the tests. Needs Debian's python3-torch, python3-h5py, python3-numpy and time:

    apt-get install python3-torch python3-h5py python3-numpy time
    /usr/bin/python3 tests/bench/compare_torch.py build/app/cle [--layers 8 --width 2560]

Writes a PyTorch-layout chain of Linear layers (float32, imbalanced channel scales) to a scratch
file, equalizes it with torch.ao.quantization._equalize.equalize (load time excluded) and with
`cle equalize` (its report's "equalize" seconds), both for the same number of sweeps (--sweeps;
the reference's own convergence test still runs every sweep, it is only told to stop after N, as
`cle --max-sweeps N` does), and prints both times, their ratio, cle's peak memory and the file
size.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch
from torch.ao.quantization._equalize import equalize


def make_file(path, layers, width, seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for k in range(layers):
            scale = np.exp(rng.normal(0, 1.5, size=(width, 1))).astype(np.float32)
            w = (rng.uniform(-1, 1, size=(width, width)).astype(np.float32) * scale)
            f[f"fc{k}.weight"] = w
            f[f"fc{k}.bias"] = rng.uniform(-1, 1, size=width).astype(np.float32)


def torch_model(path, layers, width):
    mods = []
    with h5py.File(path, "r") as f:
        for k in range(layers):
            lin = torch.nn.Linear(width, width)
            lin.weight.data = torch.from_numpy(f[f"fc{k}.weight"][...])
            lin.bias.data = torch.from_numpy(f[f"fc{k}.bias"][...])
            mods += [(f"fc{k}", lin), (f"relu{k}", torch.nn.ReLU())]
    from collections import OrderedDict
    return torch.nn.Sequential(OrderedDict(mods))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cle")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--width", type=int, default=2560)
    ap.add_argument("--threshold", type=float, default=1e-30)
    ap.add_argument("--sweeps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "chain.h5")
        make_file(src, args.layers, args.width)
        names = [f"fc{k}" for k in range(args.layers)]
        pairs = [[names[i], names[i + 1]] for i in range(len(names) - 1)]

        model = torch_model(src, args.layers, args.width)
        import torch.ao.quantization._equalize as eq
        original = eq.converged
        sweeps = [0]

        def converged(curr, prev, threshold=1e-4):
            done = original(curr, prev, threshold)
            if None not in prev.values():
                sweeps[0] += 1
            return done or sweeps[0] >= args.sweeps

        eq.converged = converged
        start = time.perf_counter()
        equalize(model, pairs, threshold=args.threshold)
        torch_seconds = time.perf_counter() - start

        out = os.path.join(tmp, "out.h5")
        report = os.path.join(tmp, "report.json")
        # /usr/bin/time measures cle's own peak memory (a child forked from this large process
        # would otherwise count this process's pages).
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", os.path.join(tmp, "rss"),
                               args.cle, "equalize", src, "-o", out, "--report", report, "--quiet",
                               "--threshold", str(args.threshold), "--max-sweeps",
                               str(args.sweeps), "--pairs", ",".join(names)], stdout=subprocess.DEVNULL)
        if done.returncode not in (0, 3):
            raise SystemExit(f"cle failed with status {done.returncode}")
        with open(os.path.join(tmp, "rss")) as f:
            peak_kib = int(f.read().split()[-1])
        with open(report) as f:
            r = json.load(f)
        size_mib = os.path.getsize(src) / 2**20
        print(f"parameters          {args.layers * args.width * (args.width + 1) / 1e6:.1f} M"
              f" ({size_mib:.0f} MiB file)")
        print(f"torch equalize      {torch_seconds:.2f} s, {sweeps[0]} sweeps")
        print(f"cle equalize        {r['seconds']['equalize']:.2f} s, {r['sweeps']} sweeps"
              f" (load {r['seconds']['load']:.2f} s, save {r['seconds']['save']:.2f} s)")
        print(f"speed-up            {torch_seconds / r['seconds']['equalize']:.1f}x")
        print(f"cle peak memory     {peak_kib / 1024:.0f} MiB"
              f" ({peak_kib / 1024 / size_mib:.2f}x the file)")


if __name__ == "__main__":
    sys.exit(main())
