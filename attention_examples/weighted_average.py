"""Attention as a weighted average, with weights computed from a query (NumPy).

Chapter: *Attention is a weighted average* (``docs/weighted_average.md``).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_rows
from .softmax import softmax

__all__ = ["attention_once", "weighted_average"]


def weighted_average(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average the rows of ``values``, row ``i`` counted ``weights[i]`` times.

    The weights are normalised to sum to 1 first, so any non-negative weights work.

    Args:
        values: (N, D) one D-dimensional value vector per row.
        weights: (N,) one non-negative weight per value; not all zero.

    Returns:
        (D,) the weighted average ``sum_i w_i * values[i] / sum_i w_i``.

    Example (seed 000, three values weighted 0.7, 0.2 and 0.1):

    >>> V = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    >>> weighted_average(V, np.array([0.7, 0.2, 0.1]))
    array([7.5, 2.5])
    """
    values = as_float_array("values", values, ndim=2)
    weights = as_float_array("weights", weights, ndim=1)
    check_rows("weights", weights, values.shape[0], "row of values")
    if (weights < 0).any():
        raise ValueError("weights: expected non-negative weights, got a negative one")
    total = weights.sum()
    if total == 0:
        raise ValueError("weights: all weights are zero, so there is nothing to average")
    average: np.ndarray = (weights / total) @ values
    return average


def attention_once(
    query: np.ndarray, keys: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attend with one query: score each key, softmax the scores, average the values.

    No scaling by ``sqrt(d)`` here; that comes in the chapter on trainable weights.

    Args:
        query: (D,) what the query is looking for.
        keys: (N, D) one key per value.
        values: (N, Dv) the information to mix.

    Returns:
        ``(out, weights, scores)``: out (Dv,), the attention output; weights (N,),
        summing to 1; scores (N,), the raw dot products ``keys @ query``.

    Example (seed 000): the query points along x, the first key agrees, the third
    disagrees.

    >>> q = np.array([1.0, 0.0])
    >>> K = np.array([[1.0, 0.0], [0.7, 0.2], [-1.0, 0.0]])
    >>> V = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]], dtype=np.float32)
    >>> out, w, s = attention_once(q, K, V)
    >>> print(s, w, out, sep="\\n")
    [ 1.   0.7 -1. ]
    [0.53300543 0.39486013 0.07213444]
    [5.69072648 4.30927352]
    """
    query = as_float_array("query", query, ndim=1)
    keys = as_float_array("keys", keys, ndim=2)
    values = as_float_array("values", values, ndim=2)
    if keys.shape[1] != query.shape[0]:
        raise ValueError(
            f"keys: expected {query.shape[0]} columns to match the query's length, "
            f"got shape {keys.shape}"
        )
    check_rows("values", values, keys.shape[0], "key")
    scores = keys @ query
    weights = softmax(scores)
    return weighted_average(values, weights), weights, scores
