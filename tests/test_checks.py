"""Tests of attention_examples._checks, the input checks behind every public entry point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from attention_examples import _checks


def test_describe_names_type_dtype_and_shape() -> None:
    assert _checks.describe(torch.ones(2, 3)) == "a torch.float32 tensor of shape (2, 3)"
    assert _checks.describe(np.ones((4,), dtype=np.int32)) == "a int32 array of shape (4,)"
    assert _checks.describe("abc") == "str 'abc'"
    assert _checks.describe(None) == "NoneType None"


def test_as_float_array_converts_integers_and_booleans() -> None:
    out = _checks.as_float_array("x", [[1, 0], [0, 1]], ndim=2)
    assert out.dtype == np.float64
    assert_array_equal(out, np.eye(2))
    assert _checks.as_float_array("m", np.array([True, False]), ndim=1).dtype == np.float64
    kept = np.ones(2, dtype=np.float32)
    assert _checks.as_float_array("x", kept, ndim=1).dtype == np.float32


def test_as_float_array_allows_minus_inf_only_when_asked() -> None:
    x = np.array([0.0, -np.inf])
    assert_array_equal(_checks.as_float_array("s", x, ndim=1, allow_neg_inf=True), x)
    with pytest.raises(ValueError, match=r"s: expected finite numbers, got NaN or infinite"):
        _checks.as_float_array("s", x, ndim=1)


@pytest.mark.parametrize(
    ("ndim", "text"), [(2, "2-D"), ((2, 3), "2-D or 3-D"), (range(1, 9), "1-D to 8-D")]
)
def test_rank_in_messages(ndim, text: str) -> None:
    with pytest.raises(ValueError, match=rf"x: expected a {text} tensor, got shape \(\)"):
        _checks.check_tensor("x", torch.tensor(1.0), ndim=ndim)


@pytest.mark.parametrize(
    ("ndim", "shape", "text"),
    [
        (range(2, 9), (1,) * 9, "2-D to 8-D"),  # above the upper bound: not "2-D or higher"
        (range(2, 9), (1,), "2-D to 8-D"),
        (range(2, 4), (1,), "2-D or 3-D"),
    ],
)
def test_rank_ranges_name_both_bounds(ndim, shape, text: str) -> None:
    with pytest.raises(ValueError, match=rf"x: expected a {text} tensor, got shape \({shape[0]},"):
        _checks.check_tensor("x", torch.ones(shape), ndim=ndim)
    with pytest.raises(ValueError, match=rf"x: expected a {text} array, got shape \({shape[0]},"):
        _checks.as_float_array("x", np.ones(shape), ndim=ndim)


def test_check_tensor_never_reads_values() -> None:
    # Checks by shape, dtype and device only: a meta tensor (no values at all) passes,
    # and so do NaN and infinities (NaN in, NaN out, as in PyTorch).
    x = torch.empty(2, 3, device="meta")
    assert _checks.check_tensor("x", x, ndim=2) is x
    for value in (torch.nan, torch.inf, -torch.inf):
        y = torch.full((2, 3), value)
        assert _checks.check_tensor("x", y, ndim=2, last_dim=3) is y


def test_check_dim() -> None:
    assert _checks.check_dim("dim", -2, 2) == -2
    with pytest.raises(TypeError, match=r"dim: expected an int, got bool True"):
        _checks.check_dim("dim", True, 2)
    with pytest.raises(ValueError, match=r"dim: expected a dimension in \[-2, 1\], got -3"):
        _checks.check_dim("dim", -3, 2)


def test_check_same_kind() -> None:
    a = torch.ones(2)
    _checks.check_same_kind("a, b", a, a.clone())
    _checks.check_same_kind("a, b, c", a, a.clone(), torch.zeros(3, 4))  # shapes may differ
    with pytest.raises(TypeError, match=r"a, b: expected one dtype, got torch.float32, torch.fl"):
        _checks.check_same_kind("a, b", a, a.double())
    with pytest.raises(TypeError, match=r"a, b, c: expected one dtype, got torch.float32, "):
        _checks.check_same_kind("a, b, c", a, a, a.half())
    with pytest.raises(ValueError, match=r"a, b: expected one device, got cpu, meta"):
        _checks.check_same_kind("a, b", a, a.to("meta"))
    # a dtype mismatch is named first when both differ
    with pytest.raises(TypeError, match=r"a, b: expected one dtype"):
        _checks.check_same_kind("a, b", a, a.double().to("meta"))


def test_check_input_matches_allows_mixed_dtypes_under_autocast() -> None:
    weight = torch.ones(2, 2)
    x = torch.ones(2, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=r"x: expected dtype torch.float32 like the module's"):
        _checks.check_input_matches("x", x, weight)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _checks.check_input_matches("x", x, weight)
    with pytest.raises(ValueError, match=r"x: expected a tensor on meta like the module's weights"):
        _checks.check_input_matches("x", x, weight.to("meta"))


@pytest.mark.parametrize("value", [0.0, 0.5, 0, 0.999])
def test_check_dropout_accepts(value) -> None:
    assert _checks.check_dropout(value) == float(value)


def test_check_float_dtype() -> None:
    assert _checks.check_float_dtype("dtype", torch.float16) is torch.float16
    with pytest.raises(TypeError, match=r"dtype: expected a floating torch.dtype.*complex64"):
        _checks.check_float_dtype("dtype", torch.complex64)


def test_check_bool_mask_accepts_broadcastable_masks() -> None:
    for shape in [(3,), (1, 3), (2, 1), (2, 3)]:
        mask = torch.zeros(shape, dtype=torch.bool)
        assert _checks.check_bool_mask("mask", mask, (2, 3)) is mask


def test_is_int() -> None:
    assert _checks.is_int(3)
    assert _checks.is_int(np.int64(-1))
    assert not _checks.is_int(True)
    assert not _checks.is_int(np.bool_(False))
    assert not _checks.is_int(3.0)
    assert not _checks.is_int("3")


def test_numpy_integers_count_as_ints() -> None:
    # Sizes often come from NumPy (lengths.max(), array.shape arithmetic).
    assert _checks.check_positive_int("n", np.int64(3)) == 3
    assert type(_checks.check_positive_int("n", np.int32(3))) is int
    assert _checks.check_dim("axis", np.int64(-1), 2) == -1
    with pytest.raises(TypeError, match=r"n: expected a positive int, got bool"):
        _checks.check_positive_int("n", np.bool_(True))
