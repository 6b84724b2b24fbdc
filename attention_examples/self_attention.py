"""Scaled dot-product attention and self-attention with trainable weights.

Chapter: *Trainable weights: query, key and value* (``docs/self_attention.md``).
:func:`scaled_dot_product_attention` is the one place the package computes
``softmax(Q K^T / sqrt(d_k)) V``; every attention class calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from ._call_types import OneInputCall
from ._checks import (
    check_attention_inputs,
    check_bool,
    check_bool_mask,
    check_callable,
    check_input_matches,
    check_positive_int,
    check_tensor,
    describe,
)
from .masking import masked_softmax_

__all__ = [
    "SelfAttentionV1",
    "SelfAttentionV2",
    "scaled_dot_product_attention",
    "transfer_weights",
]

Dropout = Callable[[Tensor], Tensor]
Pair = tuple[Tensor, Tensor]


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: Dropout | None = None,
) -> tuple[Tensor, Tensor]:
    """``softmax(query @ key^T / sqrt(d_k)) @ value``, returning the weights too.

    ``d_k`` is read from ``key`` itself (its last dimension), never from a global.
    Masked positions get weight exactly 0. A query whose keys are *all* masked (a
    padding row) gets all-zero weights and a zero context vector, never NaN, and
    its gradients are zero too.

    Equal to ``torch.nn.functional.scaled_dot_product_attention(query, key, value,
    attn_mask=~mask)``: PyTorch's boolean ``attn_mask`` marks the positions that
    *may* be attended, the opposite of the convention here.

    Args:
        query: (..., T_q, d_k) one query per row.
        key: (..., T_k, d_k) one key per row.
        value: (..., T_k, d_v) one value per key.
        mask: optional boolean tensor broadcastable to (..., T_q, T_k);
            True = masked out (as in :func:`~attention_examples.apply_mask`).
            A (..., 1, T_k) mask is a key padding mask: the same keys hidden
            from every query.
        dropout: optional function applied to the weights after the softmax,
            typically an ``nn.Dropout`` (active only in training mode).

    The leading ``...`` dimensions of query, key, value and mask must broadcast
    together; the three tensors share one dtype and one device.

    Returns:
        ``(context, weights)``: context (..., T_q, d_v); weights (..., T_q, T_k),
        the attention weights actually applied (after dropout).

    Example (seed 003: the query of "journey" against all six keys, d_k = 2):

    >>> from attention_examples import journey_inputs
    >>> x = journey_inputs()
    >>> _ = torch.manual_seed(123)
    >>> W_q, W_k, W_v = (torch.randn(3, 2) for _ in range(3))
    >>> context, weights = scaled_dot_product_attention(x[1:2] @ W_q, x @ W_k, x @ W_v)
    >>> weights
    tensor([[0.1704, 0.1611, 0.1652, 0.1412, 0.2505, 0.1117]])
    >>> context
    tensor([[0.2854, 0.4081]])

    A padded batch: the second sequence has one real token, so its padding
    queries see no key at all and get zeros:

    >>> from attention_examples import padding_mask
    >>> x = torch.ones(2, 3, 4)
    >>> pad = padding_mask([3, 1])  # (b, T_k), True at padding
    >>> mask = pad[:, None, :] | pad[:, :, None]  # hide padded keys, and padded queries' rows
    >>> context, weights = scaled_dot_product_attention(x, x, x, mask)
    >>> weights[1]
    tensor([[1., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.]])
    """
    batch = check_attention_inputs(query, key, value)
    if mask is not None:
        scores_shape = (*batch, query.shape[-2], key.shape[-2])
        check_bool_mask("mask", mask, scores_shape)
        if mask.device != query.device:
            raise ValueError(f"mask: expected a tensor on {query.device}, got one on {mask.device}")
    check_callable("dropout", dropout, "a callable such as nn.Dropout(p)")
    return attend(query, key, value, mask, dropout)


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout: Dropout | None) -> Pair:
    """:func:`scaled_dot_product_attention` without its checks: the formula alone.

    The attention modules call it with the tensors their ``forward`` has checked.
    """
    d_k = k.shape[-1]
    # Scaling the queries instead of the scores gives the same numbers with T_q * d_k
    # multiplications instead of T_q * T_k.
    scores = (q / d_k**0.5) @ k.mT  # (..., T_q, d_k) @ (..., d_k, T_k) -> (..., T_q, T_k)
    weights = masked_softmax_(scores, mask)  # (..., T_q, T_k), rows sum to 1
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights  # (..., T_q, T_k) @ (..., T_k, d_v) -> (..., T_q, d_v)


def qkv_projections(d_in: int, d_out: int, bias: bool) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    """The query, key and value projections, ``nn.Linear(d_in, d_out)``, in that order."""
    check_bool("qkv_bias", bias)
    return tuple(nn.Linear(d_in, d_out, bias=bias) for _ in range(3))  # type: ignore[return-value]


_INITS: dict[str, Callable[..., Tensor]] = {"rand": torch.rand, "randn": torch.randn}


class _SelfAttention(nn.Module):
    """What both versions share: checks, projections, attention. They differ in how
    they hold the three weight matrices, so each defines :meth:`project`."""

    d_in: int
    d_out: int
    __call__: OneInputCall  # for type checkers: module(x) gives a Tensor (_call_types)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor, return_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Attend over the tokens of ``x``.

        Args:
            x: (T, d_in) or (b, T, d_in) the token embeddings.
            return_weights: also return the (…, T, T) attention weights.

        Returns:
            (…, T, d_out) the context vectors, and the weights if asked.
        """
        check_bool("return_weights", return_weights)
        x = check_tensor("x", x, ndim=(2, 3), last_dim=self.d_in)
        queries, keys, values = self.project(x)  # 3 x (…, T, d_in) -> (…, T, d_out)
        context, weights = attend(queries, keys, values, None, None)  # (…, T, d_out), (…, T, T)
        return (context, weights) if return_weights else context

    def extra_repr(self) -> str:
        return f"d_in={self.d_in}, d_out={self.d_out}"


class SelfAttentionV1(_SelfAttention):
    """Self-attention with three weight matrices held as ``nn.Parameter``.

    ``queries = x @ W_query``, and likewise for keys and values; then scaled
    dot-product attention over all tokens.

    Args:
        d_in: size of each input embedding.
        d_out: size of each query, key, value and output vector.
        init: how to draw the weights: ``"rand"`` (uniform in [0, 1), seed 004)
            or ``"randn"`` (standard normal, seed 003). Drawn in the order
            query, key, value.

    Shape:
        ``x``: (T, d_in) or (b, T, d_in) -> (T, d_out) or (b, T, d_out).

    Example (seed 004, ``torch.rand`` weights):

    >>> from attention_examples import journey_inputs
    >>> _ = torch.manual_seed(123)
    >>> sa_v1 = SelfAttentionV1(d_in=3, d_out=2)
    >>> sa_v1(journey_inputs())
    tensor([[0.2996, 0.8053],
            [0.3061, 0.8210],
            [0.3058, 0.8203],
            [0.2948, 0.7939],
            [0.2927, 0.7891],
            [0.2990, 0.8040]], grad_fn=<MmBackward0>)

    Seed 003 draws from a normal distribution instead:

    >>> _ = torch.manual_seed(123)
    >>> SelfAttentionV1(3, 2, init="randn")(journey_inputs())[0]
    tensor([0.2845, 0.4071], grad_fn=<SelectBackward0>)
    """

    def __init__(self, d_in: int, d_out: int, init: Literal["rand", "randn"] = "rand") -> None:
        super().__init__()
        self.d_in = d_in = check_positive_int("d_in", d_in)
        self.d_out = d_out = check_positive_int("d_out", d_out)
        if not isinstance(init, str) or init not in _INITS:
            raise ValueError(f"init: expected 'rand' or 'randn', got {describe(init)}")
        draw = _INITS[init]
        self.W_query = nn.Parameter(draw(d_in, d_out))
        self.W_key = nn.Parameter(draw(d_in, d_out))
        self.W_value = nn.Parameter(draw(d_in, d_out))

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The queries, keys and values of the tokens: ``x @ W`` for each matrix."""
        check_input_matches("x", x, self.W_query)
        return x @ self.W_query, x @ self.W_key, x @ self.W_value  # (…, T, d_out) each


class SelfAttentionV2(_SelfAttention):
    """Self-attention with the three projections as ``nn.Linear`` layers.

    ``nn.Linear`` initialises its weights uniformly in ±1/sqrt(d_in) (Kaiming-style),
    which keeps the scores small at the start of training, and can add a bias.
    The layers are created in the order query, key, value.

    Args:
        d_in: size of each input embedding.
        d_out: size of each query, key, value and output vector.
        qkv_bias: give the three projections a bias term.

    Shape:
        ``x``: (T, d_in) or (b, T, d_in) -> (T, d_out) or (b, T, d_out).

    Example (seed 003):

    >>> from attention_examples import journey_inputs
    >>> _ = torch.manual_seed(123)
    >>> sa_v2 = SelfAttentionV2(d_in=3, d_out=2)
    >>> sa_v2(journey_inputs())
    tensor([[-0.5337, -0.1051],
            [-0.5323, -0.1080],
            [-0.5323, -0.1079],
            [-0.5297, -0.1076],
            [-0.5311, -0.1066],
            [-0.5299, -0.1081]], grad_fn=<MmBackward0>)
    """

    def __init__(self, d_in: int, d_out: int, qkv_bias: bool = False) -> None:
        super().__init__()
        self.d_in = d_in = check_positive_int("d_in", d_in)
        self.d_out = d_out = check_positive_int("d_out", d_out)
        self.W_query, self.W_key, self.W_value = qkv_projections(d_in, d_out, qkv_bias)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The queries, keys and values of the tokens: one ``nn.Linear`` for each."""
        check_input_matches("x", x, self.W_query.weight)
        return self.W_query(x), self.W_key(x), self.W_value(x)  # (…, T, d_out) each


def transfer_weights(source: SelfAttentionV2, target: SelfAttentionV1) -> SelfAttentionV1:
    """Copy a :class:`SelfAttentionV2`'s weights into a :class:`SelfAttentionV1`.

    ``nn.Linear`` stores its weight as (d_out, d_in) and computes ``x @ weight.T``,
    so V1's (d_in, d_out) matrices receive the transposes. Afterwards both modules
    compute the same function (seed 004's exercise).

    Args:
        source: the module whose weights are copied; must have no bias.
        target: the module that receives them, of the same d_in and d_out.

    Returns:
        ``target``, modified in place.

    >>> from attention_examples import journey_inputs
    >>> _ = torch.manual_seed(123)
    >>> v1, v2 = SelfAttentionV1(3, 2), SelfAttentionV2(3, 2)
    >>> v2(journey_inputs())[0]  # seed 004's sa_v2, created right after sa_v1
    tensor([0.5085, 0.3508], grad_fn=<SelectBackward0>)
    >>> torch.equal(transfer_weights(v2, v1)(journey_inputs()), v2(journey_inputs()))
    True
    """
    if not isinstance(source, SelfAttentionV2):
        raise TypeError(f"source: expected a SelfAttentionV2, got {type(source).__name__}")
    if not isinstance(target, SelfAttentionV1):
        raise TypeError(f"target: expected a SelfAttentionV1, got {type(target).__name__}")
    if (source.d_in, source.d_out) != (target.d_in, target.d_out):
        raise ValueError(
            f"target: expected d_in={source.d_in}, d_out={source.d_out} like the source, "
            f"got d_in={target.d_in}, d_out={target.d_out}"
        )
    if source.W_query.bias is not None:
        raise ValueError("source: has qkv_bias=True, but SelfAttentionV1 has no bias to copy into")
    with torch.no_grad():
        target.W_query.copy_(source.W_query.weight.T)
        target.W_key.copy_(source.W_key.weight.T)
        target.W_value.copy_(source.W_value.weight.T)
    return target
