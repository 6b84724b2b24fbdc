"""Causal attention: each token attends only to itself and the tokens before it.

Chapter: *Causal attention* (``docs/causal_attention.md``), after seed 004.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._call_types import SelfAttentionCall
from ._checks import (
    check_bool_mask,
    check_dropout,
    check_module_input,
    check_positive_int,
    check_same_kind,
    check_square,
    check_window,
)
from .masking import causal_mask, causal_or_sliding_mask
from .self_attention import attend, qkv_projections

__all__ = [
    "CausalAttention",
    "combine_masks",
    "mask_after_softmax",
    "mask_before_softmax",
]


def mask_after_softmax(weights: Tensor) -> Tensor:
    """Method 1: zero the future in softmaxed weights, then renormalise each row.

    Renormalising gives exactly ``softmax`` over the unmasked scores, because the
    masked entries' share of the denominator cancels: for the kept ``j <= i``,
    ``(e^{s_j} / Z) / (sum_{k<=i} e^{s_k} / Z) = e^{s_j} / sum_{k<=i} e^{s_k}``.

    Args:
        weights: (..., T, T) non-negative attention weights (softmax output);
            raw scores, which can be negative, are masked with :func:`mask_before_softmax`.

    Returns:
        (..., T, T) causal weights: zero above the diagonal, rows summing to 1
        (a row with no weight left on or below the diagonal stays all zero).

    >>> w = torch.full((3, 3), 1 / 3)
    >>> mask_after_softmax(w)
    tensor([[1.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.0000],
            [0.3333, 0.3333, 0.3333]])
    """
    weights = check_square("weights", weights)
    keep = ~causal_mask(weights.shape[-1], device=weights.device)  # lower triangle, diagonal in
    masked = weights * keep
    row_sums = masked.sum(dim=-1, keepdim=True)
    # Dividing by a zero row sum would give NaN; such a row has nothing to renormalise.
    return torch.where(
        row_sums == 0, 0.0, masked / row_sums.clamp_min(torch.finfo(masked.dtype).tiny)
    )


def mask_before_softmax(scores: Tensor, d_k: int) -> Tensor:
    """Method 2: set future scores to ``-inf``, then take the scaled softmax.

    ``exp(-inf) = 0``, so the future gets weight exactly 0 in a single softmax;
    this is what :class:`CausalAttention` does.

    Args:
        scores: (..., T, T) unscaled attention scores ``Q @ K^T``.
        d_k: the keys' dimension, for the ``1 / sqrt(d_k)`` scaling.

    Returns:
        (..., T, T) causal weights: zero above the diagonal, rows summing to 1.

    >>> mask_before_softmax(torch.zeros(3, 3), d_k=2)
    tensor([[1.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.0000],
            [0.3333, 0.3333, 0.3333]])
    """
    scores = check_square("scores", scores)
    d_k = check_positive_int("d_k", d_k)
    masked = scores.masked_fill(causal_mask(scores.shape[-1], device=scores.device), -torch.inf)
    return torch.softmax(masked / d_k**0.5, dim=-1)


def combine_masks(
    causal: Tensor | None, key_padding_mask: Tensor | None, batch_size: int, num_tokens: int
) -> Tensor | None:
    """Merge a (T, T) causal mask and a (b, T) key padding mask into one boolean mask.

    Args:
        causal: (T, T) True above the diagonal, or None.
        key_padding_mask: (b, T) True at padded keys, or None.
        batch_size: b, to check the padding mask against.
        num_tokens: T, to check the padding mask against.

    Returns:
        None if both are None, else a mask broadcastable to (b, T, T):
        True wherever either mask hides the key.

    >>> combine_masks(causal_mask(2), torch.tensor([[False, True]]), 1, 2)
    tensor([[[False,  True],
             [False,  True]]])
    """
    batch_size = check_positive_int("batch_size", batch_size)
    num_tokens = check_positive_int("num_tokens", num_tokens)
    for name, mask, shape in (
        ("causal", causal, (num_tokens, num_tokens)),
        ("key_padding_mask", key_padding_mask, (batch_size, num_tokens)),
    ):
        if mask is not None and tuple(check_bool_mask(name, mask, shape).shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(mask.shape)}")
    if key_padding_mask is None:
        return causal
    padding = key_padding_mask[:, None, :]  # (b, T) -> (b, 1, T): hide the key from every query
    if causal is None:
        return padding
    check_same_kind("causal, key_padding_mask", causal, key_padding_mask)
    return causal | padding  # (T, T) | (b, 1, T) -> (b, T, T)


def as_batch(x: Tensor, key_padding_mask: Tensor | None) -> tuple[Tensor, Tensor | None, bool]:
    """Give an unbatched (T, d_in) input, and its (T,) mask, a batch axis of one."""
    if x.ndim == 3:
        return x, key_padding_mask, False
    return x[None], None if key_padding_mask is None else key_padding_mask[None], True


def results(
    output: Tensor, weights: Tensor | None, unbatched: bool, return_weights: bool
) -> Tensor | tuple[Tensor, Tensor]:
    """What a module's ``forward`` returns: the output, and the weights if asked."""
    if not return_weights or weights is None:
        return output[0] if unbatched else output
    return (output[0], weights[0]) if unbatched else (output, weights)


class CausalAttention(nn.Module):
    """Batched single-head causal self-attention with dropout on the weights.

    The causal mask is a buffer, so it moves with ``.to(device)``; it is built
    once for ``context_length`` tokens and cut to the input's length.

    Args:
        d_in: size of each input embedding.
        d_out: size of each output vector.
        context_length: the longest sequence the module accepts.
        dropout: probability in [0, 1) of zeroing an attention weight in training;
            the kept weights are scaled by 1 / (1 - dropout).
        qkv_bias: give the query, key and value projections a bias.
        window: if given, each query sees only itself and the ``window - 1`` tokens
            before it (:func:`~attention_examples.sliding_window_mask`).

    Shape:
        ``x``: (b, T, d_in) -> (b, T, d_out), with T <= context_length. An unbatched
        (T, d_in) input gives a (T, d_out) output, as in ``torch.nn.MultiheadAttention``.

    Padding: ``key_padding_mask`` (b, T), True at padding tokens, hides those keys
    from every query (:func:`~attention_examples.padding_mask` builds one from the
    lengths). A query that sees no key at all gets a zero vector, never NaN.

    Example (seed 004):

    >>> from attention_examples import journey_batch
    >>> _ = torch.manual_seed(123)
    >>> ca = CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.0)
    >>> context_vecs = ca(journey_batch())
    >>> context_vecs.shape
    torch.Size([2, 6, 2])
    >>> context_vecs[0]
    tensor([[-0.4519,  0.2216],
            [-0.5874,  0.0058],
            [-0.6300, -0.0632],
            [-0.5675, -0.0843],
            [-0.5526, -0.0981],
            [-0.5299, -0.1081]], grad_fn=<SelectBackward0>)

    Causal means a token's output does not depend on the tokens after it:

    >>> x = journey_batch()
    >>> y = x.clone()
    >>> y[:, 4:] = 0.0  # change the last two tokens
    >>> torch.equal(ca(x)[:, :4], ca(y)[:, :4])
    True
    """

    d_in: int
    d_out: int
    context_length: int
    W_query: nn.Linear
    W_key: nn.Linear
    W_value: nn.Linear
    dropout: nn.Dropout
    mask: Tensor
    __call__: SelfAttentionCall  # for type checkers: module(x) gives a Tensor (_call_types)
    # The formula: softmax(q k^T / sqrt(d_k)) v on the unmasked keys (GroupedQueryAttention
    # swaps in the version whose query heads share key/value heads).
    attend = staticmethod(attend)

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        qkv_bias: bool = False,
        *,
        window: int | None = None,
    ) -> None:
        super().__init__()
        self.d_in = check_positive_int("d_in", d_in)
        self.d_out = check_positive_int("d_out", d_out)
        self.context_length = check_positive_int("context_length", context_length)
        self.window = check_window(window)
        self.W_query, self.W_key, self.W_value = qkv_projections(d_in, d_out, qkv_bias)
        self.dropout = nn.Dropout(check_dropout(dropout))
        # A buffer moves with .to(device); not saved in state_dict(): rebuilt from the sizes.
        mask = causal_or_sliding_mask(context_length, self.window)
        self.register_buffer("mask", mask, persistent=False)

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Attend causally over the tokens of ``x``: project, attend, merge.

        Args:
            x: (b, T, d_in) or (T, d_in) the token embeddings.
            key_padding_mask: optional (b, T) boolean, True at padding tokens
                (or (T,) for unbatched input); no query attends to them.
            return_weights: also return the attention weights, (b, T, T) here and
                (b, num_heads, T, T) in the multi-head subclasses.

        Returns:
            (b, T, d_out) the context vectors ((T, d_out) for unbatched input), and
            the weights if asked.
        """
        x, key_padding_mask = check_module_input(self, x, key_padding_mask, return_weights)
        x, key_padding_mask, unbatched = as_batch(x, key_padding_mask)  # (b, T, d_in)
        queries, keys, values = self.project(x)
        context, weights = self.attention(queries, keys, values, key_padding_mask, return_weights)
        return results(self.merge(context), weights, unbatched, return_weights)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The queries, keys and values of the tokens: (b, T, d_in) -> (b, T, d_out) each."""
        return self.W_query(x), self.W_key(x), self.W_value(x)

    def attention(
        self,
        queries: Tensor,
        keys: Tensor,
        values: Tensor,
        key_padding_mask: Tensor | None,
        need_weights: bool,
    ) -> tuple[Tensor, Tensor | None]:
        """Scaled dot-product attention under the causal mask (and the padding mask).

        Args:
            queries, keys, values: (b, T, d) each, or (b, heads, T, d) split into heads.
            key_padding_mask: None, or (b, T) True at padding tokens.
            need_weights: whether the caller returns the weights (always formed here).

        Returns:
            ``(context, weights)``: (..., T, d) and (..., T, T).
        """
        mask = self.hidden_keys(queries, key_padding_mask)  # broadcasts to (..., T, T)
        return self.attend(queries, keys, values, mask, self.dropout)

    def hidden_keys(self, queries: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        """What each query may not see: the keys after it, and padding keys.

        Returns:
            (T, T) the causal mask, or with padding (b, 1, T, T) for queries split into
            heads and (b, T, T) otherwise.
        """
        num_tokens = queries.shape[-2]
        future = self.mask[:num_tokens, :num_tokens]  # (T, T), True above the diagonal
        if key_padding_mask is None:
            return future
        # (b, T) -> (b, 1, T), or (b, 1, 1, T) with heads: hide the key from every query
        padding = key_padding_mask.view(len(queries), *[1] * (queries.ndim - 2), num_tokens)
        return future | padding

    def merge(self, context: Tensor) -> Tensor:
        """The module's output from the context vectors: here, the context vectors."""
        return context
