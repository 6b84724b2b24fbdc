"""Input checks shared by the package.

Every public entry point validates its arguments here, so that a reader who passes
the wrong thing gets a message naming the argument, what was expected and what came,
instead of a shape error from deep inside a matrix product.

Tensors on the ``meta`` device have shapes but no values; the value checks (NaN,
infinity, signs) skip them, so a module can be traced on ``meta`` to check shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
import torch
from torch import Tensor, nn


def describe(x: object) -> str:
    """Say what ``x`` is in a few words, for error messages."""
    if isinstance(x, Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    if isinstance(x, np.ndarray):
        return f"a {x.dtype} array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"


def has_values(x: Tensor) -> bool:
    """False for tensors on the ``meta`` device, which carry shapes only."""
    return x.device.type != "meta"


def as_float_array(
    name: str, x: object, ndim: int | Sequence[int], *, allow_neg_inf: bool = False
) -> np.ndarray:
    """Return ``x`` as a floating NumPy array of the given rank.

    Integer and boolean inputs (such as seed 001's one-hot word vectors) are
    converted to float64; complex or object inputs are refused. NaN and infinite
    values are refused, except ``-inf`` when ``allow_neg_inf`` (a masked score).
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
        raise ValueError(f"{name}: expected at least one element, got an empty array {arr.shape}")
    if allow_neg_inf:
        if np.isnan(arr).any() or np.isposinf(arr).any():
            raise ValueError(f"{name}: expected finite numbers or -inf, got NaN or +inf")
    else:
        check_finite(name, arr)
    return arr


def check_finite(name: str, x: np.ndarray | Tensor) -> None:
    """Refuse NaN and infinite values, which would otherwise spread silently."""
    if isinstance(x, Tensor):
        if not has_values(x):
            return
        finite = torch.isfinite(x).all()
    else:
        finite = np.isfinite(x).all()
    if not bool(finite):
        raise ValueError(f"{name}: expected finite numbers, got NaN or infinite values")


def _rank_text(ranks: Sequence[int]) -> str:
    """``(2, 3)`` -> "2-D or 3-D"; ``range(2, 9)`` -> "2-D to 8-D"."""
    if isinstance(ranks, range) and ranks.step == 1 and len(ranks) > 2:
        return f"{ranks.start}-D to {ranks[-1]}-D"
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

    NaN is always refused; ``-inf`` and ``+inf`` only unless ``allow_inf`` (scores
    may legitimately hold ``-inf`` where they are masked).
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
        raise ValueError(
            f"{name}: expected at least one element, got an empty tensor of shape {tuple(x.shape)}"
        )
    if allow_inf:
        if has_values(x) and bool(torch.isnan(x).any()):
            raise ValueError(f"{name}: expected numbers, got NaN values")
    else:
        check_finite(name, x)
    return x


def check_no_pos_inf(name: str, x: Tensor) -> None:
    """Refuse ``+inf``: ``-inf`` is a masked score, ``+inf`` has no meaning in a softmax."""
    if has_values(x) and bool(torch.isposinf(x).any()):
        raise ValueError(f"{name}: expected finite numbers or -inf, got +inf")


def _is_int(value: object) -> bool:
    """Python and NumPy integers count; bool does not."""
    return isinstance(value, Integral) and not isinstance(value, bool | np.bool_)


def check_dim(name: str, dim: object, ndim: int) -> int:
    """Check that ``dim`` indexes one of ``ndim`` dimensions (negative counts from the end)."""
    if not _is_int(dim):
        raise TypeError(f"{name}: expected an int, got {describe(dim)}")
    if not -ndim <= dim < ndim:
        raise ValueError(f"{name}: expected a dimension in [{-ndim}, {ndim - 1}], got {dim}")
    return int(dim)


def check_same_dtype(names: str, *tensors: Tensor) -> None:
    """Check that tensors that meet in one product share one dtype."""
    dtypes = [t.dtype for t in tensors]
    if len(set(dtypes)) > 1:
        got = ", ".join(str(d) for d in dtypes)
        raise TypeError(f"{names}: expected one dtype, got {got}; convert with .to(dtype)")


def check_same_device(names: str, *tensors: Tensor) -> None:
    """Check that tensors that meet in one product live on one device."""
    devices = [t.device for t in tensors]
    if len(set(devices)) > 1:
        got = ", ".join(str(d) for d in devices)
        raise ValueError(f"{names}: expected one device, got {got}; move them with .to(device)")


def check_input_matches(name: str, x: Tensor, weight: Tensor) -> None:
    """Check that an input has the dtype and device of the module weights it meets.

    Under ``torch.autocast`` mixed dtypes are intended, so only the device is checked.
    """
    if x.device != weight.device:
        raise ValueError(
            f"{name}: expected a tensor on {weight.device} like the module's weights, "
            f"got one on {x.device}; move one of them with .to(device)"
        )
    if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f"{name}: expected dtype {weight.dtype} like the module's weights, got {x.dtype}; "
            f"convert the input (x.to({weight.dtype})) or the module (module.to({x.dtype}))"
        )


def check_positive_int(name: str, value: object) -> int:
    """Check that ``value`` is an int >= 1 (bool is not an int here); return it as an int."""
    if not _is_int(value):
        raise TypeError(f"{name}: expected a positive int, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """Check that a flag is a real bool, so that ``qkv_bias="no"`` is not read as True."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {describe(value)}")
    return value


def check_float_dtype(name: str, dtype: object) -> torch.dtype:
    """Check that ``dtype`` is a floating ``torch.dtype``."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"{name}: expected a floating torch.dtype such as torch.float32, got {describe(dtype)}"
        )
    return dtype


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
            f"{name}: expected a shape that broadcasts to the scores' shape "
            f"{tuple(target_shape)}, got {tuple(mask.shape)}"
        )
    return mask


def module_weight(module: nn.Module) -> Tensor:
    """The query weight of an attention module, which fixes its dtype and device."""
    w = module.W_query
    return w if isinstance(w, Tensor) else w.weight
