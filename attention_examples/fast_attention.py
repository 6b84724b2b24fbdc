"""Fast attention: a fused kernel and a tiled online softmax.

Chapter: *Fast attention* (``docs/fast_attention.md``). Two ways to do the work of
:class:`~attention_examples.MultiHeadAttention` with less time or memory:

- :class:`FusedMultiHeadAttention` hands the attention itself to PyTorch's fused
  ``torch.nn.functional.scaled_dot_product_attention``;
- :func:`tiled_attention` computes exact attention block by block with an online
  softmax (the idea behind FlashAttention), never holding the ``T x T`` scores.

The third, decoding token by token with a key/value cache, is in
:mod:`attention_examples.kv_cache`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import (
    check_bool,
    check_bool_mask,
    check_positive_int,
    check_same_kind,
    check_tensor,
    describe,
)
from .masking import split_empty_rows
from .multihead_attention import MultiHeadAttention

__all__ = ["FusedMultiHeadAttention", "tiled_attention"]


class FusedMultiHeadAttention(MultiHeadAttention):
    """:class:`~attention_examples.MultiHeadAttention` with PyTorch's fused attention kernel.

    The parameters, their names, the checks, the projections and the output projection
    are the parent's, so the weights of a trained
    :class:`~attention_examples.MultiHeadAttention` load unchanged (:meth:`from_module`).
    Only the step ``softmax(Q K^T / sqrt(d_k)) V``, :meth:`attention`, differs: it
    is one call of ``torch.nn.functional.scaled_dot_product_attention``, which never
    returns the weights and, without a padding mask, is told ``is_causal=True`` so it
    can skip the blocks above the diagonal instead of computing and then hiding them.

    Args:
        d_in: size of each input embedding.
        d_out: total output size, split across the heads; divisible by num_heads.
        context_length: the longest sequence accepted.
        dropout: dropout probability on the attention weights (training mode only).
        num_heads: how many heads.
        qkv_bias: give the query, key and value projections a bias.
        window: if given, a sliding window of that many keys; the kernel is then
            given the mask instead of ``is_causal=True``.

    Shape:
        ``x``: (b, T, d_in) -> (b, T, d_out); (T, d_in) -> (T, d_out).

    Example: the same weights give the same outputs as the didactic class.

    >>> from attention_examples import MultiHeadAttention, journey_batch
    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)
    >>> fused = FusedMultiHeadAttention.from_module(mha)
    >>> fused(journey_batch()).shape
    torch.Size([2, 6, 2])
    >>> torch.allclose(fused(journey_batch()), mha(journey_batch()), atol=1e-6)
    True
    """

    @classmethod
    def from_module(cls, module: MultiHeadAttention) -> FusedMultiHeadAttention:
        """A fused copy of ``module``: same sizes, dropout, and a copy of its weights.

        Args:
            module: a :class:`~attention_examples.MultiHeadAttention`.

        Returns:
            A new :class:`FusedMultiHeadAttention` on the same device, with the same
            dtype and in the same training mode.
        """
        if not isinstance(module, MultiHeadAttention):
            raise TypeError(f"module: expected a MultiHeadAttention, got {describe(module)}")
        fused = cls(
            module.d_in,
            module.d_out,
            module.context_length,
            module.dropout.p,
            module.num_heads,
            qkv_bias=module.W_query.bias is not None,
            window=module.window,
        )
        weight = module.W_query.weight
        fused = fused.to(device=weight.device, dtype=weight.dtype)
        fused.load_state_dict(module.state_dict())
        return fused.train(module.training)

    def attention(
        self,
        queries: Tensor,
        keys: Tensor,
        values: Tensor,
        key_padding_mask: Tensor | None,
        need_weights: bool,
    ) -> tuple[Tensor, Tensor | None]:
        """Causal attention of every head in PyTorch's fused kernel (no weights formed).

        Asked for the weights, which the kernel never forms, it runs the parent's
        step-by-step computation instead.

        Args:
            queries, keys, values: (b, num_heads, T, head_dim) each.
            key_padding_mask: None, or (b, T) True at padding tokens.
            need_weights: whether the caller returns the weights.

        Returns:
            ``(context, weights)``: (b, num_heads, T, head_dim), and the weights or None.
        """
        if need_weights:
            return super().attention(queries, keys, values, key_padding_mask, need_weights)
        dropout_p = self.dropout.p if self.training else 0.0
        if key_padding_mask is None and self.window is None:
            # causal only: the kernel skips the blocks of the future
            return F.scaled_dot_product_attention(
                queries, keys, values, dropout_p=dropout_p, is_causal=True
            ), None
        hidden = self.hidden_keys(queries, key_padding_mask)  # (T, T) or (b, 1, T, T)
        hidden, sees_nothing = split_empty_rows(hidden)  # and (T, 1) or (b, 1, T, 1)
        # PyTorch's boolean attn_mask marks the keys that *take part*: the opposite.
        context = F.scaled_dot_product_attention(
            queries, keys, values, attn_mask=~hidden, dropout_p=dropout_p
        )
        return context.masked_fill(sees_nothing, 0.0), None


def block_kind(q_start: int, q_end: int, k_start: int, k_end: int, offset: int) -> str:
    """What a causal kernel does with queries ``[q_start, q_end)`` and keys ``[k_start, k_end)``.

    Query ``i`` sees key ``j`` when ``j <= i + offset``, with ``offset = T_k - T_q``
    (bottom-right alignment: the last query sees every key). The block is
    ``"skipped"`` when no query of it sees any of its keys, ``"masked"`` when some
    see and some do not (the boundary crosses it), else ``"computed"`` in full.

    >>> [block_kind(0, 2, k, k + 2, offset=0) for k in (0, 2)]
    ['masked', 'skipped']
    >>> block_kind(0, 2, 0, 2, offset=2)  # two more keys than queries: all seen
    'computed'
    """
    if k_start > q_end - 1 + offset:  # even the block's last query sees none of its keys
        return "skipped"
    if k_end - 1 > q_start + offset:  # its first query misses the block's last key
        return "masked"
    return "computed"


def tiled_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    block_size: int = 128,
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
) -> Tensor:
    """Exact attention computed block by block with an online softmax; it also trains.

    The queries are cut into blocks of ``block_size`` rows; each query block visits
    the keys and values ``block_size`` at a time and keeps, per query, a running
    maximum ``m`` of its scores, a running sum ``l`` of ``exp(score - m)`` and a
    running weighted sum of values. When a block raises the maximum, the old sums
    are rescaled by ``exp(m_old - m_new)``; at the end ``context = sum / l``. At no
    time is more than a ``block_size x block_size`` piece of the scores held, so
    the extra memory grows with ``T`` (the output), not ``T^2``.

    Like FlashAttention, the forward pass saves only the output and, per query, the
    log-sum-exp ``m + log(l)`` of its scores; the backward pass recomputes each
    block's weights from them, ``P = exp(S - lse)``, and accumulates the gradients
    block by block (FlashAttention-2's backward), so training needs no ``T x T``
    tensor either.

    With ``causal=True`` the alignment is bottom right: query ``i`` sees keys
    ``j <= i + T_k - T_q``, as in a decoding or chunked-prefill step whose queries
    are the last ``T_q`` tokens. Key blocks wholly in a query block's future are
    skipped, and only the blocks the boundary crosses are masked
    (:func:`block_kind`). Padding keys (``key_padding_mask``) are hidden from every
    query; a query that sees no key at all gets a zero context vector, as in
    :func:`~attention_examples.scaled_dot_product_attention`.

    Args:
        query: (..., T_q, d_k) one query per row.
        key: (..., T_k, d_k) one key per row; same leading dimensions as ``query``.
        value: (..., T_k, d_v) one value per key.
        block_size: rows per query block and per key block.
        causal: query ``i`` sees only keys ``j <= i + T_k - T_q`` (needs ``T_q <= T_k``).
        key_padding_mask: None, or a boolean tensor that broadcasts to (..., T_k), True
            at padding keys: (b, 1, T_k) for (b, heads, T, d) inputs.

    Returns:
        (..., T_q, d_v) the context vectors, equal to
        :func:`~attention_examples.scaled_dot_product_attention`'s up to rounding,
        with gradients for ``query``, ``key`` and ``value`` when they require them.
        The weights are never formed, so they are not returned.

    >>> _ = torch.manual_seed(0)
    >>> q, k, v = torch.randn(3, 2, 10, 4, dtype=torch.float64).unbind(0)  # (2, 10, 4) each
    >>> q.requires_grad_()
    tensor(...)
    >>> context = tiled_attention(q, k, v, block_size=3, causal=True)
    >>> context.shape
    torch.Size([2, 10, 4])
    >>> expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> torch.allclose(context, expected)
    True
    >>> (grad,) = torch.autograd.grad(context.sum(), q)
    >>> (expected_grad,) = torch.autograd.grad(expected.sum(), q)
    >>> torch.allclose(grad, expected_grad)
    True
    """
    query = check_tensor("query", query, ndim=range(2, 9))
    key = check_tensor("key", key, ndim=range(2, 9), last_dim=query.shape[-1], last_dim_name="d_k")
    value = check_tensor("value", value, ndim=range(2, 9))
    if key.shape[:-2] != query.shape[:-2] or value.shape[:-2] != query.shape[:-2]:
        raise ValueError(
            "query, key, value: expected the same leading dimensions, got shapes "
            f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(
            f"value: expected one value per key ({key.shape[-2]} rows), "
            f"got shape {tuple(value.shape)}"
        )
    check_same_kind("query, key, value", query, key, value)
    block_size = check_positive_int("block_size", block_size)
    check_bool("causal", causal)
    num_queries, num_keys = query.shape[-2], key.shape[-2]
    if key_padding_mask is not None:
        key_padding_mask = check_bool_mask(
            "key_padding_mask", key_padding_mask, (*query.shape[:-2], num_keys)
        )
        if key_padding_mask.device != key.device:
            raise ValueError(
                f"key, key_padding_mask: expected one device, got {key.device}, "
                f"{key_padding_mask.device}; move them with .to(device)"
            )
    if causal and num_queries > num_keys:
        raise ValueError(
            "causal: needs at most as many queries as keys (query i sees the keys up to "
            f"i + T_k - T_q), got {num_queries} queries and {num_keys} keys"
        )
    context: Tensor = _TiledAttention.apply(  # type: ignore[no-untyped-call]
        query, key, value, block_size, causal, key_padding_mask
    )
    return context


def _scores(
    q_block: Tensor,
    key: Tensor,
    q_start: int,
    k_start: int,
    kind: str,
    offset: int,
    padding: Tensor | None,
) -> Tensor:
    """One block of scaled scores, with -inf where a query may not look.

    ``padding``: None, or (..., Bk) True at the padding keys of the block.
    """
    scores = q_block @ key.transpose(-2, -1)  # (..., Bq, d_k) @ (..., d_k, Bk) -> (..., Bq, Bk)
    if kind == "masked":
        rows = torch.arange(q_start, q_start + q_block.shape[-2], device=key.device)[:, None]
        cols = torch.arange(k_start, k_start + key.shape[-2], device=key.device)[None, :]
        scores = scores.masked_fill(cols > rows + offset, -math.inf)
    if padding is not None:
        scores = scores.masked_fill(padding[..., None, :], -math.inf)  # hide from every query
    return scores


def _key_blocks(
    q_start: int, q_end: int, num_keys: int, offset: int, size: int, causal: bool
) -> Iterator[tuple[int, int, str]]:
    """Yield (k_start, k_end, kind) for the key blocks a query block visits, in order."""
    for k_start in range(0, num_keys, size):
        k_end = min(k_start + size, num_keys)
        kind = block_kind(q_start, q_end, k_start, k_end, offset) if causal else "computed"
        if kind == "skipped":  # this and every later key block lie in the future
            return
        yield k_start, k_end, kind


class _TiledAttention(torch.autograd.Function):
    """The forward and backward passes of :func:`tiled_attention`, block by block."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        block_size: int,
        causal: bool,
        padding: Tensor | None,
    ) -> Tensor:
        num_queries, num_keys = query.shape[-2], key.shape[-2]
        offset, scale = num_keys - num_queries, 1.0 / math.sqrt(query.shape[-1])
        output = query.new_empty(*query.shape[:-1], value.shape[-1])  # (..., T_q, d_v)
        lse = query.new_empty(*query.shape[:-1], 1)  # log-sum-exp per query: (..., T_q, 1)
        for q_start in range(0, num_queries, block_size):
            q_end = min(q_start + block_size, num_queries)
            q_block = query[..., q_start:q_end, :] * scale  # (..., Bq, d_k), scaled once
            row_max = query.new_full((*q_block.shape[:-1], 1), -math.inf)  # m: (..., Bq, 1)
            row_sum = query.new_zeros(row_max.shape)  # l: (..., Bq, 1)
            acc = query.new_zeros(*q_block.shape[:-1], value.shape[-1])  # (..., Bq, d_v)
            for k_start, k_end, kind in _key_blocks(
                q_start, q_end, num_keys, offset, block_size, causal
            ):
                pad = None if padding is None else padding[..., k_start:k_end]
                scores = _scores(
                    q_block, key[..., k_start:k_end, :], q_start, k_start, kind, offset, pad
                )
                new_max = torch.maximum(row_max, scores.amax(dim=-1, keepdim=True))
                # A query that has seen no key yet keeps m = -inf; subtract 0 instead.
                shift = torch.where(new_max == -math.inf, 0.0, new_max)
                rescale = torch.exp(row_max - shift)  # exp(-inf) = 0 at the first block
                p = torch.exp(scores - shift)  # (..., Bq, Bk), each at most 1
                row_sum = row_sum * rescale + p.sum(dim=-1, keepdim=True)
                acc = acc * rescale + p @ value[..., k_start:k_end, :]  # -> (..., Bq, d_v)
                row_max = new_max
            # A query that saw no key (l = 0) gets a zero context and lse = +inf, so that
            # the backward pass recomputes its weights as exp(s - inf) = 0.
            unseen = row_sum == 0  # (NaN in gives NaN out: NaN == 0 is False)
            output[..., q_start:q_end, :] = torch.where(unseen, 0.0, acc / row_sum)
            lse[..., q_start:q_end, :] = torch.where(unseen, math.inf, row_max + torch.log(row_sum))
        ctx.save_for_backward(query, key, value, output, lse)
        ctx.block_size, ctx.causal = block_size, causal  # type: ignore[attr-defined]
        ctx.padding = padding  # type: ignore[attr-defined]  # a mask: no gradient to save it for
        return output

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_output: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, None, None, None]:
        query, key, value, output, lse = ctx.saved_tensors  # type: ignore[attr-defined]
        padding = ctx.padding  # type: ignore[attr-defined]
        # The gradient of a sum arrives expanded (stride 0): matrix products would copy it.
        grad_output = grad_output.contiguous()
        num_queries, num_keys = query.shape[-2], key.shape[-2]
        offset, scale = num_keys - num_queries, 1.0 / math.sqrt(query.shape[-1])
        grad_query, grad_key, grad_value = (torch.zeros_like(t) for t in (query, key, value))
        delta = (grad_output * output).sum(dim=-1, keepdim=True)  # rowsum(dO * O): (..., T_q, 1)
        size, causal = ctx.block_size, ctx.causal  # type: ignore[attr-defined]
        for q_start in range(0, num_queries, size):  # as in forward: query blocks outside
            q_end = min(q_start + size, num_queries)
            q_block = query[..., q_start:q_end, :]  # (..., Bq, d_k)
            d_out = grad_output[..., q_start:q_end, :]  # dO: (..., Bq, d_v)
            for k_start, k_end, kind in _key_blocks(q_start, q_end, num_keys, offset, size, causal):
                k_block = key[..., k_start:k_end, :]  # (..., Bk, d_k)
                pad = None if padding is None else padding[..., k_start:k_end]
                scores = _scores(q_block * scale, k_block, q_start, k_start, kind, offset, pad)
                p = torch.exp(
                    scores - lse[..., q_start:q_end, :]
                )  # the weights again: (.., Bq, Bk)
                grad_value[..., k_start:k_end, :] += p.transpose(-2, -1) @ d_out  # dV += P^T dO
                d_p = d_out @ value[..., k_start:k_end, :].transpose(-2, -1)  # dP = dO V^T
                d_s = p * (d_p - delta[..., q_start:q_end, :])  # dS = P * (dP - rowsum(dO * O))
                grad_query[..., q_start:q_end, :] += (d_s @ k_block) * scale  # dQ += dS K scale
                grad_key[..., k_start:k_end, :] += (d_s.transpose(-2, -1) @ q_block) * scale
        return grad_query, grad_key, grad_value, None, None, None
