"""Figures: attention weights as a heatmap with token labels.

The figures carry no words of their own beyond the tokens (and numbers), so one
executed figure serves both editions of the book; captions are translated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._checks import as_float_array, describe

__all__ = ["plot_attention_heatmap"]


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
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax: expected a matplotlib Axes or None, got {describe(ax)}")
    if vmax is not None and (
        isinstance(vmax, bool) or not isinstance(vmax, int | float) or not np.isfinite(vmax)
    ):
        raise TypeError(f"vmax: expected a finite number or None, got {describe(vmax)}")
    if ax is None:
        # Figure() rather than pyplot: no global state, no backend needed.
        ax = Figure(figsize=(4.5, 4), layout="constrained").add_subplot()
    top = float(weights.max()) if vmax is None else vmax
    image = ax.imshow(weights, cmap=cmap, vmin=0.0, vmax=top if top > 0 else 1.0)
    ax.set_xticks(range(n_k), labels=key_labels if key_labels is not None else range(n_k))
    ax.set_yticks(range(n_q), labels=query_labels if query_labels is not None else range(n_q))
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
