"""Input checks shared by the package: one rule, one place.

Every public entry point validates its arguments here, once, so that a reader who
passes the wrong thing gets a message naming the argument, what was expected and what
came, instead of a shape error from deep inside a matrix product. The checks look at
types, shapes, dtypes, devices and Python numbers only, never at a tensor's values:
a value scan costs a pass over the data and a synchronisation, and breaks
``torch.compile``. NaN in, NaN out, as in PyTorch.

The NumPy functions of the first chapters are the exception: they take small arrays
of a few numbers, and refusing NaN there is part of what those chapters teach.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any, Protocol, TypeGuard

import numpy as np
import torch
from torch import Tensor, nn


class AttentionModule(Protocol):
    """What :func:`check_module_input` reads of a module: its sizes and its weights."""

    d_in: int
    context_length: int
    W_query: nn.Linear


def broadcast_shapes(*shapes: Sequence[int]) -> torch.Size | None:
    """The shape the given shapes broadcast to, or None if they do not broadcast."""
    try:
        shape: torch.Size = torch.broadcast_shapes(*shapes)  # type: ignore[no-untyped-call]
    except RuntimeError:
        return None
    return shape


def describe(x: object) -> str:
    """Say what ``x`` is in a few words, for error messages."""
    if isinstance(x, Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    if isinstance(x, np.ndarray):
        return f"a {x.dtype} array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"


def _rank_text(ranks: Sequence[int]) -> str:
    """``(2, 3)`` -> "2-D or 3-D"; ``range(2, 9)`` -> "2-D to 8-D"."""
    if isinstance(ranks, range) and ranks.step == 1 and len(ranks) > 2:
        return f"{ranks.start}-D to {ranks[-1]}-D"
    return " or ".join(f"{r}-D" for r in ranks)


def is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    """Python and NumPy integers count; bool does not."""
    return isinstance(value, Integral) and not isinstance(value, bool | np.bool_)


def as_float_array(
    name: str, x: object, ndim: int | Sequence[int], *, allow_neg_inf: bool = False
) -> np.ndarray[Any, Any]:
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
    bad = np.isnan(arr) | (np.isposinf(arr) if allow_neg_inf else np.isinf(arr))
    if bad.any():
        allowed = "finite numbers or -inf" if allow_neg_inf else "finite numbers"
        raise ValueError(f"{name}: expected {allowed}, got NaN or infinite values")
    return arr


def check_floating(name: str, x: object, what: str = "a torch.Tensor") -> Tensor:
    """Check that ``x`` is a floating-point tensor; ``what`` describes it in the message."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected {what}, got {describe(x)}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point tensor, got dtype {x.dtype}; "
            "convert it first, e.g. x.float()"
        )
    return x


def check_tensor(
    name: str,
    x: object,
    ndim: int | Sequence[int],
    *,
    last_dim: int | None = None,
    last_dim_name: str = "d_in",
) -> Tensor:
    """Check that ``x`` is a non-empty floating tensor of the given rank and last dimension."""
    x = check_floating(name, x)
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
    return x


def check_square(name: str, x: object) -> Tensor:
    """Check that ``x`` is a floating (..., T, T) tensor: a matrix of scores or weights."""
    x = check_tensor(name, x, ndim=range(2, 9))
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: expected square (..., T, T), got shape {tuple(x.shape)}")
    return x


def check_same_kind(names: str, *tensors: Tensor) -> None:
    """Check that tensors that meet in one product share one dtype and one device."""
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        got = ", ".join(str(t.dtype) for t in tensors)
        raise TypeError(f"{names}: expected one dtype, got {got}; convert with .to(dtype)")
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        got = ", ".join(str(t.device) for t in tensors)
        raise ValueError(f"{names}: expected one device, got {got}; move them with .to(device)")


def check_attention_inputs(query: object, key: object, value: object) -> torch.Size:
    """Check the three tensors of scaled dot-product attention; return their batch shape.

    query (..., T_q, d_k), key (..., T_k, d_k) and value (..., T_k, d_v), one dtype,
    one device, leading dimensions that broadcast together.
    """
    query = check_tensor("query", query, ndim=range(2, 9))
    key = check_tensor("key", key, ndim=range(2, 9), last_dim=query.shape[-1], last_dim_name="d_k")
    value = check_tensor("value", value, ndim=range(2, 9))
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(
            f"value: expected one value per key ({key.shape[-2]} rows), "
            f"got shape {tuple(value.shape)}"
        )
    check_same_kind("query, key, value", query, key, value)
    batch = broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    if batch is None:
        raise ValueError(
            "query, key, value: expected leading (batch) dimensions that broadcast together, "
            f"got shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    return batch


def check_rows(name: str, x: np.ndarray[Any, Any], rows: int, what: str) -> None:
    """Check that an array has ``rows`` rows (one per ``what``)."""
    if x.shape[0] != rows:
        raise ValueError(
            f"{name}: expected {rows} along the first axis, one per {what}, got shape {x.shape}"
        )


def check_dim(name: str, dim: object, ndim: int) -> int:
    """Check that ``dim`` indexes one of ``ndim`` dimensions (negative counts from the end)."""
    if not is_int(dim):
        raise TypeError(f"{name}: expected an int, got {describe(dim)}")
    if not -ndim <= int(dim) < ndim:
        raise ValueError(f"{name}: expected a dimension in [{-ndim}, {ndim - 1}], got {dim}")
    return int(dim)


def check_positive_int(name: str, value: object) -> int:
    """Check that ``value`` is an int >= 1 (bool is not an int here); return it as an int."""
    if not is_int(value):
        raise TypeError(f"{name}: expected a positive int, got {describe(value)}")
    if int(value) < 1:
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


def check_callable(name: str, value: object, what: str) -> None:
    """Check that an optional function argument is callable (or None)."""
    if value is not None and not callable(value):
        raise TypeError(f"{name}: expected {what} or None, got {describe(value)}")


def check_bool_tensor(name: str, mask: object) -> Tensor:
    """Check that ``mask`` is a boolean tensor (True = masked out)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}: expected a boolean torch.Tensor, got {describe(mask)}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name}: expected dtype torch.bool (True = masked out), got {mask.dtype}; "
            "use mask.bool() if 1 marks the positions to hide"
        )
    return mask


def check_bool_mask(name: str, mask: object, target_shape: Sequence[int]) -> Tensor:
    """Check that ``mask`` is a boolean tensor that broadcasts to ``target_shape``."""
    mask = check_bool_tensor(name, mask)
    if broadcast_shapes(mask.shape, target_shape) != torch.Size(target_shape):
        raise ValueError(
            f"{name}: expected a shape that broadcasts to the scores' shape "
            f"{tuple(target_shape)}, got {tuple(mask.shape)}"
        )
    return mask


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


def check_module_input(
    module: AttentionModule, x: object, key_padding_mask: object, return_weights: object
) -> tuple[Tensor, Tensor | None]:
    """The checks of an attention module's ``forward``, shared by every module.

    ``x``: (b, T, d_in) or unbatched (T, d_in), T <= context_length, the module's dtype
    and device; ``key_padding_mask``: None, or one boolean flag per token of ``x``.
    Returns ``x`` and the mask, unchanged.
    """
    check_bool("return_weights", return_weights)
    x = check_tensor("x", x, ndim=(2, 3), last_dim=module.d_in)
    if x.shape[-2] > module.context_length:
        raise ValueError(
            f"x: expected at most context_length={module.context_length} tokens, "
            f"got {x.shape[-2]} (shape {tuple(x.shape)})"
        )
    check_input_matches("x", x, module.W_query.weight)
    if key_padding_mask is None:
        return x, None
    return x, check_padding_mask(key_padding_mask, x, "x")


def check_padding_mask(mask: object, tokens: Tensor, tokens_name: str) -> Tensor:
    """A ``key_padding_mask``: boolean, one flag per token of ``tokens``, on their device."""
    expected = tuple(tokens.shape[:-1])  # (b, T), or (T,) unbatched
    mask = check_bool_tensor("key_padding_mask", mask)
    if tuple(mask.shape) != expected:
        raise ValueError(
            f"key_padding_mask: expected shape {expected} (one flag per token of "
            f"{tokens_name}), got {tuple(mask.shape)}"
        )
    if mask.device != tokens.device:
        raise ValueError(
            f"{tokens_name}, key_padding_mask: expected one device, got {tokens.device}, "
            f"{mask.device}; move them with .to(device)"
        )
    return mask


def check_window(window: object) -> int | None:
    """A sliding window's size: None (no window) or a positive int."""
    return None if window is None else check_positive_int("window", window)
