"""Input checks shared by the package.

Every public entry point validates its arguments here, so that a reader who passes
the wrong thing gets a message naming the argument, what was expected and what came,
instead of a shape error from deep inside a matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def describe(x: object) -> str:
    """Say what ``x`` is in a few words, for error messages."""
    if isinstance(x, Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    if isinstance(x, np.ndarray):
        return f"a {x.dtype} array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"


def as_float_array(name: str, x: object, ndim: int | Sequence[int]) -> np.ndarray:
    """Return ``x`` as a floating NumPy array of the given rank.

    Integer and boolean inputs (such as seed 001's one-hot word vectors) are
    converted to float64; complex or object inputs are refused.
    """
    if isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a NumPy array, got {describe(x)}; call .numpy() first")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged lists
        raise TypeError(f"{name}: expected an array of numbers, got {describe(x)}") from err
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise TypeError(f"{name}: expected real numbers, got an array of dtype {arr.dtype}")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ranks:
        raise ValueError(f"{name}: expected a {_rank_text(ranks)} array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    check_finite(name, arr)
    return arr


def check_finite(name: str, x: np.ndarray | Tensor) -> None:
    """Refuse NaN and infinite values, which would otherwise spread silently."""
    finite = torch.isfinite(x).all() if isinstance(x, Tensor) else np.isfinite(x).all()
    if not bool(finite):
        raise ValueError(f"{name}: contains NaN or infinite values")


def _rank_text(ranks: Sequence[int]) -> str:
    if isinstance(ranks, range) and len(ranks) > 2:
        return f"{ranks.start}-D or higher"
    return " or ".join(f"{r}-D" for r in ranks)


def check_tensor(
    name: str,
    x: object,
    ndim: int | Sequence[int],
    *,
    last_dim: int | None = None,
    last_dim_name: str = "d_in",
    allow_inf: bool = False,
) -> Tensor:
    """Check that ``x`` is a non-empty floating tensor of the given rank and last dimension.

    NaN is always refused; ``-inf``/``inf`` only unless ``allow_inf`` (scores may
    legitimately hold ``-inf`` where they are masked).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {describe(x)}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point tensor, got dtype {x.dtype}; "
            "convert it first, e.g. x.float()"
        )
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in ranks:
        raise ValueError(
            f"{name}: expected a {_rank_text(ranks)} tensor, got shape {tuple(x.shape)}"
        )
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(
            f"{name}: expected the last dimension to be {last_dim_name}={last_dim}, "
            f"got shape {tuple(x.shape)}"
        )
    if x.numel() == 0:
        raise ValueError(f"{name}: is empty (shape {tuple(x.shape)})")
    if allow_inf:
        if bool(torch.isnan(x).any()):
            raise ValueError(f"{name}: contains NaN values")
    else:
        check_finite(name, x)
    return x


def check_positive_int(name: str, value: object) -> int:
    """Check that ``value`` is an int >= 1 (bool is not an int here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected a positive int, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return value


def check_dropout(value: object) -> float:
    """Check that a dropout probability lies in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"dropout: expected a float in [0, 1), got {describe(value)}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"dropout: expected a float in [0, 1), got {value}")
    return float(value)


def check_bool_mask(name: str, mask: object, target_shape: Sequence[int]) -> Tensor:
    """Check that ``mask`` is a boolean tensor that broadcasts to ``target_shape``."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}: expected a boolean torch.Tensor, got {describe(mask)}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name}: expected dtype torch.bool (True = masked out), got {mask.dtype}; "
            "use mask.bool() if 1 marks the positions to hide"
        )
    try:
        shape = torch.broadcast_shapes(mask.shape, torch.Size(target_shape))
    except RuntimeError:
        shape = None
    if shape != torch.Size(target_shape):
        raise ValueError(
            f"{name}: shape {tuple(mask.shape)} does not broadcast to the scores' "
            f"shape {tuple(target_shape)}"
        )
    return mask
