"""Precision/recall and density/coverage at the papers' sample counts: wall time and peak memory.

    python bench/metrics_scale.py                       # n = 5,000, 10,000 and 50,000
    python bench/metrics_scale.py --sizes 5000 10000    # skip the 50,000 (minutes, several GB)
    python bench/metrics_scale.py --quick               # n = 300 and 700, seconds

Per n: n real and n fake feature vectors shaped like the digit classifier's (FEATURE_WIDTH relu units,
float32, on a 16-dimensional manifold as digits are; the fakes slightly shifted and wider), scored by
`gan_tf.metrics.precision_recall` (k=3) and `density_coverage` (k=5) in blocks (--block-size). Each
measurement runs in a fresh Python process, so its peak resident memory is its own:
`resource.getrusage(RUSAGE_SELF).ru_maxrss` (Linux: KiB), which counts everything the process held
(Python, numpy, BLAS buffers, the features), and `base` is that peak just before the metrics ran.
`n x n matrix` is what one full float64 distance matrix takes (n*n*8 bytes): the code before blocking
held several of them at once. Up to --full-max (default 10,000) the same run also times one block of
n rows (block_size=n, the full-matrix computation of before) as the reference for the ratio.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FEATURE_WIDTH = 128  # gan_tf.classifier's Dense "features" layer (a test checks they agree)


def feature_sets(n, seed=0):
    """(real, fake) float32 [n, FEATURE_WIDTH]: relu(z W + b) with z ~ N(0, I_16); fakes from a shifted,
    wider z, so precision, recall, density and coverage all land inside (0, 1)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(16, FEATURE_WIDTH)) / 4.0
    bias = rng.normal(0.0, 0.2, FEATURE_WIDTH)
    real = np.maximum(rng.normal(size=(n, 16)) @ weights + bias, 0.0)
    fake = np.maximum(rng.normal(0.1, 1.1, size=(n, 16)) @ weights + bias, 0.0)
    return real.astype(np.float32), fake.astype(np.float32)


def measure(n, block_size=None):
    """Run in the child process: one n, one block size; returns a dict of times and peaks."""
    from gan_tf import metrics

    real, fake = feature_sets(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    precision, recall = metrics.precision_recall(real, fake, block_size=block_size)
    middle = time.perf_counter()
    density, coverage = metrics.density_coverage(real, fake, block_size=block_size)
    finished = time.perf_counter()
    return {"n": n, "block_size": block_size, "precision_recall_s": round(middle - started, 2),
            "density_coverage_s": round(finished - middle, 2),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "base_rss_bytes": base,
            "precision": precision, "recall": recall, "density": density, "coverage": coverage}


def measure_in_fresh_process(n, block_size=None):
    command = [sys.executable, os.path.abspath(__file__), "--one", str(n)]
    if block_size:
        command += ["--block-size", str(block_size)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"n = {n} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def megabytes(count):
    return f"{count / 1e6:,.0f} MB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10_000, 50_000])
    parser.add_argument("--quick", action="store_true", help="n = 300 and 700: seconds, to check the script")
    parser.add_argument("--full-max", type=int, default=10_000,
                        help="also time the full n x n computation up to this n (default: 10000)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--block-size", type=int, default=None,
                        help="rows per block (default: the library's, 64 MB of distances; --quick: 128)")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.block_size)))
        return
    sizes = [300, 700] if args.quick else args.sizes
    block_size = args.block_size or (128 if args.quick else None)
    print(f"{len(sizes)} sizes, {FEATURE_WIDTH} float32 features; peak memory: ru_maxrss of a fresh process per row",
          flush=True)
    print("| n | blocks | precision/recall s | density/coverage s | peak RSS | base RSS | n x n matrix "
          "| P, R, D, C |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for n in sizes:
        rows = [measure_in_fresh_process(n, block_size)]
        if n <= args.full_max:
            rows.append(measure_in_fresh_process(n, block_size=n))
        for row in rows:
            scores = ", ".join(f"{row[key]:.4f}" for key in ("precision", "recall", "density", "coverage"))
            blocks = ("one (full matrix)" if row["block_size"] == n
                      else "default" if row["block_size"] is None else f"{row['block_size']} rows")
            print(f"| {n:,} | {blocks} | {row['precision_recall_s']:.2f} | {row['density_coverage_s']:.2f} "
                  f"| {megabytes(row['peak_rss_bytes'])} | {megabytes(row['base_rss_bytes'])} "
                  f"| {megabytes(n * n * 8)} | {scores} |", flush=True)
        if len(rows) == 2:
            same = all(rows[0][key] == rows[1][key] for key in ("precision", "recall", "density", "coverage"))
            seconds = [row["precision_recall_s"] + row["density_coverage_s"] for row in rows]
            above = [megabytes(row["peak_rss_bytes"] - row["base_rss_bytes"]) for row in rows]
            print(f"n = {n:,}: blocked / full-matrix time {seconds[0] / max(seconds[1], 1e-9):.2f}, "
                  f"memory above base {above[0]} vs {above[1]}; same numbers: {same}", flush=True)


if __name__ == "__main__":
    main()
