"""Tests of attention_examples.weighted_average (seed 000, section 1.1-1.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from attention_examples import attention_once, weighted_average
from tests.seed_values import seed_tensor, seed_tensors

# Seed 000 prints float64 values with 8 decimals: they are exact to half a unit there.
EIGHT_DECIMALS = {"rtol": 0.0, "atol": 5e-9}

V = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])


def test_weighted_average_seed_000() -> None:
    # seed 000, In [6]: weighted_average(V, [0.7, 0.2, 0.1]) prints [7.5 2.5]
    expected = seed_tensor("weighted_average", "weighted-average", dtype=torch.float64).numpy()
    assert_allclose(weighted_average(V, np.array([0.7, 0.2, 0.1])), expected, rtol=1e-12)
    # seed 000, In [7]: the same as the matrix product w @ V
    w = np.array([0.7, 0.2, 0.1])
    assert_allclose(weighted_average(V, w), w @ V, rtol=1e-12)


def test_attention_once_seed_000() -> None:
    # seed 000, In [11]: query along x, three keys, float32 values
    q = np.array([1.0, 0.0])
    K = np.array([[1.0, 0.0], [0.7, 0.2], [-1.0, 0.0]])
    values = V.astype(np.float32)
    out, w, s = attention_once(q, K, values)
    seed_s, seed_w, seed_out = (
        t.numpy() for t in seed_tensors("weighted_average", "attention-once", torch.float64)
    )
    assert_allclose(s, seed_s, rtol=1e-12)
    assert_allclose(w, seed_w, **EIGHT_DECIMALS)
    assert_allclose(out, seed_out, **EIGHT_DECIMALS)


def test_weights_are_normalised_first() -> None:
    # Unnormalised weights 7:2:1 describe the same average as 0.7, 0.2, 0.1.
    assert_allclose(weighted_average(V, np.array([7.0, 2.0, 1.0])), [7.5, 2.5], rtol=1e-12)


def test_integer_inputs_are_accepted() -> None:
    out = weighted_average(np.array([[1, 0], [0, 1]]), np.array([1, 3]))
    assert out.dtype == np.float64
    assert_allclose(out, [0.25, 0.75])


def test_one_weight_picks_one_value() -> None:
    assert_array_equal(weighted_average(V, np.array([0.0, 1.0, 0.0])), V[1])


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    d=st.integers(1, 5),
    dv=st.integers(1, 5),
)
def test_attention_once_matches_torch(seed: int, n: int, d: int, dv: int) -> None:
    rng = np.random.default_rng(seed)
    q, K, values = rng.normal(size=d), rng.normal(size=(n, d)), rng.normal(size=(n, dv))
    out, w, s = attention_once(q, K, values)
    # An independent computation of the same thing in PyTorch.
    s_t = torch.from_numpy(K) @ torch.from_numpy(q)
    w_t = torch.softmax(s_t, dim=0)
    assert_allclose(s, s_t.numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(w, w_t.numpy(), rtol=1e-10, atol=1e-12)
    assert_allclose(out, (w_t @ torch.from_numpy(values)).numpy(), rtol=1e-10, atol=1e-12)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    # A weighted average lies within the range of the values, column by column.
    assert (out >= values.min(axis=0) - 1e-12).all()
    assert (out <= values.max(axis=0) + 1e-12).all()


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "weights", "error", "match"),
    [
        (V[0], np.ones(3), ValueError, r"values: expected a 2-D array, got shape \(2,\)"),
        (V, np.ones((3, 1)), ValueError, r"weights: expected a 1-D array, got shape \(3, 1\)"),
        (
            V,
            np.ones(2),
            ValueError,
            r"weights: expected 3 along the first axis, one per row of values, got shape \(2,\)",
        ),
        (V, np.array([1.0, -1.0, 1.0]), ValueError, r"weights: expected non-negative"),
        (V, np.zeros(3), ValueError, r"weights: all weights are zero"),
        (V, np.array([1.0, np.nan, 1.0]), ValueError, r"weights: expected finite numbers, got NaN"),
        (
            np.full((3, 2), np.inf),
            np.ones(3),
            ValueError,
            r"values: expected finite numbers, got NaN or inf",
        ),
        (torch.ones(3, 2), np.ones(3), TypeError, r"values: expected a NumPy array, got a torch"),
        (np.array([["a", "b"]]), np.ones(1), TypeError, r"values: expected real numbers.*<U1"),
        (np.zeros((0, 2)), np.ones(0), ValueError, r"values: expected at least one element"),
        ([[1.0], [1.0, 2.0]], np.ones(2), TypeError, r"values: expected an array of numbers"),
    ],
)
def test_weighted_average_rejects(values, weights, error, match) -> None:
    with pytest.raises(error, match=match):
        weighted_average(values, weights)


Q = np.array([1.0, 0.0])
K = np.array([[1.0, 0.0], [0.7, 0.2], [-1.0, 0.0]])


@pytest.mark.parametrize(
    ("query", "keys", "values", "error", "match"),
    [
        (Q[None], K, V, ValueError, r"query: expected a 1-D array, got shape \(1, 2\)"),
        (Q, K[:, :1], V, ValueError, r"keys: expected 2 columns to match the query's length"),
        (
            Q,
            K,
            V[:2],
            ValueError,
            r"values: expected 3 along the first axis, one per key, got shape \(2, 2\)",
        ),
        (Q, K, V[0], ValueError, r"values: expected a 2-D array, got shape \(2,\)"),
        (np.array([np.nan, 0.0]), K, V, ValueError, r"query: expected finite numbers"),
        (torch.tensor(Q), K, V, TypeError, r"query: expected a NumPy array"),
        (np.array([1 + 1j, 0]), K, V, TypeError, r"query: expected real numbers.*complex"),
    ],
)
def test_attention_once_rejects(query, keys, values, error, match) -> None:
    with pytest.raises(error, match=match):
        attention_once(query, keys, values)
