"""Time and memory of the book's attention implementations on this machine's CPU.

Run it with ``nox -s bench`` (or ``python benchmarks/run_benchmark.py``). It

1. times, side by side in one run, a forward pass of every implementation at the
   setting of the best-known public comparison: float32, batch 8, 1024 tokens,
   embedding 768, 12 heads of 64, causal, no dropout;
2. times them again at other sequence lengths (fewer rounds where they are slow);
3. measures the peak extra memory of step-by-step, tiled and fused attention at
   T = 1024 ... 8192, each in a fresh process (see ``peak_memory.py``);
4. times one decoding step with a KV cache against recomputing the sequence;
5. times the batched MultiHeadAttention against the wrapper of separate heads at
   several batch sizes, with the page faults of each call, to show why their order
   depends on the size of the score tensors on a CPU;
6. times one decoding step of grouped-query attention with 12, 4 and 1 key/value
   heads, with the size of its KV cache, at several cached lengths;
7. measures the peak extra memory of a forward *and backward* pass, step by step
   (autograd) and tiled (its own backward), at T = 1024 ... 8192 in fresh processes;
8. writes everything to ``benchmarks/results.json`` with the machine and the
   versions, redraws the figures in ``benchmarks/figures/`` and prints the ratios
   against their targets.

``--only SECTION`` (decode, batch_sizes, grouped or training_memory) recomputes that one
section and its ratios and updates the existing results file, leaving every other section
as it was.

Timing: every forward pass runs in inference mode (modules in ``eval()``, under
``torch.inference_mode()``), as when a trained model is used. A *round* times every
implementation once, back to back, in a rotating order; a time is the median over
the rounds, and a ratio is the median over the rounds of the two implementations'
times in the same round, so that a busy moment of a shared machine slows both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils import benchmark

import attention_examples
from attention_examples import (
    FusedMultiHeadAttention,
    GroupedQueryAttention,
    KVCache,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    causal_mask,
    decode_step,
    plot_benchmark,
    scaled_dot_product_attention,
    tiled_attention,
)

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"
FIGURES = HERE / "figures"

BATCH, NUM_TOKENS, D_MODEL, NUM_HEADS = 8, 1024, 768, 12
HEAD_DIM = D_MODEL // NUM_HEADS
BLOCK_SIZE = 128

# Sequence lengths of the time curves, with the rounds at each (fewer where slow).
SCALING_ROUNDS = {128: 6, 256: 6, 512: 6, 1024: 10, 2048: 3}
MEMORY_TOKENS = (1024, 2048, 4096, 8192)
# Forward plus backward keeps several (T, T) tensors for autograd in the step-by-step
# version: 4 heads rather than 12 keep its peak at T = 8192 near 5 GiB.
TRAINING_TOKENS, TRAINING_HEADS = (1024, 2048, 4096, 8192), 4
DECODE_TOKENS = (128, 256, 512, 1024, 2048)
DECODE_ROUNDS = 10
BATCH_SIZES = (1, 2, 4, 8)  # the wrapper against the batched module
BATCH_ROUNDS = 3
GROUPED_BATCH = 4  # one decoding step of grouped-query attention, for each cached length
GROUPED_TOKENS = (1024, 4096, 16384)
GROUPED_KV_HEADS = (NUM_HEADS, 4, 1)  # as many as the query heads, groups of 3, one
GROUPED_ROUNDS = 10

# The targets of the comparison, as ratios measured in one run.
TARGETS = {
    "mha_vs_torch_mha": 1.10,
    "fused_vs_torch_mha": 0.75,
    "tiled_vs_naive_memory": 1 / 8,
    "tiled_vs_naive_training_memory": 1 / 8,
}

Case = Callable[[], Tensor]


# --- the implementations ----------------------------------------------------------


def build_cases(num_tokens: int, seed: int = 0) -> dict[str, Case]:
    """Every implementation, ready to run on one (BATCH, num_tokens, D_MODEL) input.

    The layers compute the same function with the same weights (the wrapper has its
    own, as its heads are separate modules); the attention cores get the queries,
    keys and values the layers compute, already projected and split into heads.
    """
    torch.manual_seed(seed)
    x = torch.randn(BATCH, num_tokens, D_MODEL)
    wrapper = MultiHeadAttentionWrapper(D_MODEL, HEAD_DIM, num_tokens, 0.0, NUM_HEADS).eval()
    mha = MultiHeadAttention(D_MODEL, D_MODEL, num_tokens, 0.0, NUM_HEADS).eval()
    fused = FusedMultiHeadAttention.from_module(mha).eval()
    torch_mha = nn.MultiheadAttention(D_MODEL, NUM_HEADS, dropout=0.0, batch_first=True).eval()
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(
            torch.cat([mha.W_query.weight, mha.W_key.weight, mha.W_value.weight])
        )
        torch_mha.in_proj_bias.zero_()
        torch_mha.out_proj.load_state_dict(mha.out_proj.state_dict())
    future = causal_mask(num_tokens)
    with torch.inference_mode():
        q, k, v = mha.project(x)  # (BATCH, NUM_HEADS, num_tokens, HEAD_DIM) each

    def projections_and_fused_function() -> Tensor:
        """The fast path's work written out with no module and no checks."""
        qs, ks, vs = (
            F.linear(x, w.weight).view(BATCH, num_tokens, NUM_HEADS, HEAD_DIM).transpose(1, 2)
            for w in (mha.W_query, mha.W_key, mha.W_value)
        )
        context = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True)
        context = context.transpose(1, 2).reshape(BATCH, num_tokens, D_MODEL)
        return F.linear(context, mha.out_proj.weight, mha.out_proj.bias)

    return {
        "MultiHeadAttentionWrapper": lambda: wrapper(x),
        "MultiHeadAttention": lambda: mha(x),
        "FusedMultiHeadAttention": lambda: fused(x),
        "torch.nn.MultiheadAttention": lambda: torch_mha(
            x, x, x, attn_mask=future, need_weights=False
        )[0],
        "projections + F.scaled_dot_product_attention": projections_and_fused_function,
        "F.scaled_dot_product_attention": lambda: F.scaled_dot_product_attention(
            q, k, v, is_causal=True
        ),
        "scaled_dot_product_attention": lambda: scaled_dot_product_attention(q, k, v, future)[0],
        "tiled_attention": lambda: tiled_attention(q, k, v, BLOCK_SIZE, causal=True),
    }


LAYERS = (
    "MultiHeadAttentionWrapper",
    "MultiHeadAttention",
    "FusedMultiHeadAttention",
    "torch.nn.MultiheadAttention",
    "projections + F.scaled_dot_product_attention",
)


def check_agreement(cases: dict[str, Case]) -> None:
    """Refuse to time implementations that do not compute the same thing."""
    with torch.inference_mode():
        reference = cases["MultiHeadAttention"]()
        for name in LAYERS[2:]:
            torch.testing.assert_close(cases[name](), reference, atol=1e-4, rtol=1e-4, msg=name)
        core = cases["F.scaled_dot_product_attention"]()
        for name in ("scaled_dot_product_attention", "tiled_attention"):
            torch.testing.assert_close(cases[name](), core, atol=1e-4, rtol=1e-4, msg=name)


# --- timing -----------------------------------------------------------------------


def time_rounds(cases: dict[str, Case], rounds: int, threads: int) -> dict[str, list[float]]:
    """Seconds per call of every case, one call per case per round, interleaved."""
    timers = {
        name: benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
        for name, fn in cases.items()
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    with torch.inference_mode():
        for timer in timers.values():
            timer.timeit(1)  # warm-up
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                times[name].append(timers[name].timeit(1).mean)
    return times


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median over rounds of numerator / denominator within a round."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def run_scaling(threads: int, log: Callable[[str], None]) -> tuple[dict, dict]:
    """The comparison at NUM_TOKENS, and the median time of every case at every length."""
    series: dict[str, list[float | None]] = {}
    comparison: dict[str, Any] = {}
    for num_tokens, rounds in SCALING_ROUNDS.items():
        cases = build_cases(num_tokens)
        check_agreement(cases)
        start = time.perf_counter()
        times = time_rounds(cases, rounds, threads)
        log(f"T={num_tokens}: {rounds} rounds in {time.perf_counter() - start:.0f} s")
        for name, values in times.items():
            series.setdefault(name, []).append(statistics.median(values))
        if num_tokens == NUM_TOKENS:
            comparison = {
                "rounds": times,
                "median_s": {name: statistics.median(v) for name, v in times.items()},
                "min_s": {name: min(v) for name, v in times.items()},
            }
        del cases
    dashed = [name for name in series if name not in LAYERS]
    return comparison, {"tokens": list(SCALING_ROUNDS), "series": series, "dashed": dashed}


# --- memory -----------------------------------------------------------------------


def run_memory(threads: int, log: Callable[[str], None]) -> dict:
    """Peak extra bytes (and the time of that one call) per implementation and length."""
    script = HERE / "peak_memory.py"
    names = ("scaled_dot_product_attention", "tiled_attention", "F.scaled_dot_product_attention")
    peak: dict[str, list[int]] = {name: [] for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for num_tokens in MEMORY_TOKENS:
        scores_bytes = 4 * num_tokens**2 * 12  # one (1, 12, T, T) float32 matrix
        available = _meminfo_bytes("MemAvailable")
        if available is not None and 4 * scores_bytes > available:
            raise SystemExit(
                f"T={num_tokens}: the step-by-step attention needs about "
                f"{3 * scores_bytes / 2**30:.1f} GiB, but only {available / 2**30:.1f} GiB "
                "are available; close other programs and run again"
            )
        for name in names:
            out = subprocess.run(
                [sys.executable, str(script), name, str(num_tokens), "--threads", str(threads)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            measured = json.loads(out.strip().splitlines()[-1])
            peak[name].append(measured["peak_extra_bytes"])
            seconds[name].append(measured["seconds"])
            log(f"T={num_tokens} {name}: {measured['peak_extra_bytes'] / 2**20:.1f} MiB")
    return {
        "tokens": list(MEMORY_TOKENS),
        "shape": {"batch": 1, "num_heads": 12, "head_dim": 64},
        "method": (
            "peak resident set size (VmHWM) in a fresh process, reset through "
            "/proc/self/clear_refs just before the call, minus the resident size then"
        ),
        "series": peak,
        "seconds": seconds,
    }


def run_training_memory(threads: int, log: Callable[[str], None]) -> dict:
    """Peak extra bytes of one forward and backward pass, step by step and tiled."""
    script = HERE / "peak_memory.py"
    names = ("scaled_dot_product_attention", "tiled_attention")
    peak: dict[str, list[int]] = {name: [] for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for num_tokens in TRAINING_TOKENS:
        scores_bytes = 4 * num_tokens**2 * TRAINING_HEADS  # one (1, H, T, T) float32 matrix
        available = _meminfo_bytes("MemAvailable")
        if available is not None and 6 * scores_bytes > available:
            raise SystemExit(
                f"T={num_tokens}: the step-by-step forward and backward pass needs about "
                f"{5 * scores_bytes / 2**30:.1f} GiB, but only {available / 2**30:.1f} GiB "
                "are available; close other programs and run again"
            )
        for name in names:
            command = [sys.executable, str(script), name, str(num_tokens)]
            command += ["--threads", str(threads), "--mode", "forward+backward"]
            command += ["--num-heads", str(TRAINING_HEADS)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            measured = json.loads(out.strip().splitlines()[-1])
            peak[name].append(measured["peak_extra_bytes"])
            seconds[name].append(measured["seconds"])
            log(f"T={num_tokens} {name} forward+backward: "
                f"{measured['peak_extra_bytes'] / 2**20:.1f} MiB")  # fmt: skip
    return {
        "tokens": list(TRAINING_TOKENS),
        "shape": {"batch": 1, "num_heads": TRAINING_HEADS, "head_dim": HEAD_DIM},
        "mode": "forward+backward: out.sum().backward(), gradients of q, k and v included",
        "method": (
            "peak resident set size (VmHWM) in a fresh process, reset through "
            "/proc/self/clear_refs just before the forward pass, minus the resident size then"
        ),
        "series": peak,
        "seconds": seconds,
    }


def peak_memory_ratio(section: dict, kind: str, what: str, target: float) -> dict[str, Any]:
    """Tiled / step-by-step peak extra memory of a memory section, at its longest sequence."""
    at = section["tokens"].index(max(section["tokens"]))
    tiled, naive = (
        section["series"][n][at] for n in ("tiled_attention", "scaled_dot_product_attention")
    )
    ratio = _ratio(
        kind,
        "tiled_attention",
        "scaled_dot_product_attention",
        tiled / naive,
        f"{what} at T={section['tokens'][at]}",
        target,
    )
    ratio["tokens"] = section["tokens"][at]
    return ratio


def training_memory_ratio(training: dict) -> dict[str, Any]:
    return peak_memory_ratio(
        training,
        "training_memory",
        "peak extra memory of forward+backward",
        TARGETS["tiled_vs_naive_training_memory"],
    )


# The sections that --only can recompute alone, and the ratios each one feeds.
SECTIONS: dict[str, tuple[Callable[..., dict], dict[str, Callable[[dict], dict]]]] = {
    "decode": (lambda threads, log: run_decode(threads, log), {}),
    "batch_sizes": (lambda threads, log: run_batch_sizes(threads, log), {}),
    "grouped": (lambda threads, log: run_grouped(threads, log), {}),
    "training_memory": (
        run_training_memory,
        {"tiled_vs_naive_training_memory": training_memory_ratio},
    ),
}


def _meminfo_bytes(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# --- decoding ---------------------------------------------------------------------


def run_decode(threads: int, log: Callable[[str], None]) -> dict:
    """Seconds for the t-th token: one cached step, or the whole causal forward pass."""
    torch.manual_seed(0)
    longest = max(DECODE_TOKENS)
    mha = MultiHeadAttention(D_MODEL, D_MODEL, longest, 0.0, NUM_HEADS).eval()
    fused = FusedMultiHeadAttention.from_module(mha).eval()
    x = torch.randn(1, longest, D_MODEL)
    series: dict[str, list[float]] = {
        "decode_step + KVCache": [],
        "MultiHeadAttention": [],
        "FusedMultiHeadAttention": [],
    }
    for t in DECODE_TOKENS:
        cache = KVCache(longest)
        with torch.inference_mode():
            decode_step(mha, x[:, : t - 1], cache)  # the t - 1 tokens before
            step = decode_step(mha, x[:, t - 1 : t], cache)
            torch.testing.assert_close(step, mha(x[:, :t])[:, -1:], atol=1e-4, rtol=1e-4)

        def cached_step(t: int = t, cache: KVCache = cache) -> Tensor:
            cache.truncate(t - 1)
            return decode_step(mha, x[:, t - 1 : t], cache)

        cases = {
            "decode_step + KVCache": cached_step,
            "MultiHeadAttention": lambda t=t: mha(x[:, :t]),
            "FusedMultiHeadAttention": lambda t=t: fused(x[:, :t]),
        }
        times = time_rounds(cases, DECODE_ROUNDS, threads)
        for name, values in times.items():
            series[name].append(statistics.median(values))
        log(f"decode t={t}: " + ", ".join(f"{n} {series[n][-1] * 1e3:.2f} ms" for n in series))
    return {"tokens": list(DECODE_TOKENS), "shape": {"batch": 1}, "series": series}


# --- the wrapper against the batched module ----------------------------------------


def _minor_faults() -> int:
    """Minor page faults of this process so far: a fresh page touched for the first time."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def run_batch_sizes(threads: int, log: Callable[[str], None]) -> dict:
    """MultiHeadAttention and the wrapper at T = NUM_TOKENS for several batch sizes.

    Both compute every head's (T, T) scores; the batched module holds all heads' scores
    in one tensor, the wrapper one head's at a time. Each call's minor page faults count
    the fresh memory pages it touched.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mha = MultiHeadAttention(D_MODEL, D_MODEL, NUM_TOKENS, 0.0, NUM_HEADS).eval()
    wrapper = MultiHeadAttentionWrapper(D_MODEL, HEAD_DIM, NUM_TOKENS, 0.0, NUM_HEADS).eval()
    names = ("MultiHeadAttention", "MultiHeadAttentionWrapper")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    faults: dict[str, list[int]] = {name: [] for name in names}
    ratio = []
    for batch in BATCH_SIZES:
        x = torch.randn(batch, NUM_TOKENS, D_MODEL)
        cases = {
            "MultiHeadAttention": lambda x=x: mha(x),
            "MultiHeadAttentionWrapper": lambda x=x: wrapper(x),
        }
        times: dict[str, list[float]] = {name: [] for name in names}
        touched: dict[str, list[int]] = {name: [] for name in names}
        with torch.inference_mode():
            for case in cases.values():
                case()  # warm-up
            for r in range(BATCH_ROUNDS):
                for name in names[r % 2 :] + names[: r % 2]:
                    before, start = _minor_faults(), time.perf_counter()
                    cases[name]()
                    times[name].append(time.perf_counter() - start)
                    touched[name].append(_minor_faults() - before)
        for name in names:
            seconds[name].append(statistics.median(times[name]))
            faults[name].append(int(statistics.median(touched[name])))
        ratio.append(paired_ratio(times[names[0]], times[names[1]]))
        log(f"batch {batch}: MultiHeadAttention / wrapper {ratio[-1]:.2f}")
    return {
        "batch_sizes": list(BATCH_SIZES),
        "num_tokens": NUM_TOKENS,
        "seconds": seconds,
        "minor_page_faults": faults,
        "ratio_mha_vs_wrapper": ratio,
        "scores_mib": {
            "one head (wrapper)": [4 * b * NUM_TOKENS**2 / 2**20 for b in BATCH_SIZES],
            "all heads (MultiHeadAttention)": [
                4 * b * NUM_HEADS * NUM_TOKENS**2 / 2**20 for b in BATCH_SIZES
            ],
        },
    }


# --- grouped-query attention --------------------------------------------------------


def run_grouped(threads: int, log: Callable[[str], None]) -> dict:
    """One decoding step of GroupedQueryAttention after t - 1 cached tokens.

    The cache is filled with random keys and values (a step's time does not depend on
    them) rather than by a forward pass over t - 1 tokens, which at the longest length
    would form scores of many GiB.
    """
    torch.set_num_threads(threads)
    longest = max(GROUPED_TOKENS)
    seconds: dict[str, list[float]] = {}
    cache_bytes: dict[str, list[int]] = {}
    cases: dict[str, Case] = {}
    modules: dict[str, GroupedQueryAttention] = {}
    for kv_heads in GROUPED_KV_HEADS:
        torch.manual_seed(0)
        name = f"num_kv_heads={kv_heads}"
        modules[name] = GroupedQueryAttention(
            D_MODEL, D_MODEL, longest, 0.0, NUM_HEADS, kv_heads
        ).eval()
        seconds[name], cache_bytes[name] = [], []
    x = torch.randn(GROUPED_BATCH, 1, D_MODEL)
    for t in GROUPED_TOKENS:
        cases = {}
        for name, module in modules.items():
            cache = KVCache(longest)
            shape = (GROUPED_BATCH, module.num_kv_heads, t - 1, HEAD_DIM)
            cache.append(torch.randn(shape), torch.randn(shape))
            with torch.inference_mode():
                decode_step(module, x, cache)
            cache_bytes[name].append(2 * cache.keys.numel() * cache.keys.element_size())

            def step(module=module, cache=cache, t=t) -> Tensor:
                cache.truncate(t - 1)
                return decode_step(module, x, cache)

            cases[name] = step
        times = time_rounds(cases, GROUPED_ROUNDS, threads)
        for name, values in times.items():
            seconds[name].append(statistics.median(values))
        log(f"grouped t={t}: " + ", ".join(f"{n} {seconds[n][-1] * 1e3:.2f} ms" for n in seconds))
    return {
        "tokens": list(GROUPED_TOKENS),
        "batch": GROUPED_BATCH,
        "num_heads": NUM_HEADS,
        "head_dim": HEAD_DIM,
        "dtype": "float32",
        "seconds": seconds,
        "cache_bytes": cache_bytes,
    }


# --- the record -------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = _meminfo_bytes("MemTotal")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads_used": torch.get_num_threads(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "os": platform.platform(),
    }


def _load_average() -> float | None:
    """The 1-minute load average: how busy the machine was with other work."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "attention_examples": attention_examples.__version__,
    }


def ratios(comparison: dict, memory: dict, decode: dict) -> dict[str, dict[str, Any]]:
    rounds = comparison["rounds"]

    def time_ratio(numerator: str, denominator: str, what: str, key: str | None = None):
        value = paired_ratio(rounds[numerator], rounds[denominator])
        return _ratio("time", numerator, denominator, value, what, TARGETS.get(key or ""))

    memory_ratio = peak_memory_ratio(
        memory, "memory", "peak extra memory", TARGETS["tiled_vs_naive_memory"]
    )
    last = -1
    decode_speedup = (
        decode["series"]["MultiHeadAttention"][last]
        / decode["series"]["decode_step + KVCache"][last]
    )
    return {
        "mha_vs_torch_mha": time_ratio(
            "MultiHeadAttention", "torch.nn.MultiheadAttention", "time", "mha_vs_torch_mha"
        ),
        "mha_vs_wrapper": time_ratio("MultiHeadAttention", "MultiHeadAttentionWrapper", "time"),
        "fused_vs_torch_mha": time_ratio(
            "FusedMultiHeadAttention", "torch.nn.MultiheadAttention", "time", "fused_vs_torch_mha"
        ),
        "fused_vs_fused_function": time_ratio(
            "FusedMultiHeadAttention",
            "F.scaled_dot_product_attention",
            "time; the fused function gets q, k, v already projected",
        ),
        "fused_vs_written_out": time_ratio(
            "FusedMultiHeadAttention",
            "projections + F.scaled_dot_product_attention",
            "time; the same work written out with no module and no checks",
        ),
        "fused_vs_mha": time_ratio("FusedMultiHeadAttention", "MultiHeadAttention", "time"),
        "tiled_vs_naive_time": time_ratio(
            "tiled_attention", "scaled_dot_product_attention", "time of the attention core"
        ),
        "tiled_vs_naive_memory": memory_ratio,
        "recompute_vs_cached_step": {
            "kind": "decode",
            "numerator": "MultiHeadAttention",
            "denominator": "decode_step + KVCache",
            "value": decode_speedup,
            "what": f"time for token {decode['tokens'][last]}: recompute / cached step",
            "target": None,
            "met": None,
        },
    }


def _ratio(kind, numerator, denominator, value, what, target) -> dict[str, Any]:
    return {
        "kind": kind,
        "numerator": numerator,
        "denominator": denominator,
        "value": value,
        "what": what,
        "target": target,
        "met": None if target is None else bool(value <= target),
    }


def draw_figures(results: dict, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in ("time", "memory", "decode"):
        ax = plot_benchmark(results, kind)
        path = directory / f"{kind}.svg"
        # No date, and SVG ids from a fixed salt: redrawing the same results gives the same file.
        with matplotlib.rc_context({"svg.hashsalt": "attention-benchmark"}):
            ax.figure.savefig(path, metadata={"Date": None})
        paths.append(path)
    return paths


def print_ratios(results: dict) -> None:
    print("\nRatios (smaller is better for the first name):")
    for key, ratio in results["ratios"].items():
        target = ratio["target"]
        verdict = (
            ""
            if target is None
            else f"  target <= {target:.3g}: " + ("met" if ratio["met"] else "NOT met")
        )
        print(
            f"  {key:26s} {ratio['value']:8.3f}  "
            f"{ratio['numerator']} / {ratio['denominator']} ({ratio['what']}){verdict}"
        )


# The sections that --only can rerun alone: each replaces its key of the results file.


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the attention implementations.")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the results file")
    parser.add_argument("--figures", type=Path, default=FIGURES, help="where to draw")
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the figures from the results file"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: one or two rounds, short sequences (needs --output)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="threads for PyTorch (default: %(default)s); on a machine busy with other "
        "work, fewer threads than cores avoid waiting for a descheduled thread",
    )
    parser.add_argument(
        "--only",
        choices=sorted(SECTIONS),
        help="recompute one section and its ratios, and update the existing results file",
    )
    args = parser.parse_args()
    if args.quick:
        if args.output == RESULTS:
            parser.error("--quick would overwrite the committed results: give --output")
        global SCALING_ROUNDS, MEMORY_TOKENS, DECODE_TOKENS, DECODE_ROUNDS
        global BATCH_SIZES, BATCH_ROUNDS, GROUPED_TOKENS, GROUPED_ROUNDS
        SCALING_ROUNDS, DECODE_ROUNDS = {256: 2, NUM_TOKENS: 1}, 2
        MEMORY_TOKENS, DECODE_TOKENS = (256, 512), (32, 64)
        BATCH_SIZES, BATCH_ROUNDS = (1, 2), 2
        GROUPED_TOKENS, GROUPED_ROUNDS = (64, 128), 2
        global TRAINING_TOKENS
        TRAINING_TOKENS = (256, 512)
    if args.replot:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        draw_figures(results, args.figures)
        print_ratios(results)
        return

    threads = args.threads
    torch.set_num_threads(threads)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", flush=True)

    load_before = _load_average()
    log(f"{machine()['cpu']}, {threads} threads, torch {torch.__version__}, load {load_before}")
    if args.only:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        run, section_ratios = SECTIONS[args.only]
        results[args.only] = run(threads, log)
        for key, ratio in section_ratios.items():
            results["ratios"][key] = ratio(results[args.only])
        args.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        log(f"updated {args.only} in {args.output}")
        print_ratios(results)
        return
    comparison, scaling = run_scaling(threads, log)
    memory = run_memory(threads, log)
    decode = run_decode(threads, log)
    batch_sizes = run_batch_sizes(threads, log)
    grouped = run_grouped(threads, log)
    training = run_training_memory(threads, log)
    results = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "load_average": [load_before, _load_average()]},
        "versions": versions(),
        "settings": {
            "device": "cpu",
            "dtype": "float32",
            "batch": BATCH,
            "num_tokens": NUM_TOKENS,
            "d_model": D_MODEL,
            "num_heads": NUM_HEADS,
            "head_dim": HEAD_DIM,
            "dropout": 0.0,
            "causal": True,
            "block_size": BLOCK_SIZE,
            "mode": "inference: eval() and torch.inference_mode()",
            "timer": "torch.utils.benchmark.Timer, one call per case per round",
            "statistic": "median over rounds; ratios: median of per-round ratios",
        },
        "comparison": comparison,
        "time": scaling,
        "memory": memory,
        "decode": decode,
        "batch_sizes": batch_sizes,
        "grouped": grouped,
        "training_memory": training,
        "duration_s": round(time.perf_counter() - started),
    }
    results["ratios"] = ratios(comparison, memory, decode)
    results["ratios"]["tiled_vs_naive_training_memory"] = training_memory_ratio(training)
    args.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {args.output}")
    for path in draw_figures(results, args.figures):
        log(f"drew {path}")
    print("\nMedian time of a forward pass at the comparison's setting:")
    for name, seconds in comparison["median_s"].items():
        print(f"  {name:46s} {seconds * 1e3:9.1f} ms")
    print_ratios(results)


if __name__ == "__main__":
    main()
