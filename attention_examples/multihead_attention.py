"""Multi-head attention: several causal attention heads side by side.

Chapter: *Multi-head attention* (``docs/multihead_attention.md``). The seeds name
multi-head attention in their outline but stop before it; the two classes here
follow the form readers of the seeds' source book know.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._call_types import SelfAttentionCall
from ._checks import check_bool, check_positive_int
from .causal_attention import CausalAttention

__all__ = ["MultiHeadAttention", "MultiHeadAttentionWrapper"]


class MultiHeadAttentionWrapper(nn.Module):
    """``num_heads`` independent :class:`CausalAttention` heads, outputs concatenated.

    Simple and slow: each head runs its own three projections. There is no output
    projection, so the result has ``d_out * num_heads`` columns.

    Args:
        d_in: size of each input embedding.
        d_out: output size of *each* head.
        context_length: the longest sequence accepted.
        dropout: dropout probability on each head's attention weights.
        num_heads: how many heads.
        qkv_bias: give the projections a bias.

    Shape:
        ``x``: (b, T, d_in) -> (b, T, d_out * num_heads); an unbatched (T, d_in)
        input gives (T, d_out * num_heads), as in ``torch.nn.MultiheadAttention``.
        T <= context_length. ``key_padding_mask``: (b, T), or (T,) unbatched;
        True at padding tokens.

    Example (the source book's wrapper with two heads):

    >>> from attention_examples import journey_batch
    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.0, num_heads=2)
    >>> context_vecs = mha(journey_batch())
    >>> context_vecs.shape
    torch.Size([2, 6, 4])
    >>> context_vecs[0]
    tensor([[-0.4519,  0.2216,  0.4772,  0.1063],
            [-0.5874,  0.0058,  0.5891,  0.3257],
            [-0.6300, -0.0632,  0.6202,  0.3860],
            [-0.5675, -0.0843,  0.5478,  0.3589],
            [-0.5526, -0.0981,  0.5321,  0.3428],
            [-0.5299, -0.1081,  0.5077,  0.3493]], grad_fn=<SelectBackward0>)
    """

    __call__: SelfAttentionCall  # for type checkers: module(x) gives a Tensor (_call_types)

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads = check_positive_int("num_heads", num_heads)
        self.heads = nn.ModuleList(
            CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
            for _ in range(num_heads)
        )
        first = self.heads[0]  # the heads have checked the sizes
        self.d_in, self.d_out, self.context_length = first.d_in, first.d_out, first.context_length

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Run every head on ``x`` and concatenate their outputs along the last dimension.

        The arguments are those of :meth:`CausalAttention.forward`; the weights of the
        heads come stacked as (b, num_heads, T, T) ((num_heads, T, T) unbatched).
        """
        check_bool("return_weights", return_weights)
        heads = [head(x, key_padding_mask, return_weights=True) for head in self.heads]
        context = torch.cat(
            [c for c, _ in heads], dim=-1
        )  # heads x (b, T, d_out) -> (b, T, heads * d_out)
        if not return_weights:
            return context
        return context, torch.stack([w for _, w in heads], dim=-3)  # -> (b, heads, T, T)


class MultiHeadAttention(CausalAttention):
    """Efficient multi-head causal attention: one projection each for Q, K and V, split.

    A :class:`~attention_examples.CausalAttention` whose :meth:`project` splits the
    queries, keys and values into heads and whose :meth:`merge` joins the heads again
    and mixes them; its ``forward`` and its masked attention are the parent's.

    The ``d_out`` columns of each projection are cut into ``num_heads`` heads of
    ``head_dim = d_out // num_heads`` columns; all heads attend in one batched
    product, then an output projection ``Linear(d_out, d_out)`` mixes them.

    Args:
        d_in: size of each input embedding.
        d_out: total output size, split across the heads; divisible by num_heads.
        context_length: the longest sequence accepted.
        dropout: dropout probability on the attention weights.
        num_heads: how many heads.
        qkv_bias: give the query, key and value projections a bias.
        window: if given, each query sees only itself and the ``window - 1`` tokens
            before it (:func:`~attention_examples.sliding_window_mask`).

    Shape:
        ``x``: (b, T, d_in) -> (b, T, d_out); an unbatched (T, d_in) input gives
        (T, d_out), as in ``torch.nn.MultiheadAttention``. T <= context_length.
        ``key_padding_mask``: (b, T), or (T,) unbatched; True at padding tokens.
        A query that sees no key at all gets all-zero weights and a zero context,
        so its output is ``out_proj``'s bias alone, never NaN.

    With ``d_in == d_out`` it computes what ``torch.nn.MultiheadAttention(d_out,
    num_heads, batch_first=True)`` computes with ``attn_mask=causal_mask(T)``, once
    that module's ``in_proj_weight`` holds the weights of ``W_query``, ``W_key`` and
    ``W_value`` stacked in that order and its ``out_proj`` holds ``out_proj`` (the
    tests check this).

    Example (the source book's efficient class, same seed and sizes):

    >>> from attention_examples import journey_batch
    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)
    >>> context_vecs = mha(journey_batch())
    >>> context_vecs.shape
    torch.Size([2, 6, 2])
    >>> context_vecs[0]
    tensor([[0.3190, 0.4858],
            [0.2943, 0.3897],
            [0.2856, 0.3593],
            [0.2693, 0.3873],
            [0.2639, 0.3928],
            [0.2575, 0.4028]], grad_fn=<SelectBackward0>)
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
        *,
        window: int | None = None,
    ) -> None:
        num_heads = check_positive_int("num_heads", num_heads)
        if check_positive_int("d_out", d_out) % num_heads:
            raise ValueError(
                f"d_out: must be divisible by num_heads={num_heads} to split it into heads, "
                f"got d_out={d_out}"
            )
        super().__init__(d_in, d_out, context_length, dropout, qkv_bias, window=window)
        self.num_heads, self.head_dim = num_heads, d_out // num_heads
        self.num_kv_heads = num_heads  # each query head has its own key/value head
        self.out_proj = nn.Linear(d_out, d_out)  # mixes the heads

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The queries, keys and values of ``x``, each split into heads.

        Args:
            x: (b, T, d_in) the token embeddings.

        Returns:
            ``(queries, keys, values)``: (b, num_heads, T, head_dim), then
            (b, num_kv_heads, T, head_dim) twice (``num_kv_heads = num_heads`` here;
            fewer in :class:`~attention_examples.GroupedQueryAttention`).
        """
        b, num_tokens, _ = x.shape
        queries, keys, values = super().project(x)  # (b, T, heads * head_dim), ...
        heads = (b, num_tokens, self.num_heads, self.head_dim)
        kv_heads = (b, num_tokens, self.num_kv_heads, self.head_dim)  # as many, except in GQA
        # (b, T, heads * head_dim) -> (b, T, heads, head_dim) -> (b, heads, T, head_dim)
        return (
            queries.view(heads).transpose(1, 2),
            keys.view(kv_heads).transpose(1, 2),
            values.view(kv_heads).transpose(1, 2),
        )

    def merge(self, context: Tensor) -> Tensor:
        """Put the heads side by side again and mix them: the output projection.

        Args:
            context: (b, num_heads, T, head_dim) every head's context vectors.

        Returns:
            (b, T, d_out) the module's output.
        """
        b, _, num_tokens, _ = context.shape
        context = context.transpose(1, 2)  # (b, heads, T, head_dim) -> (b, T, heads, head_dim)
        context = context.reshape(b, num_tokens, self.d_out)  # -> (b, T, d_out)
        output: Tensor = self.out_proj(context)
        return output
