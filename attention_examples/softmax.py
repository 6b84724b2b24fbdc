"""Softmax, naive and numerically stable (NumPy and PyTorch).

Chapter: *Softmax and numerical stability* (``docs/softmax.md``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._checks import check_dim, check_tensor, describe

__all__ = ["large_scores", "softmax", "softmax_naive", "softmax_stable"]


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax of a NumPy array along ``axis``.

    Subtracting the maximum first leaves the result unchanged (the factor
    ``exp(-max)`` cancels) but keeps every exponent <= 0, so nothing overflows.
    Entries of ``-inf`` get weight 0; a slice that is ``-inf`` everywhere (all
    positions masked) gets all zeros rather than NaN. The dtype is kept.

    Args:
        x: (..., N) real scores (a NumPy array, or a list of numbers); integers
            are converted to float64. NaN and ``+inf`` are refused.
        axis: the axis to normalise over.

    Returns:
        (..., N) non-negative weights that sum to 1 along ``axis``.

    Example (seed 000):

    >>> print(softmax(np.array([3.0, 1.0, -2.0], dtype=np.float32)))
    [0.8756006  0.11849965 0.00589975]
    >>> print(softmax(np.array([3.0, -1e9, -2.0], dtype=np.float32)))
    [0.9933072  0.         0.00669285]
    """
    if not isinstance(x, np.ndarray | list | tuple | float | int) or isinstance(x, bool):
        raise TypeError(f"x: expected a NumPy array, got {describe(x)}")
    try:
        arr = np.asarray(x)
    except ValueError as err:  # a ragged list
        raise TypeError(f"x: expected an array of numbers, got {describe(x)}") from err
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise TypeError(f"x: expected real numbers, got an array of dtype {arr.dtype}")
    if np.isnan(arr).any() or np.isposinf(arr).any():
        raise ValueError("x: expected finite numbers or -inf, got NaN or +inf")
    if arr.ndim == 0:
        raise ValueError(f"x: expected at least one dimension to normalise over, got a scalar {x}")
    check_dim("axis", axis, arr.ndim)
    if arr.shape[axis] == 0:
        raise ValueError(f"x: expected at least one score along axis {axis}, got shape {arr.shape}")
    peak = arr.max(axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)  # a slice of only -inf: avoid -inf - -inf
    e = np.exp(arr - peak)
    total = e.sum(axis=axis, keepdims=True)
    weights: np.ndarray = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return weights


def softmax_naive(x: Tensor, dim: int = -1) -> Tensor:
    """Softmax straight from the formula ``exp(x_i) / sum_j exp(x_j)``.

    Correct for small scores, but ``exp`` overflows to ``inf`` in float32 once a
    score passes about 88.7, and ``inf / inf`` is NaN: see :func:`large_scores`.

    Args:
        x: (..., N) floating scores; ``-inf`` means masked.
        dim: the dimension to normalise over.

    Returns:
        (..., N) weights summing to 1 along ``dim`` (or NaN after an overflow).

    Example (seeds 002-004: the scores of the query "journey"):

    >>> scores = torch.tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])
    >>> softmax_naive(scores)
    tensor([0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
    >>> softmax_naive(large_scores())
    tensor([nan, nan, nan])
    """
    x = _check_scores(x, dim)
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


def softmax_stable(x: Tensor, dim: int = -1) -> Tensor:
    """Softmax with the maximum subtracted first, as ``torch.softmax`` does.

    Subtracting the maximum changes nothing mathematically (``exp(-max)`` cancels)
    but keeps every exponent <= 0, so nothing overflows.

    Args:
        x: (..., N) floating scores; ``-inf`` means masked.
        dim: the dimension to normalise over.

    Returns:
        (..., N) weights summing to 1 along ``dim``; equal to ``torch.softmax(x, dim)``,
        except that a slice of only ``-inf`` (everything masked) gives zeros, not NaN.

    >>> softmax_stable(large_scores())
    tensor([0.0900, 0.2447, 0.6652])
    >>> torch.softmax(large_scores(), dim=-1)
    tensor([0.0900, 0.2447, 0.6652])
    """
    x = _check_scores(x, dim)
    peak = x.amax(dim=dim, keepdim=True)
    peak = torch.where(torch.isfinite(peak), peak, 0.0)  # a slice of only -inf: avoid -inf - -inf
    e = torch.exp(x - peak)
    total = e.sum(dim=dim, keepdim=True)
    # A slice of only -inf has total 0: zeros there. NaN stays NaN (total == 0 is False).
    return torch.where(total == 0, 0.0, e / total.clamp_min(torch.finfo(e.dtype).tiny))


def _check_scores(x: object, dim: object) -> Tensor:
    x = check_tensor("x", x, ndim=range(1, 9))
    check_dim("dim", dim, x.ndim)
    return x


def large_scores() -> Tensor:
    """Three large scores on which :func:`softmax_naive` overflows in float32.

    Returns:
        (3,) the float32 tensor ``[1000., 1001., 1002.]``. Only the differences
        matter to softmax, so the right answer equals ``softmax([0., 1., 2.])``.

    >>> large_scores()
    tensor([1000., 1001., 1002.])
    >>> torch.exp(large_scores())
    tensor([inf, inf, inf])
    """
    return torch.tensor([1000.0, 1001.0, 1002.0])
