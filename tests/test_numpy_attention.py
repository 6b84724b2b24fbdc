"""Tests of attention_examples.numpy_attention (seed 001)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from attention_examples import (
    numpy_attention,
    projection_weights,
    scaled_dot_product_attention,
    word_vectors,
)
from tests.seed_values import seed_tensor


def test_word_vectors_seed_001() -> None:
    # seed 001, In [1]: word_1 ... word_4 stacked into words
    expected = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert_array_equal(word_vectors(), expected)
    assert word_vectors().dtype.kind == "i"


def test_projection_weights_draw_like_seed_001() -> None:
    # seed 001, In [2]: np.random.seed(42) then three np.random.randint(3, size=(3, 3)).
    # Replayed here with NumPy's global generator, whose state is restored afterwards.
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(42)  # noqa: NPY002
        expected = [np.random.randint(3, size=(3, 3)) for _ in range(3)]  # noqa: NPY002
    finally:
        np.random.set_state(state)  # noqa: NPY002
    for got, want in zip(projection_weights(), expected, strict=True):
        assert_array_equal(got, want)


def test_projection_weights_leave_the_global_generator_alone() -> None:
    before = np.random.get_state()  # noqa: NPY002
    projection_weights()
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_attention_seed_001() -> None:
    # seed 001, In [6]: print(attention), float64 with 8 decimals
    attention, weights, scores = numpy_attention(word_vectors(), *projection_weights())
    expected = seed_tensor("numpy_attention", "attention-output", dtype=torch.float64).numpy()
    assert_allclose(attention, expected, rtol=0.0, atol=5e-9)
    assert attention.shape == (4, 3)
    assert weights.shape == scores.shape == (4, 4)
    assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)


def test_scores_are_unscaled_query_key_products() -> None:
    words = word_vectors()
    W_Q, W_K, _ = projection_weights()
    _, _, scores = numpy_attention(words, *projection_weights())
    # seed 001, In [4]: scores = Q @ K.T with Q = words @ W_Q, K = words @ W_K (In [3])
    assert_array_equal(scores, (words @ W_Q) @ (words @ W_K).T)


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n, d_in = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    d_k, d_v = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):  # integer inputs, as in seed 001
        words = rng.integers(0, 2, size=(n, d_in))
        mats = [rng.integers(0, 3, size=s) for s in ((d_in, d_k), (d_in, d_k), (d_in, d_v))]
    else:
        words = rng.normal(size=(n, d_in))
        mats = [rng.normal(size=s) for s in ((d_in, d_k), (d_in, d_k), (d_in, d_v))]
    return words, mats


@given(problems())
def test_numpy_attention_matches_the_pytorch_path(problem) -> None:
    words, (W_Q, W_K, W_V) = problem
    attention, weights, _ = numpy_attention(words, W_Q, W_K, W_V)
    x = torch.from_numpy(words).double()
    q, k, v = (x @ torch.from_numpy(w).double() for w in (W_Q, W_K, W_V))
    context, expected_weights = scaled_dot_product_attention(q, k, v)
    assert_allclose(weights, expected_weights.numpy(), rtol=1e-9, atol=1e-12)
    assert_allclose(attention, context.numpy(), rtol=1e-9, atol=1e-12)


# --- bad input ---------------------------------------------------------------------------

W = np.ones((3, 3))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        # seed 001's second demonstration: a mismatched product gets a named error, not a
        # "matmul: Input operand 1 has a mismatch in its core dimension 0" from NumPy
        ((word_vectors(), np.ones((2, 3)), W, W), ValueError, r"W_Q: expected 3 rows to match"),
        ((word_vectors(), W, np.ones((2, 3)), W), ValueError, r"W_K: expected 3 rows.*\(2, 3\)"),
        ((word_vectors(), W, W, np.ones((4, 3))), ValueError, r"W_V: expected 3 rows.*\(4, 3\)"),
        (
            (word_vectors(), W, np.ones((3, 2)), W),
            ValueError,
            r"W_K: queries and keys must have the same width.*W_Q \(3, 3\) and W_K \(3, 2\)",
        ),
        ((np.ones(3), W, W, W), ValueError, r"words: expected a 2-D array, got shape \(3,\)"),
        ((word_vectors(), W[0], W, W), ValueError, r"W_Q: expected a 2-D array, got shape \(3,\)"),
        ((torch.ones(4, 3), W, W, W), TypeError, r"words: expected a NumPy array, got a torch"),
        ((np.full((4, 3), np.nan), W, W, W), ValueError, r"words: expected finite numbers"),
        ((word_vectors(), W, W, np.full((3, 3), np.inf)), ValueError, r"W_V: expected finite"),
        ((np.zeros((0, 3)), W, W, W), ValueError, r"words: expected at least one element"),
        ((np.array([["a"] * 3]), W, W, W), TypeError, r"words: expected real numbers"),
    ],
)
def test_numpy_attention_rejects(args, error, match) -> None:
    with pytest.raises(error, match=match):
        numpy_attention(*args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seed": -1}, ValueError, r"seed: expected an int in \[0, 2\*\*32\), got -1"),
        ({"seed": 2**32}, ValueError, r"seed: expected an int in \[0, 2\*\*32\)"),
        ({"seed": "42"}, TypeError, r"seed: expected an int, got str '42'"),
        ({"d_in": 0}, ValueError, r"d_in: expected a positive int, got 0"),
        ({"d_k": -2}, ValueError, r"d_k: expected a positive int, got -2"),
        ({"d_k": 2.0}, TypeError, r"d_k: expected a positive int, got float"),
    ],
)
def test_projection_weights_rejects(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        projection_weights(**kwargs)
