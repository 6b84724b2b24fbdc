"""Figures: attention weights as a heatmap with token labels, and benchmark curves.

The figures carry no words of their own beyond the tokens, code names and numbers,
so one executed figure serves both editions of the book; captions are translated.
Matplotlib is imported when a figure is drawn, not with the package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from ._checks import as_float_array, describe

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_attention_heatmap", "plot_benchmark"]


def axes_to_draw_on(ax: object, width: float, height: float) -> Axes:
    """``ax`` itself, or for None the axes of a new ``width`` x ``height`` inch figure.

    Every figure of the package starts here. Figure() rather than pyplot: no global
    state, no backend. Anything but an Axes or None is refused.
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is None:
        return Figure(figsize=(width, height), layout="constrained").add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax: expected a matplotlib Axes or None, got {describe(ax)}")
    return ax


def plot_attention_heatmap(
    weights: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    cmap: str = "Blues",
    vmax: float | None = None,
) -> Axes:
    """Draw a (T_q, T_k) attention-weight matrix: rows are queries, columns keys.

    Args:
        weights: (T_q, T_k) finite weights, a tensor (detached and moved to the
            CPU) or an array; for a batch, pick one matrix, e.g. ``weights[0]``.
        query_labels: T_q row labels, e.g. the tokens; default 0, 1, ...
        key_labels: T_k column labels; defaults to ``query_labels`` when square.
        ax: the Matplotlib axes to draw on; a new 4.5 x 4 inch figure if None.
        annotate: write each weight in its cell, with two decimals.
        cmap: a Matplotlib colour map name.
        vmax: the weight drawn darkest; default the largest weight.

    Returns:
        The axes, for further styling.

    >>> from attention_examples import JOURNEY_TOKENS, journey_inputs, simple_self_attention
    >>> _, w = simple_self_attention(journey_inputs())
    >>> ax = plot_attention_heatmap(w, JOURNEY_TOKENS)
    >>> [t.get_text() for t in ax.get_xticklabels()][:3]
    ['Your', 'journey', 'starts']
    >>> len(ax.texts)  # one number per cell
    36
    """
    if isinstance(weights, torch.Tensor):
        if not (weights.is_floating_point() or weights.dtype == torch.bool):
            raise TypeError(f"weights: expected a floating tensor, got {describe(weights)}")
        weights = weights.detach().cpu().float().numpy()
    if not isinstance(weights, np.ndarray):
        raise TypeError(f"weights: expected a tensor or array, got {describe(weights)}")
    if weights.ndim != 2:
        hint = "; pick one matrix of the batch, e.g. weights[0]" if weights.ndim > 2 else ""
        raise ValueError(
            f"weights: expected a 2-D (T_q, T_k) matrix, got shape {weights.shape}{hint}"
        )
    weights = as_float_array("weights", weights, ndim=2)
    n_q, n_k = weights.shape
    if key_labels is None and query_labels is not None and n_q == n_k:
        key_labels = query_labels
    for name, labels, n in (("query_labels", query_labels, n_q), ("key_labels", key_labels, n_k)):
        if labels is None:
            continue
        if isinstance(labels, str) or not isinstance(labels, Sequence):
            raise TypeError(
                f"{name}: expected a sequence of {n} labels such as a list, got {describe(labels)}"
            )
        if len(labels) != n:
            raise ValueError(f"{name}: expected {n} labels, got {len(labels)}")
    if vmax is not None and (
        isinstance(vmax, bool) or not isinstance(vmax, int | float) or not np.isfinite(vmax)
    ):
        raise TypeError(f"vmax: expected a finite number or None, got {describe(vmax)}")
    ax = axes_to_draw_on(ax, 4.5, 4)
    top = float(weights.max()) if vmax is None else vmax
    image = ax.imshow(weights, cmap=cmap, vmin=0.0, vmax=top if top > 0 else 1.0)
    ax.set_xticks(range(n_k), labels=key_labels or [str(j) for j in range(n_k)])
    ax.set_yticks(range(n_q), labels=query_labels or [str(i) for i in range(n_q)])
    ax.tick_params(axis="x", labelrotation=45)
    ax.xaxis.tick_top()
    if annotate:
        for i in range(n_q):
            for j in range(n_k):
                dark = weights[i, j] > 0.6 * top
                ax.text(
                    j,
                    i,
                    f"{weights[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


_BENCHMARK_UNITS = {"time": ("s", 1.0), "memory": ("MiB", 2.0**-20), "decode": ("s", 1.0)}


def plot_benchmark(
    results: Mapping[str, Any],
    kind: Literal["time", "memory", "decode"],
    *,
    ax: Axes | None = None,
) -> Axes:
    """Draw one section of the benchmark results against the sequence length, log-log.

    Each series becomes a line (a missing measurement, ``None``, is left out); two
    grey guides, from a point below the lowest line, show the slopes of growth
    proportional to ``T`` and to ``T^2``, so a line parallel to a guide grows like it.
    The figure holds no words, only code names, symbols and numbers, so it serves
    both editions.

    Args:
        results: the contents of ``benchmarks/results.json`` (as ``json.load`` reads
            it); ``results[kind]`` has
            ``"tokens"`` (the sequence lengths) and ``"series"`` (name -> one value
            per length: seconds for ``"time"`` and ``"decode"``, bytes for ``"memory"``),
            and optionally ``"dashed"``: the names to draw dashed (attention cores
            that receive the queries, keys and values already projected).
        kind: which section: the time of a forward pass, the peak extra memory, or
            the time of one decoding step.
        ax: the axes to draw on; a new 7.5 x 4 inch figure if None.

    Returns:
        The axes (x: T; y: seconds, or MiB for ``"memory"``).

    >>> results = {"memory": {"tokens": [1024, 2048], "series": {
    ...     "scaled_dot_product_attention": [2**22, 2**24], "tiled_attention": [2**20, 2**21]}}}
    >>> ax = plot_benchmark(results, "memory")
    >>> ax.get_xscale(), ax.get_yscale(), ax.get_ylabel()
    ('log', 'log', 'MiB')
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['scaled_dot_product_attention', 'tiled_attention']
    """
    if kind not in _BENCHMARK_UNITS:
        raise ValueError(f"kind: expected 'time', 'memory' or 'decode', got {describe(kind)}")
    if not isinstance(results, Mapping) or not isinstance(results.get(kind), Mapping):
        raise ValueError(
            f"results: expected a mapping with a {kind!r} section (benchmarks/results.json), "
            f"got {describe(results)[:80]}"
        )
    section = results[kind]
    for field, kinds in (("tokens", "a list of sequence lengths"), ("series", "a mapping")):
        if field not in section:
            raise ValueError(
                f"results: expected the {kind!r} section to have {field!r} ({kinds}), "
                f"got the keys {list(section)}"
            )
    if not isinstance(section["series"], Mapping):
        raise ValueError(
            f"results: expected {kind!r}['series'] to map names to values, "
            f"got {describe(section['series'])[:80]}"
        )
    tokens = list(section["tokens"])
    unit, scale = _BENCHMARK_UNITS[kind]
    dashed = set(section.get("dashed", ()))
    ax = axes_to_draw_on(ax, 7.5, 4)
    starts: list[float] = []  # each series' first value
    for name, values in section["series"].items():
        if len(values) != len(tokens):
            raise ValueError(
                f"results: series {name!r} of {kind!r} has {len(values)} values "
                f"for {len(tokens)} sequence lengths"
            )
        points = [(t, v * scale) for t, v in zip(tokens, values, strict=True) if v is not None]
        if points:
            style = "--" if name in dashed else "-"
            ax.plot(*zip(*points, strict=True), marker="o", linestyle=style, label=name)
            starts.append(points[0][1])
    if starts:
        # Both guides fan out from below the lowest first point, clear of the data.
        t0, t1, y0 = tokens[0], tokens[-1], min(starts) / 2
        for power, text in ((1, r"$\propto T$"), (2, r"$\propto T^2$")):
            ax.plot(
                [t0, t1],
                [y0, y0 * (t1 / t0) ** power],
                color="black",
                alpha=0.5,
                linewidth=1,
                linestyle=":" if power == 1 else "-.",
                label=text,
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(tokens, labels=[str(t) for t in tokens])
    ax.set_xlabel("$T$")
    ax.set_ylabel(unit)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
