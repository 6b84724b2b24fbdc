"""Tests of attention_examples.masking (seed 000 section 1.3; the masks of seed 004)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from attention_examples import MASK_FILL, apply_mask, causal_mask, padding_mask, softmax
from tests.seed_values import seed_tensor, seed_tensors


def test_apply_mask_seed_000() -> None:
    # seed 000, In [13]-[14]: the second position is padding
    scores = np.array([3.0, 1.0, -2.0], dtype=np.float32)
    masked = apply_mask(scores, np.array([False, True, False]))
    printed = [t.numpy() for t in seed_tensors("masking", "padding-one-query", torch.float64)]
    # printed "[ 3.  1. -2.] -> softmax [0.8756006  0.11849965 0.00589975]" first
    assert_array_equal(scores, printed[0])
    # printed "[ 3.e+00 -1.e+09 -2.e+00]"
    assert_array_equal(masked, printed[2].astype(np.float32))
    assert masked.dtype == np.float32
    # printed "-> softmax [0.9933072  0.         0.00669285]"
    assert_allclose(softmax(masked), printed[3], rtol=1e-6)
    # The original scores are left alone (seed 000 copies them first).
    assert_array_equal(scores, [3.0, 1.0, -2.0])


def test_mask_fill_is_seed_000s_value_and_vanishes_after_softmax() -> None:
    # seed 000, In [12]: masked[mask] = -1e9
    assert MASK_FILL == -1e9
    for dtype in (np.float32, np.float64):
        assert softmax(np.array([0.0, MASK_FILL], dtype=dtype))[1] == 0.0
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        assert torch.softmax(torch.tensor([0.0, MASK_FILL], dtype=dtype), dim=0)[1] == 0.0


def test_causal_mask_seed_004() -> None:
    # seed 004, In [59]: torch.triu(torch.ones(6, 6), diagonal=1), printed as floats and as bools
    expected, expected_bool = seed_tensors("causal_attention", "triu-mask") + seed_tensors(
        "causal_attention", "triu-bool"
    )
    assert torch.equal(expected_bool, expected.bool())
    mask = causal_mask(6)
    assert mask.dtype == torch.bool
    assert torch.equal(mask.float(), expected)
    assert torch.equal(mask, expected.bool())
    # seed 004, In [45]: mask_simple = torch.tril(torch.ones(6, 6)), the positions kept
    assert torch.equal((~mask).float(), seed_tensor("masking", "tril"))


def test_apply_mask_on_tensors_keeps_dtype_and_device() -> None:
    scores = torch.arange(4.0, dtype=torch.float64).reshape(2, 2)
    masked = apply_mask(scores, causal_mask(2), fill=float("-inf"))
    assert masked.dtype == torch.float64
    assert torch.equal(masked, torch.tensor([[0.0, -torch.inf], [2.0, 3.0]], dtype=torch.float64))
    assert torch.equal(scores, torch.arange(4.0, dtype=torch.float64).reshape(2, 2))


def test_apply_mask_accepts_masked_scores() -> None:
    # Masking twice (a padding mask on top of a causal one) must work: -inf is allowed.
    once = apply_mask(np.array([0.0, -np.inf, 1.0]), np.array([True, False, False]))
    assert_array_equal(once, [MASK_FILL, -np.inf, 1.0])


@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 4), cols=st.integers(1, 6))
def test_apply_mask_numpy_and_torch_agree(seed: int, rows: int, cols: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(rows, cols))
    mask = rng.random(cols) < 0.5  # broadcast over the rows
    from_numpy = apply_mask(scores, mask)
    from_torch = apply_mask(torch.from_numpy(scores), torch.from_numpy(mask))
    assert_array_equal(from_numpy, from_torch.numpy())
    assert (from_numpy[:, mask] == MASK_FILL).all()
    assert_array_equal(from_numpy[:, ~mask], scores[:, ~mask])


@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=5), extra=st.integers(0, 3))
def test_padding_mask_marks_positions_at_or_after_length(lengths: list[int], extra: int) -> None:
    num_tokens = max(max(lengths), 1) + extra
    mask = padding_mask(lengths, num_tokens=num_tokens)
    assert mask.shape == (len(lengths), num_tokens)
    assert mask.dtype == torch.bool
    for row, length in zip(mask.tolist(), lengths, strict=True):
        assert row == [False] * length + [True] * (num_tokens - length)


def test_padding_mask_defaults_to_the_longest_length() -> None:
    assert torch.equal(
        padding_mask(torch.tensor([2, 3])), torch.tensor([[False, False, True], [False] * 3])
    )


@given(st.integers(1, 12))
def test_causal_mask_hides_exactly_the_future(num_tokens: int) -> None:
    mask = causal_mask(num_tokens)
    i, j = torch.meshgrid(torch.arange(num_tokens), torch.arange(num_tokens), indexing="ij")
    assert torch.equal(mask, j > i)


# --- bad input ---------------------------------------------------------------------------

SCORES = np.array([3.0, 1.0, -2.0])


@pytest.mark.parametrize(
    ("scores", "mask", "kwargs", "error", "match"),
    [
        (SCORES, np.array([0, 1, 0]), {}, TypeError, r"mask: expected a boolean array.*int64"),
        (
            SCORES,
            np.array([True, False]),
            {},
            ValueError,
            r"mask: expected a shape that broadcasts",
        ),
        (SCORES, torch.tensor([True, False, True]), {}, TypeError, r"mask: expected a boolean Num"),
        (
            np.zeros((2, 2)),
            [[True], [False, True]],  # ragged: no array of one shape
            {},
            ValueError,
            r"mask: expected a boolean array of one shape.*got list \[\[True\], \[False, True\]\]",
        ),
        (SCORES, np.zeros(3, bool), {"fill": float("nan")}, TypeError, r"fill: expected a number"),
        (SCORES, np.zeros(3, bool), {"fill": "-inf"}, TypeError, r"fill: expected a number.*str"),
        (np.array([np.nan, 0.0, 1.0]), np.zeros(3, bool), {}, ValueError, r"scores: expected fin"),
        (
            np.array([np.inf, 0.0, 1.0]),
            np.zeros(3, bool),
            {},
            ValueError,
            r"scores: expected finite numbers or -inf, got NaN or inf",
        ),
        (np.float64(1.0), np.zeros((), bool), {}, ValueError, r"scores: expected a 1-D to 8-D"),
        (np.zeros(0), np.zeros(0, bool), {}, ValueError, r"scores: expected at least one element"),
        (
            torch.ones(3),
            torch.tensor([1, 0, 1]),
            {},
            TypeError,
            r"mask: expected dtype torch.bool \(True = masked out\), got torch.int64; "
            r"use mask.bool\(\)",
        ),
        (
            torch.ones(3),
            np.zeros(3, bool),
            {},
            TypeError,
            r"mask: expected a boolean torch.Tensor, got a bool array of shape \(3,\)",
        ),
        (
            torch.ones(2, 3),
            torch.zeros(2, dtype=torch.bool),
            {},
            ValueError,
            r"mask: expected a shape that broadcasts to the scores' shape \(2, 3\), got \(2,\)",
        ),
        (
            torch.ones(3),
            torch.zeros(2, 3, dtype=torch.bool),  # would silently grow the scores
            {},
            ValueError,
            r"mask: expected a shape that broadcasts to the scores' shape \(3,\), got \(2, 3\)",
        ),
        (torch.tensor([1, 2]), torch.zeros(2, dtype=torch.bool), {}, TypeError, r"scores: .*int64"),
    ],
)
def test_apply_mask_rejects(scores, mask, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        apply_mask(scores, mask, **kwargs)


def test_apply_mask_on_tensors_lets_nan_and_inf_through() -> None:
    # NaN in, NaN out, as in PyTorch: tensors are not scanned. A NaN or inf that is kept
    # stays in the result; one that is masked is replaced by the fill, like any score.
    scores = torch.tensor([[torch.nan, 1.0, torch.inf], [2.0, torch.nan, -torch.inf]])
    mask = torch.tensor([[False, False, True], [False, True, False]])
    out = apply_mask(scores, mask, fill=MASK_FILL)
    expected = torch.tensor([[torch.nan, 1.0, MASK_FILL], [2.0, MASK_FILL, -torch.inf]])
    torch.testing.assert_close(out, expected, equal_nan=True, rtol=0, atol=0)
    assert scores[0, 0].isnan()  # a copy: the input is unchanged
    assert scores[0, 2] == torch.inf


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0,), ValueError, r"num_tokens: expected a positive int, got 0"),
        ((2.5,), TypeError, r"num_tokens: expected a positive int, got float 2.5"),
        ((True,), TypeError, r"num_tokens: expected a positive int, got bool True"),
        ((3, "nowhere"), ValueError, r"device: expected a torch.device or a name.*'nowhere'"),
    ],
)
def test_causal_mask_rejects(args, error, match) -> None:
    with pytest.raises(error, match=match):
        causal_mask(*args)


@pytest.mark.parametrize(
    ("lengths", "num_tokens", "error", "match"),
    [
        (
            [2.0, 1.0],
            None,
            TypeError,
            r"lengths: expected a 1-D sequence of ints, got a torch.float",
        ),
        ([[2, 1]], None, ValueError, r"lengths: expected a 1-D sequence of ints.*shape \(1, 2\)"),
        ([], None, ValueError, r"lengths: expected at least one sequence length, got none"),
        ([2, -1], None, ValueError, r"lengths: expected non-negative lengths, got \[2, -1\]"),
        ([2, 5], 4, ValueError, r"lengths: expected lengths of at most num_tokens=4, got 5"),
        ([0, 0], None, ValueError, r"lengths: expected at least one non-zero length"),
        ([True, False], None, TypeError, r"lengths: expected a 1-D sequence of ints.*torch.bool"),
        (["a", "b"], None, TypeError, r"lengths: expected a 1-D sequence of ints, got list"),
        ([1, 2], 0, ValueError, r"num_tokens: expected a positive int, got 0"),
        ([1, 2], 3.0, TypeError, r"num_tokens: expected a positive int, got float"),
    ],
)
def test_padding_mask_rejects(lengths, num_tokens, error, match) -> None:
    with pytest.raises(error, match=match):
        padding_mask(lengths, num_tokens)
