#!/usr/bin/python3
"""Runs conv_sweep_bench with interleaved repetitions and prints, per thread count, the cost of one
sweep over the cost of one plain read+write pass, as min and median over the repetitions (each
ratio from one repetition of both, so the machine's load cancels as far as it can).

    /usr/bin/python3 tests/bench/sweep_ratio.py build/tests/bench/conv_sweep_bench FILE PAIRS [REPS]
"""
import json
import os
import statistics
import subprocess
import sys


def main():
    binary, path, pairs = sys.argv[1:4]
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    env = dict(os.environ, CLE_BENCH_FILE=path, CLE_BENCH_PAIRS=pairs)
    out = subprocess.run([binary, f"--benchmark_repetitions={reps}",
                          "--benchmark_enable_random_interleaving=true",
                          "--benchmark_format=json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    runs = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        runs.setdefault(b["run_name"], []).append(b["real_time"])
        runs.setdefault(b["run_name"] + "/cpu", []).append(b.get("cpu_ms", b["cpu_time"]))
    for threads in (1, 2):
        sweep = runs[f"Sweep/threads:{threads}/iterations:1/manual_time"]
        floor = runs[f"ReadWritePass/threads:{threads}/iterations:10"]
        ratios = [s / f for s, f in zip(sweep, floor)]
        print(f"threads {threads}: sweep {statistics.median(sweep):.2f} ms, read+write "
              f"{statistics.median(floor):.2f} ms (medians); sweep / read+write: "
              f"min {min(ratios):.2f}, median {statistics.median(ratios):.2f} over {len(ratios)}")
        sweep = runs[f"Sweep/threads:{threads}/iterations:1/manual_time/cpu"]
        floor = runs[f"ReadWritePass/threads:{threads}/iterations:10/cpu"]
        ratios = [s / f for s, f in zip(sweep, floor)]
        print(f"           processor time: sweep / read+write min {min(ratios):.2f}, "
              f"median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
