"""Generic scaled dot-product attention in NumPy and SciPy, with W_Q, W_K and W_V.

Chapter: *Attention in NumPy and SciPy* (``docs/numpy_attention.md``), after seed 001.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ._checks import as_float_array, check_positive_int, describe

__all__ = ["numpy_attention", "projection_weights", "word_vectors"]


def word_vectors() -> np.ndarray:
    """Seed 001's four 3-dimensional word vectors, one per row.

    Returns:
        (4, 3) integer array; the rows are ``[1,0,0]``, ``[0,1,0]``, ``[1,1,0]``
        and ``[0,0,1]``.

    >>> word_vectors()
    array([[1, 0, 0],
           [0, 1, 0],
           [1, 1, 0],
           [0, 0, 1]])
    """
    return np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])


def projection_weights(
    seed: int = 42, d_in: int = 3, d_k: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random integer projection matrices W_Q, W_K, W_V, drawn as seed 001 draws them.

    Uses its own ``np.random.RandomState(seed)``, which yields the same numbers as
    seed 001's ``np.random.seed(42)`` without touching NumPy's global state.

    Args:
        seed: the random seed, an int in [0, 2**32).
        d_in: rows of each matrix (the word vectors' size).
        d_k: columns of each matrix (the projected size).

    Returns:
        ``(W_Q, W_K, W_V)``, each (d_in, d_k) with entries in {0, 1, 2}.

    >>> W_Q, W_K, W_V = projection_weights()
    >>> W_Q
    array([[2, 0, 2],
           [2, 0, 0],
           [2, 1, 2]])
    """
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, Integral):
        raise TypeError(f"seed: expected an int, got {describe(seed)}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed: expected an int in [0, 2**32), got {seed}")
    d_in = check_positive_int("d_in", d_in)
    d_k = check_positive_int("d_k", d_k)
    rng = np.random.RandomState(seed)
    W_Q = rng.randint(3, size=(d_in, d_k))
    W_K = rng.randint(3, size=(d_in, d_k))
    W_V = rng.randint(3, size=(d_in, d_k))
    return W_Q, W_K, W_V


def numpy_attention(
    words: np.ndarray, W_Q: np.ndarray, W_K: np.ndarray, W_V: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaled dot-product self-attention of a sequence of word vectors.

    ``softmax(Q K^T / sqrt(d_k)) V`` with ``Q = words @ W_Q``, ``K = words @ W_K``,
    ``V = words @ W_V`` and ``d_k`` the keys' own width. Integer inputs are fine:
    everything is computed in float64.

    Args:
        words: (N, d_in) one word vector per row.
        W_Q: (d_in, d_k) the query projection.
        W_K: (d_in, d_k) the key projection.
        W_V: (d_in, d_v) the value projection.

    Returns:
        ``(attention, weights, scores)``: attention (N, d_v); weights (N, N), rows
        summing to 1; scores (N, N), the unscaled ``Q @ K.T``.

    Example (seed 001):

    >>> attention, weights, scores = numpy_attention(word_vectors(), *projection_weights())
    >>> print(attention)
    [[0.98522025 1.74174051 0.75652026]
     [0.90965265 1.40965265 0.5       ]
     [0.99851226 1.75849334 0.75998108]
     [0.99560386 1.90407309 0.90846923]]

    Mismatched shapes are reported by name, before any product is taken:

    >>> W_Q, W_K, W_V = projection_weights()
    >>> numpy_attention(word_vectors(), W_Q[:2], W_K, W_V)
    Traceback (most recent call last):
    ...
    ValueError: W_Q: expected 3 rows to match the word vectors' width ...
    """
    words = as_float_array("words", words, ndim=2)
    d_in = words.shape[1]
    mats = {}
    for name, w in (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V)):
        w = as_float_array(name, w, ndim=2)
        if w.shape[0] != d_in:
            raise ValueError(
                f"{name}: expected {d_in} rows to match the word vectors' width "
                f"(words @ {name} needs words.shape[1] == {name}.shape[0]), got shape {w.shape}"
            )
        mats[name] = w
    if mats["W_Q"].shape[1] != mats["W_K"].shape[1]:
        raise ValueError(
            "W_K: queries and keys must have the same width to be compared, got "
            f"W_Q {mats['W_Q'].shape} and W_K {mats['W_K'].shape}"
        )
    from scipy.special import softmax  # imported here: the rest of the package needs no SciPy

    Q = words @ mats["W_Q"]  # (N, d_in) @ (d_in, d_k) -> (N, d_k)
    K = words @ mats["W_K"]  # (N, d_in) @ (d_in, d_k) -> (N, d_k)
    V = words @ mats["W_V"]  # (N, d_in) @ (d_in, d_v) -> (N, d_v)
    scores = Q @ K.T  # (N, d_k) @ (d_k, N) -> (N, N)
    weights = softmax(scores / np.sqrt(K.shape[1]), axis=1)
    return weights @ V, weights, scores
