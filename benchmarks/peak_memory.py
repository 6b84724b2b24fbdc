"""Peak extra memory of one attention computation, measured in a fresh process.

Usage: ``python benchmarks/peak_memory.py IMPLEMENTATION NUM_TOKENS [--threads N]
[--mode forward|forward+backward] [--num-heads H]``; prints one JSON object:
``{"peak_extra_bytes": ..., "seconds": ...}``. In ``forward+backward`` mode the inputs
require gradients and the measurement covers the forward pass, ``out.sum().backward()``
and the three gradients it leaves, as one training step of the attention core would.

PyTorch's CPU allocator has no statistics of its own, and ``tracemalloc`` sees only
Python's allocations, so we ask the operating system. Linux keeps, per process, the
high-water mark of its resident memory (``VmHWM`` in ``/proc/self/status``), and
writing ``5`` to ``/proc/self/clear_refs`` resets that mark to the current resident
size. So: create the inputs, run the computation once on a small input (so that
thread pools and kernels are initialised outside the measurement), reset the mark,
run the computation, and report the mark minus the resident size just before.
PyTorch frees large tensors back to the system at once, so the difference is the
most memory the computation held at any moment, output included. A fresh process
per measurement keeps one case's leftovers out of the next.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from attention_examples import causal_mask, scaled_dot_product_attention, tiled_attention

BATCH, NUM_HEADS, HEAD_DIM = 1, 12, 64  # one sequence of the benchmark's setting
STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def naive(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """The book's step-by-step attention: it forms the (T, T) scores and weights."""
    return scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2]))[0]


def tiled(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    return tiled_attention(q, k, v, block_size=128, causal=True)


def fused(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


IMPLEMENTATIONS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "scaled_dot_product_attention": naive,
    "tiled_attention": tiled,
    "F.scaled_dot_product_attention": fused,
}


def _status_kib(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{STATUS} has no {field} line")


def measure_training(name: str, num_tokens: int, num_heads: int) -> dict[str, float]:
    """Peak extra bytes and seconds of a forward and backward pass of ``IMPLEMENTATIONS[name]``."""
    fn = IMPLEMENTATIONS[name]
    torch.manual_seed(0)
    q, k, v = (
        torch.randn(BATCH, num_heads, num_tokens, HEAD_DIM, requires_grad=True) for _ in range(3)
    )
    small = [torch.randn(BATCH, num_heads, 256, HEAD_DIM, requires_grad=True) for _ in range(3)]
    fn(*small).sum().backward()  # warm-up: thread pools, kernel selection, autograd engine
    del small
    gc.collect()
    CLEAR_REFS.write_text("5")  # VmHWM := VmRSS
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    fn(q, k, v).sum().backward()
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    assert q.grad is not None
    assert q.grad.shape == q.shape
    return {"peak_extra_bytes": (peak - before) * 1024, "seconds": seconds}


def measure(name: str, num_tokens: int) -> dict[str, float]:
    """Peak extra bytes and seconds of one call of ``IMPLEMENTATIONS[name]``."""
    if not CLEAR_REFS.exists():
        raise SystemExit("peak memory is measured through /proc/self: it needs Linux")
    fn = IMPLEMENTATIONS[name]
    torch.manual_seed(0)
    q, k, v = (torch.randn(BATCH, NUM_HEADS, num_tokens, HEAD_DIM) for _ in range(3))
    with torch.inference_mode():
        small = torch.randn(BATCH, NUM_HEADS, 256, HEAD_DIM)
        fn(small, small, small)  # warm-up: thread pools, kernel selection
        del small
        gc.collect()
        CLEAR_REFS.write_text("5")  # VmHWM := VmRSS
        before = _status_kib("VmRSS")
        start = time.perf_counter()
        out = fn(q, k, v)
        seconds = time.perf_counter() - start
        peak = _status_kib("VmHWM")
    assert out.shape == q.shape
    return {"peak_extra_bytes": (peak - before) * 1024, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("implementation", choices=sorted(IMPLEMENTATIONS))
    parser.add_argument("num_tokens", type=int)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--mode", choices=("forward", "forward+backward"), default="forward")
    parser.add_argument("--num-heads", type=int, default=NUM_HEADS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not CLEAR_REFS.exists():
        raise SystemExit("peak memory is measured through /proc/self: it needs Linux")
    if args.mode == "forward":
        print(json.dumps(measure(args.implementation, args.num_tokens)))
    else:
        print(json.dumps(measure_training(args.implementation, args.num_tokens, args.num_heads)))


if __name__ == "__main__":
    main()
