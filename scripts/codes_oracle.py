#!/usr/bin/python3
"""Independent NumPy check of GpuPs's gradient codes, from the outside: it reads what `gpups codes --json` prints and
never calls the project's decoder.

    codes_oracle.py check  DUMP.json ...   one row per code: every responder set of size n - s solved in float64, its
                                           condition number and the float32 error of the full gradient it decodes
    codes_oracle.py table  DUMP.json ...   for small n (2^n subsets), every responder set's decodability as a hex bitmap
                                           (bit m: the set with worker bitmask m decodes)
    codes_oracle.py csharp DUMP.json ...   the same bitmaps as the rows of tests/Shared/NumPyDecodability.cs
    codes_oracle.py spread DUMP.json ...   the float32 error of the code's worst (n - s)-set over fresh gradient draws for
                                           vectors of 16, 64 and 1024 values: how far one decode of a short shard strays
                                           from the error measured over 1024 values

The oracle, per responder set F:
  * weights a with a^T B_F = 1^T: normal equations B_F B_F^T a = B_F 1 with two steps of iterative refinement where B_F
    has independent rows, else least squares (np.linalg.lstsq, minimum norm); decodable when max|B_F^T a - 1| <= 1e-6,
    the project's residual tolerance (the rank test 1 in rowspan(B_F) for every code here: exact decodes have residuals
    near 1e-15, undecodable ones near 1);
  * condition sigma_max / sigma_min of B_F (independent rows) from its singular values;
  * float32 error as a shard meets it: N(0, 1) float32 partition gradients g_j, each worker encodes
    c_i = sum_j float32(B[i, j]) * g_j in float32 in partition order (as the kernels and the tests' encoders do), the
    shard sums a_i * c_i in float64 and rounds the sum to float32 once (CodedAggregator.TryClose); relative 2-norm error
    against the float64 sum of the g_j. Two gradient draws; the row keeps the larger error.
Sets are enumerated exhaustively (itertools.combinations) up to --max-sets; a code with more is reported as not checked.
"""
import argparse
import itertools
import json
import math
import re
import sys

import numpy as np

RESIDUAL_TOLERANCE = 1e-6
DIMENSION = 1024
SEEDS = (1, 2)
BATCH = 4096


def load(path):
    with open(path) as f:
        d = json.load(f)
    b = np.array(d["b"], dtype=np.float64)
    return d, b


def encoded(b, seed, dimension=DIMENSION):
    """The workers' float32 coded vectors and the float64 truth, for one draw of gradients."""
    n, k = b.shape
    g = np.random.default_rng(seed).standard_normal((k, dimension)).astype(np.float32)
    c = np.zeros((n, dimension), dtype=np.float32)
    for i in range(n):
        for j in range(k):
            if b[i, j] != 0:
                c[i] += np.float32(b[i, j]) * g[j]
    truth = g.astype(np.float64).sum(axis=0)
    return c.astype(np.float64), truth


def solve_batch(b, sets):
    """Weights (len(sets) x n, 0 off the set), residuals, and whether each set's rows were independent."""
    count, m = sets.shape
    n, k = b.shape
    bf = b[sets]                                    # count x m x k
    gram = bf @ np.swapaxes(bf, 1, 2)               # count x m x m
    ones = np.ones(k)
    a = np.zeros((count, m))
    sv = np.linalg.svd(bf, compute_uv=False)        # count x min(m, k), descending
    independent = (m <= k) & (sv[:, -1] > 1e-10 * sv[:, 0])
    if independent.any():
        g, f = gram[independent], bf[independent]
        x = np.linalg.solve(g, f @ ones)
        for _ in range(2):
            r = ones - np.einsum("cm,cmk->ck", x, f)
            x = x + np.linalg.solve(g, np.einsum("cmk,ck->cm", f, r))
        a[independent] = x
    for c in np.flatnonzero(~independent):
        a[c] = np.linalg.lstsq(bf[c].T, ones, rcond=1e-10)[0]
    residual = np.abs(np.einsum("cm,cmk->ck", a, bf) - 1).max(axis=1)
    weights = np.zeros((count, n))
    np.put_along_axis(weights, sets, a, axis=1)
    rank_sv = np.where(sv > 1e-10 * sv[:, :1], sv, np.inf).min(axis=1)
    condition = sv[:, 0] / rank_sv
    return weights, residual, independent, condition


def float32_errors(weights, draws):
    worst = np.zeros(len(weights))
    for c, truth in draws:
        decoded = (weights @ c).astype(np.float32).astype(np.float64)
        worst = np.maximum(worst, np.linalg.norm(decoded - truth, axis=1) / np.linalg.norm(truth))
    return worst


def check(path, max_sets):
    d, b = load(path)
    n, s = d["workers"], d["stragglers"]
    m = n - s
    total = math.comb(n, m)
    row = dict(file=path.split("/")[-1], code=d["name"], n=n, s=s, k=b.shape[1], sets=total,
               project_error=d["conditioning"]["worst_float32_relative_error"],
               project_condition=d["conditioning"]["condition_at_worst_set"],
               project_undecodable=d["conditioning"]["undecodable_subsets"],
               project_max_weight=d["conditioning"]["max_abs_weight"],
               construction=d["construction"])
    if total > max_sets:
        row["checked"] = False
        return row
    draws = [encoded(b, seed) for seed in SEEDS]
    worst = dict(error=-1.0, set=None, condition=0.0, undecodable=0, dependent=0, max_weight=0.0, residual=0.0,
                 max_condition=0.0)
    combos = itertools.combinations(range(n), m)
    while True:
        chunk = list(itertools.islice(combos, BATCH))
        if not chunk:
            break
        sets = np.array(chunk, dtype=np.int64).reshape(len(chunk), m)
        weights, residual, independent, condition = solve_batch(b, sets)
        decodes = residual <= RESIDUAL_TOLERANCE
        worst["undecodable"] += int((~decodes).sum())
        worst["dependent"] += int((~independent).sum())
        if decodes.any():
            worst["residual"] = max(worst["residual"], float(residual[decodes].max()))
            worst["max_weight"] = max(worst["max_weight"], float(np.abs(weights[decodes]).max()))
            worst["max_condition"] = max(worst["max_condition"], float(condition[decodes].max()))
        errors = np.where(decodes, float32_errors(weights, draws), np.inf)
        at = int(np.argmax(errors))
        if errors[at] > worst["error"]:
            worst.update(error=float(errors[at]), set=[int(v) for v in sets[at]], condition=float(condition[at]))
    row.update(checked=True, **worst)
    return row


def table(path):
    """Every responder set's decodability (bit mask of the set) as a hex bitmap, for n <= 10."""
    d, b = load(path)
    n = d["workers"]
    assert n <= 10, "2^n subsets"
    bits = [False] * (1 << n)
    errors = []
    draws = [encoded(b, seed) for seed in SEEDS]
    for size in range(1, n + 1):
        combos = np.array(list(itertools.combinations(range(n), size)), dtype=np.int64)
        weights, residual, _, _ = solve_batch(b, combos)
        decodes = residual <= RESIDUAL_TOLERANCE
        errors.extend(float32_errors(weights[decodes], draws))
        for row, ok in zip(combos, decodes):
            bits[sum(1 << int(i) for i in row)] = bool(ok)
    # Decodability is monotone in exact arithmetic (rowspan grows with F): a closing rule may rely on it.
    for mask in range(1 << n):
        if bits[mask]:
            assert all(bits[mask | 1 << i] for i in range(n)), f"{path}: mask {mask:#x} decodes, a superset does not"
    value = sum(1 << mask for mask in range(1 << n) if bits[mask])
    width = max(1, (1 << n) // 4)
    speeds = re.search(r"speeds ([0-9.:]+)", d["construction"])
    return dict(code=d["name"], n=n, s=d["stragglers"], construction=d["construction"], bitmap=f"{value:0{width}x}",
                speeds=speeds.group(1).replace(":", ",") if speeds and d["name"] != "cyclic" else "",
                decodable=sum(bits), smallest=min(bin(mk).count("1") for mk in range(1 << n) if bits[mk]),
                worst_error=max(errors))


def spread(path, draws=4000):
    """Quantiles of one decode's error at the code's worst (n - s)-set (by check) over fresh draws, per vector length."""
    worst = check(path, max_sets=2_000_000)["set"]
    _, b = load(path)
    weights, _, _, _ = solve_batch(b, np.array([worst]))
    row = dict(file=path.split("/")[-1], set=worst)
    for dimension in (16, 64, 1024):
        errors = np.array([float32_errors(weights, [encoded(b, 1000 + t, dimension)])[0] for t in range(draws)])
        row[str(dimension)] = dict(median=float(np.median(errors)), p99=float(np.quantile(errors, 0.99)),
                                   max=float(errors.max()), above_1e5=float((errors > 1e-5).mean()))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "table", "csharp", "spread"])
    parser.add_argument("dumps", nargs="+")
    parser.add_argument("--max-sets", type=int, default=2_000_000)
    args = parser.parse_args()
    for path in args.dumps:
        if args.command == "check":
            print(json.dumps(check(path, args.max_sets)), flush=True)
        elif args.command == "spread":
            print(json.dumps(spread(path)), flush=True)
        elif args.command == "table":
            print(json.dumps(table(path)), flush=True)
        else:
            row = table(path)
            print(f'        new("{row["code"]}", {row["n"]}, {row["s"]}, "{row["speeds"]}", "{row["bitmap"]}"),')


if __name__ == "__main__":
    sys.exit(main())
