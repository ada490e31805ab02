#!/usr/bin/python3
"""How `cle equalize` grows with the size of a network, next to the I/O floor.

Not used by the tests. Needs python3-h5py, python3-numpy and /usr/bin/time:

    /usr/bin/python3 tests/bench/chain_scaling.py build/app/cle [--sizes 10,200] [--repeats 3]

For each size (millions of weights) writes a PyTorch-layout chain of 8 square Linear layers with
biases (float32, imbalanced channel scales) to a scratch directory, then, interleaved, REPEATS
times: the whole `cle equalize` (load, 10 sweeps, quantization preview, save, as one process
measured from outside) and the floor: h5py reading every dataset and writing them to a new file,
flushed and fsynced. Prints per size the phases of cle (its report's seconds, medians), the
ratio whole cle / floor per repetition (min and median) and cle's peak resident memory over the
file size.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import h5py
import numpy as np

LAYERS = 8


def make_chain(path, weights, seed=0):
    width = int(round((weights / LAYERS) ** 0.5))
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for k in range(LAYERS):
            w = f.create_dataset(f"fc{k}.weight", (width, width), np.float32)
            for row in range(0, width, 1024):  # a slab at a time: bounded memory
                rows = min(1024, width - row)
                scale = np.exp(rng.normal(0, 1.5, size=(rows, 1))).astype(np.float32)
                w[row:row + rows] = rng.uniform(-1, 1, size=(rows, width)).astype(np.float32) * scale
            f[f"fc{k}.bias"] = rng.uniform(-1, 1, size=width).astype(np.float32)
    return width


def floor(src, dst):
    start = time.perf_counter()
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for name in f:
            g[name] = f[name][...]
        g.flush()
        os.fsync(g.id.get_vfd_handle())
    return time.perf_counter() - start


def run_cle(cle, src, out, report, rss):
    names = ",".join(f"fc{k}" for k in range(LAYERS))
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, cle, "equalize", src, "-o", out,
                           "--report", report, "--quiet", "--force", "--threshold", "1e-30",
                           "--max-sweeps", "10", "--pairs", names], stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise SystemExit(f"cle failed with status {done.returncode}")
    with open(report) as f:
        seconds = json.load(f)["seconds"]
    with open(rss) as f:
        peak = int(f.read().split()[-1]) * 1024
    return wall, seconds, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cle")
    ap.add_argument("--sizes", default="10,200", help="millions of weights, comma separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temporary one)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            src = os.path.join(tmp, "chain.h5")
            make_chain(src, size * 1_000_000)
            file_bytes = os.path.getsize(src)
            walls, floors, peaks, phases = [], [], [], {}
            for _ in range(args.repeats):
                floors.append(floor(src, os.path.join(tmp, "floor.h5")))
                wall, seconds, peak = run_cle(args.cle, src, os.path.join(tmp, "out.h5"),
                                              os.path.join(tmp, "r.json"), os.path.join(tmp, "rss"))
                walls.append(wall)
                peaks.append(peak)
                for k, v in seconds.items():
                    phases.setdefault(k, []).append(v)
            ratios = [w / f for w, f in zip(walls, floors)]
            med = {k: statistics.median(v) for k, v in phases.items()}
            rows.append((size, file_bytes, med, statistics.median(walls), statistics.median(floors),
                         min(ratios), statistics.median(ratios), max(peaks) / file_bytes))
            for name in ("chain.h5", "floor.h5", "out.h5"):
                path = os.path.join(tmp, name)
                if os.path.exists(path):
                    os.remove(path)
    print("| weights | file | load s | equalize s (10 sweeps) | preview s | save s | whole cle s |"
          " h5py read+write+fsync s | cle / floor (min, median) | peak RSS / file |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, fb, med, wall, fl, rmin, rmed, rss in rows:
        print(f"| {size} M | {fb / 2**20:.0f} MiB | {med.get('load', 0):.2f} | "
              f"{med.get('equalize', 0):.2f} | {med.get('quantization', 0):.2f} | "
              f"{med.get('save', 0):.2f} | {wall:.2f} | {fl:.2f} | {rmin:.2f}, {rmed:.2f} | "
              f"{rss:.2f} |")


if __name__ == "__main__":
    main()
