"""Tests of attention_examples.simple_self_attention (seeds 002 and 003; seed 000 section 1.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from torch.testing import assert_close

from attention_examples import (
    attention_scores,
    attention_scores_loop,
    context_vector_loop,
    dot_product_loop,
    journey_inputs,
    scores_for_query_loop,
    self_attention_minimal,
    simple_self_attention,
)
from tests.seed_values import seed_tensor, seed_tensors

FOUR_DECIMALS = {"rtol": 0.0, "atol": 5.1e-5}

# seed 002 In [25], seed 003 In [12] and In [13], seed 004 In [8]
SEED_SCORES = seed_tensor("simple_self_attention", "scores-loop")
# seed 002 In [30], seed 003 In [14]
SEED_WEIGHTS = seed_tensor("simple_self_attention", "weights")
# seed 002 In [31], seed 003 In [16] and In [17], seed 004 In [8]
SEED_CONTEXTS = seed_tensor("simple_self_attention", "contexts")


def test_dot_products_seed_003() -> None:
    x = journey_inputs()
    # seed 003, In [4]: torch.dot(input_query, input_1)
    first_score = seed_tensor("simple_self_attention", "query-first-score", index=2)
    assert_close(dot_product_loop(x[1], x[0]), first_score, **FOUR_DECIMALS)
    # seed 003, In [5]: the running sum of "journey" with itself prints 0.3025, 1.0594, 1.4950;
    # In [6] prints the full dot product twice
    *running, loop, dot = seed_tensors("simple_self_attention", "dot-from-scratch")
    for k, expected in zip((1, 2, 3), running, strict=True):
        assert_close(dot_product_loop(x[1, :k], x[1, :k]), expected, **FOUR_DECIMALS)
    assert_close(dot_product_loop(x[1], x[1]), loop, **FOUR_DECIMALS)
    assert_close(torch.dot(x[1], x[1]), dot, **FOUR_DECIMALS)


def test_scores_for_journey_seeds_002_to_004() -> None:
    # seed 002 In [21], seed 003 In [7], seed 004 In [4]
    x = journey_inputs()
    expected = seed_tensor("simple_self_attention", "journey-scores")
    assert_close(scores_for_query_loop(x, x[1]), expected, **FOUR_DECIMALS)


def test_normalising_by_the_sum_seeds_003_and_004() -> None:
    # The simple alternative to softmax that the seeds try first: divide by the sum.
    scores = scores_for_query_loop(journey_inputs(), journey_inputs()[1])
    # seed 004, In [12]: "Sum of scores: tensor(6.5617)"
    expected, total, _ = seed_tensors("softmax", "divide-by-sum")
    assert_close(scores.sum(), total, **FOUR_DECIMALS)
    # seed 003, In [8] and seed 004, In [12]: attn_weights_2_tmp
    assert_close(scores / scores.sum(), expected, **FOUR_DECIMALS)


def test_context_vector_of_journey_seeds_002_to_004() -> None:
    # seed 002 In [23], seed 003 In [11], seed 004 In [22]
    x = journey_inputs()
    weights = torch.softmax(scores_for_query_loop(x, x[1]), dim=0)
    expected = seed_tensor("simple_self_attention", "journey-context-matmul")
    assert_close(context_vector_loop(x, weights), expected, **FOUR_DECIMALS)


@pytest.mark.parametrize("fn", [attention_scores_loop, attention_scores])
def test_all_scores_seeds_002_to_004(fn) -> None:
    assert_close(fn(journey_inputs()), SEED_SCORES, **FOUR_DECIMALS)


def test_simple_self_attention_seeds_002_to_004() -> None:
    context, weights = simple_self_attention(journey_inputs())
    assert_close(weights, SEED_WEIGHTS, **FOUR_DECIMALS)
    # seed 003 In [15], seed 002 In [30]: "All row sums: tensor([1.0000, ... 1.0000])"
    assert_close(weights.sum(dim=-1), torch.ones(6), **FOUR_DECIMALS)
    assert_close(context, SEED_CONTEXTS, **FOUR_DECIMALS)


def test_self_attention_minimal_seed_000() -> None:
    # seed 000, In [16]: X = np.random.randn(4, 3).astype(np.float32) after np.random.seed(0)
    X = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    # seed 000, In [17]: the inputs, to show this X is the seed's X
    seed_x = seed_tensor("simple_self_attention", "minimal-x", dtype=torch.float64).numpy()
    assert_allclose(X, seed_x, rtol=1e-7)
    Y = self_attention_minimal(X)
    # seed 000, In [16]: shapes (4, 3) in and out; In [19]: Y, float32
    assert Y.shape == (4, 3)
    assert Y.dtype == np.float32
    seed_y = seed_tensor("simple_self_attention", "minimal-y", dtype=torch.float64).numpy()
    # float32 sums of 4 terms may differ from the seed's loop in the last printed digit
    assert_allclose(Y, seed_y, rtol=2e-6, atol=1e-7)


@st.composite
def sequences(draw, min_tokens: int = 1):
    seed = draw(st.integers(0, 2**32 - 1))
    shape = (draw(st.integers(min_tokens, 7)), draw(st.integers(1, 6)))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@given(sequences())
def test_loops_equal_matrix_products(x: torch.Tensor) -> None:
    assert_close(attention_scores_loop(x), attention_scores(x))
    assert_close(attention_scores(x), x @ x.T)
    assert_close(scores_for_query_loop(x, x[0]), x @ x[0])
    assert_close(dot_product_loop(x[0], x[-1]), torch.dot(x[0], x[-1]))
    context, weights = simple_self_attention(x)
    assert_close(context_vector_loop(x, weights[0]), context[0])


@given(sequences())
def test_weight_rows_sum_to_one(x: torch.Tensor) -> None:
    _, weights = simple_self_attention(x)
    assert (weights >= 0).all()
    assert_close(weights.sum(dim=-1), torch.ones(x.shape[0], dtype=x.dtype))


@given(sequences())
def test_numpy_and_torch_paths_agree(x: torch.Tensor) -> None:
    context, _ = simple_self_attention(x)
    y = self_attention_minimal(x.numpy())
    assert y.dtype == x.numpy().dtype
    rtol, atol = (1e-4, 1e-5) if x.dtype == torch.float32 else (1e-10, 1e-12)
    assert_allclose(y, context.numpy(), rtol=rtol, atol=atol)


@given(sequences(min_tokens=2), st.randoms(use_true_random=False))
def test_permutation_equivariance(x: torch.Tensor, random) -> None:
    # With no positions and no mask, reordering the tokens only reorders the outputs.
    perm = list(range(x.shape[0]))
    random.shuffle(perm)
    perm = torch.tensor(perm)
    context, weights = simple_self_attention(x)
    context_p, weights_p = simple_self_attention(x[perm])
    assert_close(context_p, context[perm])
    assert_close(weights_p, weights[perm][:, perm])


# --- bad input ---------------------------------------------------------------------------

X = torch.ones(4, 3)


@pytest.mark.parametrize(
    ("fn", "args", "error", "match"),
    [
        (dot_product_loop, (X, X[0]), ValueError, r"a: expected a 1-D tensor, got shape \(4, 3\)"),
        (
            dot_product_loop,
            (X[0], torch.ones(2)),
            ValueError,
            r"b: expected the last dimension to be len\(a\)=3, got shape \(2,\)",
        ),
        (dot_product_loop, (X[0], X[0].double()), TypeError, r"a, b: expected one dtype"),
        (dot_product_loop, (torch.tensor([1, 2]),) * 2, TypeError, r"a: expected a floating-point"),
        (dot_product_loop, ([1.0], [1.0]), TypeError, r"a: expected a torch.Tensor, got list"),
        (dot_product_loop, (torch.ones(0),) * 2, ValueError, r"a: expected at least one element"),
        (scores_for_query_loop, (X[0], X[0]), ValueError, r"inputs: expected a 2-D tensor"),
        (
            scores_for_query_loop,
            (X, torch.ones(2)),
            ValueError,
            r"query: expected the last dimension to be d=3, got shape \(2,\)",
        ),
        (
            scores_for_query_loop,
            (X, X[0].double()),
            TypeError,
            r"inputs, query: expected one dtype",
        ),
        (
            attention_scores_loop,
            (X[None],),
            ValueError,
            r"inputs: expected a 2-D tensor, got shape",
        ),
        (
            attention_scores,
            (X[None],),
            ValueError,
            r"inputs: expected a 2-D tensor, got shape \(1,",
        ),
        (attention_scores, (torch.ones(0, 3),), ValueError, r"inputs: expected at least one elem"),
        (attention_scores, (X.long(),), TypeError, r"inputs: expected a floating-point tensor"),
        (
            context_vector_loop,
            (X, torch.ones(3)),
            ValueError,
            r"weights: expected the last dimension to be T=4, got shape \(3,\)",
        ),
        (context_vector_loop, (X, X[:, 0].double()), TypeError, r"inputs, weights: expected one"),
        (simple_self_attention, (X[0],), ValueError, r"inputs: expected a 2-D tensor, got shape"),
        (
            self_attention_minimal,
            (X,),
            TypeError,
            r"X: expected a NumPy array, got a torch.float32",
        ),
        (self_attention_minimal, (np.ones(3),), ValueError, r"X: expected a 2-D array, got shape"),
        (self_attention_minimal, (np.full((2, 2), np.nan),), ValueError, r"X: expected finite"),
        (self_attention_minimal, (np.zeros((0, 3)),), ValueError, r"X: expected at least one el"),
    ],
)
def test_rejects(fn, args, error, match) -> None:
    with pytest.raises(error, match=match):
        fn(*args)


def test_self_attention_minimal_accepts_integers() -> None:
    # seed 001's word vectors are integers; the NumPy path computes in float64
    words = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    y = self_attention_minimal(words)
    assert y.dtype == np.float64
    context, _ = simple_self_attention(torch.from_numpy(words).double())
    assert_allclose(y, context.numpy(), rtol=1e-12)


def test_torch_functions_propagate_nan() -> None:
    # NaN in, NaN out, as in PyTorch: no exception. Token 2 holds a NaN: its scores with
    # every token are NaN (a dot product with a NaN term), the scores among the other
    # tokens are unchanged.
    inputs = journey_inputs()
    clean_scores = attention_scores(inputs)
    inputs[2, 1] = torch.nan
    others = torch.tensor([0, 1, 3, 4, 5])
    for scores in (attention_scores(inputs), attention_scores_loop(inputs)):
        assert scores[2].isnan().all()
        assert scores[:, 2].isnan().all()
        assert_close(scores[others][:, others], clean_scores[others][:, others])
    assert scores_for_query_loop(inputs, inputs[0])[2].isnan()
    assert scores_for_query_loop(inputs, inputs[2]).isnan().all()
    assert dot_product_loop(inputs[2], inputs[0]).isnan()
    # one NaN weight, or one NaN input row with a weight, makes the context vector NaN
    weights = torch.full((6,), 1 / 6)
    assert context_vector_loop(inputs, weights)[1].isnan()
    assert not context_vector_loop(inputs, weights)[[0, 2]].isnan().any()
    # every query sees token 2: every weight row and context vector is NaN
    context, weights = simple_self_attention(inputs)
    assert weights.isnan().any(dim=-1).all()
    assert context.isnan().any(dim=-1).all()
