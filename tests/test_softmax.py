"""Tests of attention_examples.softmax (seed 000 section 1.3; seeds 002-004 softmax cells)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from torch.testing import assert_close

from attention_examples import large_scores, softmax, softmax_naive, softmax_stable
from tests.seed_values import seed_tensor

# Printed with 4 decimals: the true value is within half a unit of the last digit.
FOUR_DECIMALS = {"rtol": 0.0, "atol": 5.1e-5}
# NumPy prints float32 with up to 8 significant digits.
FLOAT32_PRINTED = {"rtol": 1e-6, "atol": 1e-9}

JOURNEY_SCORES = seed_tensor("simple_self_attention", "journey-scores")
JOURNEY_WEIGHTS = seed_tensor("softmax", "softmax-naive")


def test_softmax_seed_000() -> None:
    # seed 000, In [14]: softmax of [3, 1, -2] and of the same scores with the middle masked
    scores = np.array([3.0, 1.0, -2.0], dtype=np.float32)
    expected = seed_tensor("softmax", "numpy-softmax", dtype=torch.float64).numpy()
    assert_allclose(softmax(scores), expected, **FLOAT32_PRINTED)
    masked = np.array([3.0, -1e9, -2.0], dtype=np.float32)
    weights = softmax(masked)
    assert_allclose(weights, [0.9933072, 0.0, 0.00669285], **FLOAT32_PRINTED)
    assert weights[1] == 0.0  # printed "0.": exactly zero


def test_softmax_keeps_float32() -> None:
    assert softmax(np.array([3.0, 1.0], dtype=np.float32)).dtype == np.float32
    assert softmax([3, 1]).dtype == np.float64  # integers are converted to float64


@pytest.mark.parametrize("fn", [softmax_naive, softmax_stable, torch.softmax])
def test_journey_weights_seeds_002_to_004(fn) -> None:
    # The scores are the seeds' printed attn_scores_2 (seed 002 In [21], seed 003 In [7]);
    # the weights are seed 002 In [22], seed 003 In [9] and In [10], seed 004 In [14] and In [20].
    weights = fn(JOURNEY_SCORES, dim=0) if fn is torch.softmax else fn(JOURNEY_SCORES)
    assert_close(weights, JOURNEY_WEIGHTS, **FOUR_DECIMALS)
    # seed 002 In [22] and seed 004 In [14]: "Sum: tensor(1.)"
    assert_close(weights.sum(), seed_tensor("softmax", "softmax-naive", index=1), rtol=0, atol=5e-5)


def test_naive_softmax_overflows_on_large_scores() -> None:
    scores = large_scores()
    assert scores.dtype == torch.float32
    assert torch.isinf(torch.exp(scores)).all()
    assert torch.isnan(softmax_naive(scores)).all()


def test_stable_softmax_survives_large_scores() -> None:
    # Only differences matter: the answer is softmax([0, 1, 2]), computed here by hand.
    e = [math.exp(k) for k in (0, 1, 2)]
    expected = torch.tensor([v / sum(e) for v in e])
    assert_close(softmax_stable(large_scores()), expected)
    assert_close(softmax(large_scores().numpy()), expected.numpy(), check_dtype=False)


def test_all_masked_slice_gives_zeros_not_nan() -> None:
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    assert_array_equal(softmax(x), [[0.0, 0.0], [1.0, 0.0]])
    assert_close(
        softmax_stable(torch.from_numpy(x)), torch.tensor([[0.0, 0.0], [1.0, 0.0]]).double()
    )


def test_softmax_stable_gradients_are_finite_for_masked_slices() -> None:
    x = torch.tensor([[-torch.inf, -torch.inf], [0.5, -torch.inf], [0.1, 0.2]], requires_grad=True)
    (softmax_stable(x) * torch.arange(2.0)).sum().backward()
    assert torch.isfinite(x.grad).all()


def _arrays(draw, dtype):
    seed = draw(st.integers(0, 2**32 - 1))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3]))
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


@st.composite
def score_arrays(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = _arrays(draw, dtype)
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, axis


@given(score_arrays())
def test_numpy_softmax_matches_torch(case) -> None:
    x, axis = case
    expected = torch.softmax(torch.from_numpy(x), dim=axis).numpy()
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    assert_allclose(softmax(x, axis=axis), expected, rtol=rtol, atol=rtol * 1e-3)
    assert_allclose(softmax(x, axis=axis).sum(axis=axis), 1.0, rtol=rtol)


@given(score_arrays())
def test_torch_softmaxes_match_torch(case) -> None:
    x, dim = case
    t = torch.from_numpy(x)
    expected = torch.softmax(t, dim=dim)
    assert_close(softmax_stable(t, dim=dim), expected)
    if np.abs(x).max() < 50:  # where exp cannot overflow, the naive formula is right too
        assert_close(softmax_naive(t, dim=dim), expected)


@given(score_arrays(), st.floats(-100.0, 100.0))
def test_softmax_ignores_a_constant_shift(case, shift: float) -> None:
    x, axis = case
    x = x.astype(np.float64)
    assert_allclose(softmax(x + shift, axis=axis), softmax(x, axis=axis), rtol=1e-9, atol=1e-15)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 8))
def test_minus_inf_gets_weight_zero(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    hidden = rng.random(n) < 0.5
    hidden[rng.integers(n)] = False  # keep at least one position
    masked = np.where(hidden, -np.inf, x)
    w = softmax(masked)
    assert (w[hidden] == 0).all()
    # The rest is the softmax over the visible scores alone.
    assert_allclose(w[~hidden], softmax(x[~hidden]), rtol=1e-12)
    assert_close(softmax_stable(torch.from_numpy(masked)), torch.from_numpy(w))


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "kwargs", "error", "match"),
    [
        (torch.ones(3), {}, TypeError, r"x: expected a NumPy array, got a torch.float32 tensor"),
        ("abc", {}, TypeError, r"x: expected a NumPy array, got str"),
        (np.array(["a"]), {}, TypeError, r"x: expected real numbers, got an array of dtype <U1"),
        ([[1.0], [1.0, 2.0]], {}, TypeError, r"x: expected an array of numbers"),
        (np.array([1.0, np.nan]), {}, ValueError, r"x: expected finite numbers or -inf, got NaN"),
        (np.array([1.0, np.inf]), {}, ValueError, r"x: expected finite numbers or -inf.*\+inf"),
        (np.float64(2.0), {}, ValueError, r"x: expected at least one dimension.*got a scalar"),
        (np.zeros((2, 0)), {}, ValueError, r"x: expected at least one score along axis -1"),
        (np.ones(3), {"axis": 1}, ValueError, r"axis: expected a dimension in \[-1, 0\], got 1"),
        (np.ones(3), {"axis": 0.5}, TypeError, r"axis: expected an int, got float"),
    ],
)
def test_numpy_softmax_rejects(x, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        softmax(x, **kwargs)


@pytest.mark.parametrize("fn", [softmax_naive, softmax_stable])
@pytest.mark.parametrize(
    ("x", "kwargs", "error", "match"),
    [
        (np.ones(3), {}, TypeError, r"x: expected a torch.Tensor, got a float64 array"),
        (torch.tensor([1, 2]), {}, TypeError, r"x: expected a floating-point tensor.*torch.int64"),
        (torch.tensor(1.0), {}, ValueError, r"x: expected a 1-D to 8-D tensor, got shape \(\)"),
        (torch.ones(0), {}, ValueError, r"x: expected at least one element.*shape \(0,\)"),
        (
            torch.ones(2, 3),
            {"dim": 2},
            ValueError,
            r"dim: expected a dimension in \[-2, 1\], got 2",
        ),
        (torch.ones(2, 3), {"dim": None}, TypeError, r"dim: expected an int, got NoneType"),
    ],
)
def test_torch_softmaxes_reject(fn, x, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        fn(x, **kwargs)


@pytest.mark.parametrize("fn", [softmax_naive, softmax_stable])
def test_torch_softmaxes_propagate_nan_and_inf(fn) -> None:
    # NaN in, NaN out, as in PyTorch: tensors are not scanned. A row with a NaN gives
    # NaN everywhere, as torch.softmax does (its sum is NaN); it must not come out as
    # the zeros of a fully masked row, which would hide the NaN. Other rows are as usual.
    x = torch.tensor([[1.0, torch.nan, 0.0], [1.0, 2.0, 3.0]])
    out = fn(x)
    assert out[0].isnan().all(), out
    assert_close(out[1], torch.softmax(x[1], dim=-1))
    assert_close(out, torch.softmax(x, dim=-1), equal_nan=True)
    # +inf: exp(inf) / sum = inf / inf is NaN at that position, no exception; the
    # finite entries of the row get exp(s) / inf = 0.
    y = fn(torch.tensor([1.0, torch.inf, 0.0]))
    assert y[1].isnan()
    assert_close(y[[0, 2]], torch.zeros(2))
