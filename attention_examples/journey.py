"""The book's running example: the six-token sentence "Your journey starts with one step".

Each token is embedded as a 3-dimensional vector, small enough to read every number.
The vectors are the ones used throughout seeds 002-004 (and the book they follow).
:data:`JOURNEY_TOKENS` names the rows of :func:`journey_inputs`:

>>> len(JOURNEY_TOKENS) == journey_inputs().shape[0]
True
>>> JOURNEY_TOKENS[1]
'journey'
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_float_dtype, check_positive_int

__all__ = ["JOURNEY_TOKENS", "journey_batch", "journey_inputs"]

JOURNEY_TOKENS: tuple[str, ...] = ("Your", "journey", "starts", "with", "one", "step")
"""The six tokens, in order; ``journey_inputs()[i]`` embeds ``JOURNEY_TOKENS[i]``."""

_EMBEDDINGS = (
    (0.43, 0.15, 0.89),  # Your
    (0.55, 0.87, 0.66),  # journey
    (0.57, 0.85, 0.64),  # starts
    (0.22, 0.58, 0.33),  # with
    (0.77, 0.25, 0.10),  # one
    (0.05, 0.80, 0.55),  # step
)


def journey_inputs(dtype: torch.dtype = torch.float32) -> Tensor:
    """The embeddings of "Your journey starts with one step", one row per token.

    A fresh tensor each call, so a reader who changes it changes no one else's copy.

    Args:
        dtype: floating dtype of the result (integer dtypes would truncate
            every embedding to 0 and are refused).

    Returns:
        (6, 3) one 3-dimensional embedding per token of :data:`JOURNEY_TOKENS`.

    >>> x = journey_inputs()
    >>> x.shape
    torch.Size([6, 3])
    >>> x[1]  # "journey"
    tensor([0.5500, 0.8700, 0.6600])
    """
    return torch.tensor(_EMBEDDINGS, dtype=check_float_dtype("dtype", dtype))


def journey_batch(batch_size: int = 2, dtype: torch.dtype = torch.float32) -> Tensor:
    """A batch holding the journey sentence ``batch_size`` times (seed 004's ``batch``).

    Args:
        batch_size: b, how many copies to stack.
        dtype: floating dtype of the result.

    Returns:
        (b, 6, 3) the batch of embeddings.

    >>> journey_batch().shape
    torch.Size([2, 6, 3])
    >>> torch.equal(journey_batch(3)[2], journey_inputs())
    True
    """
    batch_size = check_positive_int("batch_size", batch_size)
    return journey_inputs(dtype).expand(batch_size, -1, -1).clone()
