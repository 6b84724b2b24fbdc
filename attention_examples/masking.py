"""Masks: hide padding and future positions from attention.

Chapter: *Masks* (``docs/masking.md``). Throughout the package a boolean mask
marks with ``True`` the positions to hide, as seed 000 defines it. (PyTorch's
``torch.nn.MultiheadAttention`` uses the same convention; the boolean ``attn_mask``
of ``torch.nn.functional.scaled_dot_product_attention`` is the opposite,
True = may attend, so pass it ``~mask``.)

A masked score is replaced by :data:`MASK_FILL`, a large negative number whose
exponential is exactly 0 in float32:

>>> MASK_FILL
-1000000000.0
>>> float(np.exp(np.float32(MASK_FILL)))
0.0
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import torch
from torch import Tensor

from ._checks import as_float_array, check_bool_mask, check_positive_int, check_tensor, describe

__all__ = ["MASK_FILL", "apply_mask", "causal_mask", "padding_mask"]

NDArray = np.ndarray[Any, Any]

MASK_FILL = -1e9
"""The large negative score seed 000 writes into masked positions."""


@overload
def apply_mask(scores: NDArray, mask: NDArray, fill: float = ...) -> NDArray: ...
@overload
def apply_mask(scores: Tensor, mask: Tensor, fill: float = ...) -> Tensor: ...
def apply_mask(scores: NDArray | Tensor, mask: object, fill: float = MASK_FILL) -> NDArray | Tensor:
    """Return a copy of ``scores`` with the masked positions set to ``fill``.

    After a softmax, a score of ``-1e9`` (the default) gives a weight of exactly 0
    in float32 and float64 while staying finite; ``fill=-inf`` is the other common
    choice (see the causal attention chapter). Works on NumPy arrays and tensors.

    Args:
        scores: (..., N) attention scores (``-inf`` allowed: already masked).
        mask: boolean, broadcastable to ``scores``; True = masked out.
        fill: the value written into masked positions: a number, not NaN.

    Returns:
        (..., N) the masked scores, same type and dtype as ``scores``.

    Example (seed 000: the second position is padding):

    >>> scores = np.array([3.0, 1.0, -2.0], dtype=np.float32)
    >>> print(apply_mask(scores, np.array([False, True, False])))
    [ 3.e+00 -1.e+09 -2.e+00]
    >>> apply_mask(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), causal_mask(2), fill=float("-inf"))
    tensor([[1., -inf],
            [3., 4.]])
    """
    if isinstance(fill, bool) or not isinstance(fill, int | float) or fill != fill:
        raise TypeError(f"fill: expected a number (not NaN), got {describe(fill)}")
    if isinstance(scores, Tensor):
        scores = check_tensor("scores", scores, ndim=range(1, 9))
        mask = check_bool_mask("mask", mask, scores.shape)
        if mask.device != scores.device:
            raise ValueError(
                f"scores, mask: expected one device, got {scores.device}, {mask.device}; "
                "move them with .to(device)"
            )
        return scores.masked_fill(mask, fill)
    scores = as_float_array("scores", scores, ndim=range(1, 9), allow_neg_inf=True)
    if isinstance(mask, Tensor):
        raise TypeError(f"mask: expected a boolean NumPy array like scores, got {describe(mask)}")
    try:
        mask = np.asarray(mask)
    except ValueError as err:  # a ragged list of rows
        raise ValueError(
            f"mask: expected a boolean array of one shape (a ragged list is not one), "
            f"got {describe(mask)[:80]}"
        ) from err
    if mask.dtype != np.bool_:
        raise TypeError(f"mask: expected a boolean array (True = masked), got dtype {mask.dtype}")
    try:
        mask = np.broadcast_to(mask, scores.shape)
    except ValueError as err:
        raise ValueError(
            f"mask: expected a shape that broadcasts to the scores' shape {scores.shape}, "
            f"got {mask.shape}"
        ) from err
    masked = scores.copy()
    masked[mask] = fill
    return masked


def masked_softmax_(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last dimension, with weight exactly 0 where ``mask`` is True.

    The one place of the package's rule for a query that sees no key at all (every
    position of its row masked, such as a padding token's query): it gets all-zero
    weights, never the NaN of ``softmax`` over a row of ``-inf`` (0 / 0), and zero
    gradients. Overwrites ``scores``, which callers compute fresh for this call: a copy
    of the (..., T_q, T_k) scores would cost more time than the whole softmax.

    Args:
        scores: (..., T_q, T_k) attention scores (overwritten).
        mask: None, or boolean and broadcastable to ``scores``; True = masked out.

    Returns:
        (..., T_q, T_k) the attention weights; each row sums to 1, or is all zeros.
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    mask, sees_nothing = split_empty_rows(mask)
    scores.masked_fill_(mask, float("-inf"))  # (..., T_q, T_k)
    return torch.softmax(scores, dim=-1).masked_fill(sees_nothing, 0.0)


def split_empty_rows(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Separate the rows of a mask that hide every key from the others.

    A softmax over a row of ``-inf`` is 0 / 0 = NaN, in the forward pass and in the
    gradient. So such a row is attended as if nothing were masked (finite numbers), and
    its result is set to zero afterwards: the package's rule that a query that sees no
    key gets zero weights and a zero context vector.

    Args:
        mask: (..., T_q, T_k) boolean, True = masked out.

    Returns:
        ``(mask, sees_nothing)``: the mask with its all-True rows cleared, and
        (..., T_q, 1) True for those rows.
    """
    sees_nothing = mask.all(dim=-1, keepdim=True)  # (..., T_q, 1)
    return mask & ~sees_nothing, sees_nothing


def causal_mask(num_tokens: int, device: torch.device | str | None = None) -> Tensor:
    """The causal mask: position ``i`` may not look at any later position ``j > i``.

    Args:
        num_tokens: T, the sequence length.
        device: where to create the mask.

    Returns:
        (T, T) boolean, True strictly above the diagonal (the future).

    >>> causal_mask(4)
    tensor([[False,  True,  True,  True],
            [False, False,  True,  True],
            [False, False, False,  True],
            [False, False, False, False]])
    """
    num_tokens = check_positive_int("num_tokens", num_tokens)
    if device is not None:
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"device: expected a torch.device or a name such as 'cpu', got {describe(device)}"
            ) from err
    return torch.ones(num_tokens, num_tokens, dtype=torch.bool, device=device).triu(diagonal=1)


def padding_mask(lengths: Tensor | list[int], num_tokens: int | None = None) -> Tensor:
    """The key padding mask of a batch of sequences padded to a common length.

    Args:
        lengths: (b,) the true length of each sequence.
        num_tokens: T, the padded length; defaults to the longest length.

    Returns:
        (b, T) boolean, True at padding positions (index >= length).

    >>> padding_mask([3, 1], num_tokens=4)
    tensor([[False, False, False,  True],
            [False,  True,  True,  True]])
    """
    try:
        lengths = torch.as_tensor(lengths)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"lengths: expected a 1-D sequence of ints, got {describe(lengths)}"
        ) from err
    if lengths.ndim != 1:
        raise ValueError(f"lengths: expected a 1-D sequence of ints, got {describe(lengths)}")
    if lengths.numel() == 0:
        raise ValueError("lengths: expected at least one sequence length, got none")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths: expected a 1-D sequence of ints, got {describe(lengths)}")
    if bool((lengths < 0).any()):
        raise ValueError(f"lengths: expected non-negative lengths, got {lengths.tolist()}")
    longest = int(lengths.max())
    if num_tokens is None:
        if longest == 0:
            raise ValueError("lengths: expected at least one non-zero length, got all zeros")
        num_tokens = longest
    num_tokens = check_positive_int("num_tokens", num_tokens)
    if longest > num_tokens:
        raise ValueError(
            f"lengths: expected lengths of at most num_tokens={num_tokens}, got {longest}"
        )
    positions = torch.arange(num_tokens, device=lengths.device)
    return positions[None, :] >= lengths[:, None]
