#!/usr/bin/python3
"""Times PyTorch's own equalize against `cle equalize` on the same real-size file and pairs.

Not used by the tests. Needs Debian's python3-torch, python3-h5py, python3-numpy and time:

    apt-get install python3-torch python3-h5py python3-numpy time
    /usr/bin/python3 tests/bench/compare_torch.py build/app/cle [--layers 8 --width 2560]
    /usr/bin/python3 tests/bench/compare_torch.py build/app/cle --inception [--sweeps 33]

Writes a scratch file: a PyTorch-layout chain of Linear layers (float32, imbalanced channel
scales), or with --inception an InceptionV3-shaped state dict (tests/bench/make_inception_v3_like.py,
its 45 pairs). Then, REPEATS times (--repeats), interleaved:
- PyTorch: the file read with h5py into the modules, torch.ao.quantization._equalize.equalize on
  the pairs, every dataset written to a new file (flushed and fsynced); the equalize call is timed
  on its own and the three steps together ("whole process");
- `cle equalize` on the same file and pairs (its report's "equalize" seconds, and the whole
  process measured from outside),
both for the same number of sweeps (--sweeps; the reference's own convergence test still runs
every sweep, it is only told to stop after N, as `cle --max-sweeps N` does). Prints the times
(medians), the speed-ups per repetition (min and median), cle's peak memory and the file size.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

import h5py
import numpy as np
import torch
import torch.ao.quantization._equalize as eq

HERE = os.path.dirname(os.path.abspath(__file__))


def make_chain(path, layers, width, seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for k in range(layers):
            scale = np.exp(rng.normal(0, 1.5, size=(width, 1))).astype(np.float32)
            w = (rng.uniform(-1, 1, size=(width, width)).astype(np.float32) * scale)
            f[f"fc{k}.weight"] = w
            f[f"fc{k}.bias"] = rng.uniform(-1, 1, size=width).astype(np.float32)
    names = [f"fc{k}" for k in range(layers)]
    return [names]


def make_inception(path, tmp):
    pairs_file = os.path.join(tmp, "pairs.json")
    subprocess.run([sys.executable, os.path.join(HERE, "make_inception_v3_like.py"), path,
                    pairs_file], check=True)
    with open(pairs_file) as f:
        return json.load(f)["groups"]


def module_for(weight):
    out, inp = weight.shape[:2]
    if weight.ndim == 2:
        return torch.nn.Linear(inp, out)
    return torch.nn.Conv2d(inp, out, tuple(weight.shape[2:]))


def torch_model(path, names):
    """A module tree whose named_modules() are the layer names (dots make nested modules)."""
    root = torch.nn.Module()
    with h5py.File(path, "r") as f:
        for name in names:
            weight = f[name + ".weight"][...]
            leaf = module_for(weight)
            leaf.weight.data = torch.from_numpy(weight)
            leaf.bias.data = torch.from_numpy(f[name + ".bias"][...])
            parent = root
            parts = name.split(".")
            for part in parts[:-1]:
                if not hasattr(parent, part):
                    parent.add_module(part, torch.nn.Module())
                parent = getattr(parent, part)
            parent.add_module(parts[-1], leaf)
    return root


def save_like(src, dst, model, names):
    """Every dataset of src written to dst, the equalized ones from the model; then fsync."""
    modules = dict(model.named_modules())
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for key in f:
            layer, _, what = key.rpartition(".")
            if layer in names:
                g[key] = getattr(modules[layer], what).detach().numpy()
            else:
                g[key] = f[key][...]
        g.flush()
        os.fsync(g.id.get_vfd_handle())


def run_torch(src, dst, groups, sweeps, threshold):
    names = {n for g in groups for n in g}
    pairs = [[g[i], g[i + 1]] for g in groups for i in range(len(g) - 1)]
    start = time.perf_counter()
    model = torch_model(src, names)
    original = eq.converged
    count = [0]

    def converged(curr, prev, threshold=1e-4):
        done = original(curr, prev, threshold)
        if None not in prev.values():
            count[0] += 1
        return done or count[0] >= sweeps

    eq.converged = converged
    try:
        t0 = time.perf_counter()
        eq.equalize(model, pairs, threshold=threshold)
        equalize_seconds = time.perf_counter() - t0
    finally:
        eq.converged = original
    save_like(src, dst, model, names)
    return equalize_seconds, time.perf_counter() - start, count[0]


def run_cle(cle, src, tmp, groups, sweeps, threshold):
    out = os.path.join(tmp, "out.h5")
    report = os.path.join(tmp, "report.json")
    pairs_file = os.path.join(tmp, "cle_pairs.json")
    with open(pairs_file, "w") as f:
        json.dump({"groups": groups}, f)
    # /usr/bin/time measures cle's own peak memory (a child forked from this large process
    # would otherwise count this process's pages).
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", os.path.join(tmp, "rss"),
                           cle, "equalize", src, "-o", out, "--report", report, "--quiet",
                           "--force", "--threshold", str(threshold), "--max-sweeps", str(sweeps),
                           "--pairs-file", pairs_file], stdout=subprocess.DEVNULL)
    whole = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise SystemExit(f"cle failed with status {done.returncode}")
    with open(os.path.join(tmp, "rss")) as f:
        peak_kib = int(f.read().split()[-1])
    with open(report) as f:
        r = json.load(f)
    return r, whole, peak_kib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cle")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--width", type=int, default=2560)
    ap.add_argument("--inception", action="store_true",
                    help="an InceptionV3-shaped PyTorch file and its 45 pairs instead of a chain")
    ap.add_argument("--threshold", type=float, default=1e-30)
    ap.add_argument("--sweeps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "model.h5")
        groups = (make_inception(src, tmp) if args.inception
                  else make_chain(src, args.layers, args.width))
        rows = []
        for _ in range(args.repeats):
            t_eq, t_whole, t_sweeps = run_torch(src, os.path.join(tmp, "torch_out.h5"), groups,
                                                args.sweeps, args.threshold)
            r, c_whole, peak_kib = run_cle(args.cle, src, tmp, groups, args.sweeps,
                                           args.threshold)
            rows.append((t_eq, t_whole, r["seconds"], c_whole, peak_kib, t_sweeps, r["sweeps"]))
        with h5py.File(src, "r") as f:
            names = {n for g in groups for n in g}
            parameters = sum(f[n + ".weight"].size + f[n + ".bias"].size for n in names)
        size_mib = os.path.getsize(src) / 2**20
        med = statistics.median
        eq_ratio = [t_eq / s["equalize"] for t_eq, _, s, *_ in rows]
        whole_ratio = [t_whole / c for _, t_whole, _, c, *_ in rows]
        print(f"pairs               {sum(len(g) - 1 for g in groups)}, "
              f"{parameters / 1e6:.1f} M parameters in them ({size_mib:.0f} MiB file)")
        print(f"torch equalize      {med(r[0] for r in rows):.2f} s, {rows[0][5]} sweeps; "
              f"whole process {med(r[1] for r in rows):.2f} s")
        print(f"cle equalize        {med(r[2]['equalize'] for r in rows):.2f} s, {rows[0][6]} sweeps"
              f" (load {med(r[2]['load'] for r in rows):.2f} s, save "
              f"{med(r[2]['save'] for r in rows):.2f} s); whole process "
              f"{med(r[3] for r in rows):.2f} s")
        print(f"speed-up equalize   min {min(eq_ratio):.1f}x, median {med(eq_ratio):.1f}x "
              f"over {len(rows)}")
        print(f"speed-up whole      min {min(whole_ratio):.1f}x, median {med(whole_ratio):.1f}x")
        peak = max(r[4] for r in rows)
        print(f"cle peak memory     {peak / 1024:.0f} MiB ({peak / 1024 / size_mib:.2f}x the file)")


if __name__ == "__main__":
    sys.exit(main())
