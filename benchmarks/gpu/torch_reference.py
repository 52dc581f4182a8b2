"""PyTorch references for `gpups bench gpu`, timed on the same GPU in the same run (benchmarks/gpu/run.sh).

Writes one CSV row per measurement: the device-to-device copy bandwidth (bytes read + written), and the loss+gradient
step of the same models as GpuPs's kernels (softmax regression and a one-hidden-layer ReLU MLP, summed softmax
cross-entropy over the batch, fp32 with TF32 off, as GpuPs computes in fp32) twice: through autograd, and as the
explicit cuBLAS matrix products a hand-written step needs (the cuBLAS-based reference of issue 14).
"""
import argparse
import csv
import statistics
import sys

import torch


def timed(fn, repetitions, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repetitions):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.mean(times), statistics.median(times)


def mlp_autograd(x, y, w1, b1, w2, b2):
    def step():
        for p in (w1, b1, w2, b2):
            p.grad = None
        h = torch.relu(x @ w1.T + b1)
        loss = torch.nn.functional.cross_entropy(h @ w2.T + b2, y, reduction="sum")
        loss.backward()
        return loss
    return step


def mlp_explicit(x, y, w1, b1, w2, b2):
    """Forward and backward as five GEMMs and element-wise work, into preallocated gradients."""
    rows = x.shape[0]
    g_w1, g_b1, g_w2, g_b2 = (torch.empty_like(p) for p in (w1, b1, w2, b2))
    onehot = torch.zeros(rows, w2.shape[0], device=x.device)
    onehot[torch.arange(rows, device=x.device), y] = 1

    def step():
        with torch.no_grad():
            h = torch.relu(torch.addmm(b1, x, w1.T))
            residual = torch.softmax(torch.addmm(b2, h, w2.T), dim=1) - onehot
            torch.mm(residual.T, h, out=g_w2)
            torch.sum(residual, 0, out=g_b2)
            delta = (residual @ w2) * (h > 0)
            torch.mm(delta.T, x, out=g_w1)
            torch.sum(delta, 0, out=g_b1)
    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--rows", type=int, default=32768, help="rows per step")
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=1280)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=50)
    a = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    rows = []

    n = 256 * 1024 * 1024  # 1 GiB of floats
    src, dst = torch.empty(n, device=device), torch.empty(n, device=device)
    mean, p50 = timed(lambda: dst.copy_(src), a.repetitions)
    rows.append(dict(device=name, what="copy d2d 1GiB", rows=0, parameters=0, mean_ms=mean, p50_ms=p50,
                     gb_per_s=2 * n * 4 / (p50 / 1e3) / 1e9))
    del src, dst

    g = torch.Generator(device=device).manual_seed(1)
    x = torch.randn(a.rows, a.features, device=device, generator=g)
    y = torch.randint(0, a.classes, (a.rows,), device=device, generator=g)
    w1 = (torch.randn(a.hidden, a.features, device=device, generator=g) * (2 / a.features) ** 0.5).requires_grad_()
    b1 = torch.zeros(a.hidden, device=device, requires_grad=True)
    w2 = (torch.randn(a.classes, a.hidden, device=device, generator=g) * (2 / a.hidden) ** 0.5).requires_grad_()
    b2 = torch.zeros(a.classes, device=device, requires_grad=True)
    parameters = sum(p.numel() for p in (w1, b1, w2, b2))
    # Multiply-adds: layer 1 forward and weight gradient (no input gradient), layer 2 forward, weight gradient, W2ᵀr.
    flops = 2 * a.rows * (2 * a.hidden * a.features + 3 * a.classes * a.hidden)
    for what, fn in (("mlp autograd", mlp_autograd(x, y, w1, b1, w2, b2)), ("mlp explicit cublas", mlp_explicit(x, y, w1, b1, w2, b2))):
        mean, p50 = timed(fn, a.repetitions)
        rows.append(dict(device=name, what=what, rows=a.rows, parameters=parameters, mean_ms=mean, p50_ms=p50,
                         tflop_per_s=flops / (p50 / 1e3) / 1e12))

    ws = torch.zeros(a.classes, a.features, device=device, requires_grad=True)
    bs = torch.zeros(a.classes, device=device, requires_grad=True)

    def softmax_step():
        ws.grad = bs.grad = None
        torch.nn.functional.cross_entropy(torch.addmm(bs, x, ws.T), y, reduction="sum").backward()
    mean, p50 = timed(softmax_step, a.repetitions)
    rows.append(dict(device=name, what="softmax autograd", rows=a.rows, parameters=ws.numel() + bs.numel(), mean_ms=mean, p50_ms=p50))

    fields = ["device", "what", "rows", "parameters", "mean_ms", "p50_ms", "gb_per_s", "tflop_per_s"]
    with open(a.csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    writer = csv.DictWriter(sys.stdout, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)


if __name__ == "__main__":
    main()
