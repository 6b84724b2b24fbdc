"""Attention as today's models run it: shared keys and values, sliding windows.

Chapter: *Attention in today's models* (``docs/grouped_attention.md``).

- :class:`GroupedQueryAttention`: groups of query heads share one key/value head
  (grouped-query attention; multi-query attention with a single key/value head), so
  the key/value cache of decoding shrinks by the size of a group.
- :func:`kv_cache_bytes` and :data:`MODEL_CONFIGS`: that cache's size for published
  models.
- :func:`reachable`: how far back a stack of sliding-window layers can see.
- :func:`plot_ring_buffer`: which position each slot of a sliding-window cache holds.

The sliding-window mask itself is :func:`~attention_examples.sliding_window_mask`; the
modules take it through their ``window`` option.

>>> [(c.name, c.num_heads, c.num_kv_heads) for c in MODEL_CONFIGS]
[('Llama 3 8B', 32, 8), ('Mistral 7B', 32, 8), ('Qwen2.5-7B', 28, 4)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor, nn

from ._checks import check_bool, check_positive_int, describe
from .masking import causal_or_sliding_mask, masked_softmax_
from .multihead_attention import MultiHeadAttention
from .plotting import axes_to_draw_on
from .self_attention import Dropout, Pair

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "MODEL_CONFIGS",
    "GroupedQueryAttention",
    "ModelConfig",
    "grouped_attend",
    "kv_cache_bytes",
    "plot_ring_buffer",
    "reachable",
]


def grouped_attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    dropout: Dropout | None = None,
) -> Pair:
    """Attention of ``H`` query heads over ``H_kv`` key/value heads, each shared by a group.

    Query head ``h`` uses key/value head ``h // (H / H_kv)``, as
    ``torch.nn.functional.scaled_dot_product_attention(..., enable_gqa=True)`` does.
    The keys and values are never copied per query head: the queries of a group are
    stacked as extra rows, so one matrix product per key/value head serves the whole
    group. Unchecked: the modules call it with tensors their ``forward`` has checked.

    Args:
        q: (b, H, T_q, head_dim) the queries.
        k: (b, H_kv, T_k, head_dim) the keys, with ``H`` divisible by ``H_kv``.
        v: (b, H_kv, T_k, head_dim_v) the values.
        mask: None, (T_q, T_k) or (b, 1, T_q, T_k) boolean, True = masked out.
        dropout: applied to the weights, if given.

    Returns:
        ``(context, weights)``: (b, H, T_q, head_dim_v) and (b, H, T_q, T_k).

    >>> q, k, v = torch.randn(1, 4, 3, 2), torch.randn(1, 2, 3, 2), torch.randn(1, 2, 3, 2)
    >>> context, weights = grouped_attend(q, k, v)
    >>> tuple(context.shape), tuple(weights.shape)
    ((1, 4, 3, 2), (1, 4, 3, 3))
    >>> expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    >>> torch.allclose(context, expected, atol=1e-6)
    True
    """
    b, num_heads, num_queries, head_dim = q.shape
    num_kv_heads, num_keys = k.shape[1], k.shape[2]
    group = num_heads // num_kv_heads
    if mask is not None and mask.ndim == 4:
        mask = mask[:, :, None]  # (b, 1, T_q, T_k) -> (b, 1, 1, T_q, T_k): every head, group
    # (b, H, T_q, d) -> (b, H_kv, g * T_q, d): a group's queries as rows of one matrix
    rows = q.reshape(b, num_kv_heads, group * num_queries, head_dim) / head_dim**0.5
    scores = rows @ k.mT  # (b, H_kv, g * T_q, d) @ (b, H_kv, d, T_k) -> (b, H_kv, g * T_q, T_k)
    scores = scores.view(b, num_kv_heads, group, num_queries, num_keys)  # (b, H_kv, g, T_q, T_k)
    weights = masked_softmax_(scores, mask)  # (b, H_kv, g, T_q, T_k), rows sum to 1
    if dropout is not None:
        weights = dropout(weights)
    context = weights.reshape(b, num_kv_heads, group * num_queries, num_keys) @ v
    # (b, H_kv, g * T_q, d_v) -> (b, H, T_q, d_v); (b, H_kv, g, T_q, T_k) -> (b, H, T_q, T_k)
    return context.view(b, num_heads, num_queries, -1), weights.flatten(1, 2)


class GroupedQueryAttention(MultiHeadAttention):
    """Multi-head causal attention whose query heads share key/value heads in groups.

    ``num_heads`` query heads, but only ``num_kv_heads`` key heads and value heads:
    each group of ``num_heads // num_kv_heads`` consecutive query heads attends with
    the same keys and values. ``num_kv_heads = num_heads`` is
    :class:`~attention_examples.MultiHeadAttention`; ``num_kv_heads = 1`` is
    multi-query attention. The key/value projections and the key/value cache shrink by
    the group size; the queries, the output projection and the call are unchanged.

    Args:
        d_in: size of each input embedding.
        d_out: total output size, split across the query heads; divisible by num_heads.
        context_length: the longest sequence accepted.
        dropout: dropout probability on the attention weights.
        num_heads: how many query heads.
        num_kv_heads: how many key/value heads; divides num_heads.
        qkv_bias: give the query, key and value projections a bias.
        window: if given, each query sees only itself and the ``window - 1`` tokens
            before it (:func:`~attention_examples.sliding_window_mask`).

    Shape:
        ``x``: (b, T, d_in) -> (b, T, d_out); (T, d_in) -> (T, d_out).
        ``W_query``: d_in -> d_out; ``W_key``, ``W_value``: d_in -> num_kv_heads *
        head_dim, with ``head_dim = d_out // num_heads``; ``out_proj``: d_out -> d_out.

    >>> _ = torch.manual_seed(123)
    >>> gqa = GroupedQueryAttention(8, 8, context_length=6, dropout=0.0, num_heads=4,
    ...                             num_kv_heads=2)
    >>> tuple(gqa.W_query.weight.shape), tuple(gqa.W_key.weight.shape)
    ((8, 8), (4, 8))
    >>> out, weights = gqa(torch.randn(2, 6, 8), return_weights=True)
    >>> tuple(out.shape), tuple(weights.shape)
    ((2, 6, 8), (2, 4, 6, 6))
    >>> GroupedQueryAttention(8, 8, 6, 0.0, num_heads=4, num_kv_heads=3)
    Traceback (most recent call last):
        ...
    ValueError: num_kv_heads: must divide num_heads=4 ... got num_kv_heads=3
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        num_kv_heads: int,
        qkv_bias: bool = False,
        *,
        window: int | None = None,
    ) -> None:
        num_kv_heads = check_positive_int("num_kv_heads", num_kv_heads)
        super().__init__(d_in, d_out, context_length, dropout, num_heads, qkv_bias, window=window)
        if self.num_heads % num_kv_heads:
            raise ValueError(
                f"num_kv_heads: must divide num_heads={self.num_heads} so that each group of "
                f"query heads shares one key/value head, got num_kv_heads={num_kv_heads}"
            )
        self.num_kv_heads = num_kv_heads
        kv_size = num_kv_heads * self.head_dim
        self.W_key = nn.Linear(self.d_in, kv_size, bias=qkv_bias)  # replaces the parent's
        self.W_value = nn.Linear(self.d_in, kv_size, bias=qkv_bias)

    # The parent's forward and attention, with each group of query heads attending with
    # its shared keys and values: (b, num_heads, T, d) and (b, num_kv_heads, T, d).
    attend = staticmethod(grouped_attend)


class ModelConfig(NamedTuple):
    """The attention sizes of a published model, as its ``config.json`` gives them.

    Attributes:
        name: the model's name.
        num_layers: transformer blocks, each with its own key/value cache.
        num_heads: query heads per layer.
        num_kv_heads: key/value heads per layer.
        head_dim: size of one head's keys (and values).
        window: the sliding window, or None if every layer attends to the whole past.
        source: where the numbers come from.

    >>> MODEL_CONFIGS[0].num_heads // MODEL_CONFIGS[0].num_kv_heads  # query heads per group
    4
    """

    name: str
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    window: int | None
    source: str


MODEL_CONFIGS: tuple[ModelConfig, ...] = (
    # config.json of meta-llama/Meta-Llama-3-8B: num_hidden_layers 32, num_attention_heads 32,
    # num_key_value_heads 8, hidden_size 4096 (head_dim = 4096 / 32); Grattafiori et al. 2024.
    ModelConfig("Llama 3 8B", 32, 32, 8, 128, None, "meta-llama/Meta-Llama-3-8B, config.json"),
    # Jiang et al. 2023, table 1 (n_layers 32, n_heads 32, n_kv_heads 8, head_dim 128,
    # window_size 4096), and the config.json of mistralai/Mistral-7B-v0.1 (sliding_window 4096).
    ModelConfig("Mistral 7B", 32, 32, 8, 128, 4096, "mistralai/Mistral-7B-v0.1, config.json"),
    # config.json of Qwen/Qwen2.5-7B: num_hidden_layers 28, num_attention_heads 28,
    # num_key_value_heads 4, hidden_size 3584 (head_dim = 3584 / 28); k_proj 3584 -> 512.
    ModelConfig("Qwen2.5-7B", 28, 28, 4, 128, None, "Qwen/Qwen2.5-7B, config.json"),
)
"""Published configurations of three open models (see each entry's comment)."""


def kv_cache_bytes(
    config: ModelConfig,
    num_tokens: int,
    *,
    grouped: bool = True,
    windowed: bool = True,
    bytes_per_value: int = 2,
) -> int:
    """Bytes of the key/value cache of one sequence of ``num_tokens`` tokens.

    Every layer keeps a key and a value (2) of ``head_dim`` numbers per key/value head
    for every cached token: ``2 * num_layers * num_kv_heads * head_dim * bytes_per_value``
    bytes per token. A sliding window caps the cached tokens at ``window``.

    Args:
        config: the model's sizes.
        num_tokens: how many tokens the sequence holds.
        grouped: count ``num_kv_heads`` heads (as the model runs); False counts one
            key/value head per query head, as without grouping.
        windowed: cap at the model's window, if it has one.
        bytes_per_value: 2 for bf16 or float16, 4 for float32.

    Returns:
        The cache's size in bytes.

    >>> llama = MODEL_CONFIGS[0]
    >>> kv_cache_bytes(llama, 1) // 1024  # KiB per token in bf16
    128
    >>> kv_cache_bytes(llama, 1, grouped=False) // 1024
    512
    """
    if not isinstance(config, ModelConfig):
        raise TypeError(f"config: expected a ModelConfig, got {describe(config)}")
    num_tokens = check_positive_int("num_tokens", num_tokens)
    check_bool("grouped", grouped)
    check_bool("windowed", windowed)
    bytes_per_value = check_positive_int("bytes_per_value", bytes_per_value)
    heads = config.num_kv_heads if grouped else config.num_heads
    cached = num_tokens if config.window is None or not windowed else min(num_tokens, config.window)
    per_token = 2 * config.num_layers * heads * config.head_dim * bytes_per_value  # K and V
    return per_token * cached


def reachable(num_tokens: int, window: int, num_layers: int) -> Tensor:
    """Which tokens can influence which after ``num_layers`` sliding-window layers.

    One layer lets token ``i`` read tokens ``i - window + 1`` to ``i``; the next layer
    reads those tokens' outputs, each of which has already read ``window - 1`` tokens
    further back. So the reach composes like a product of the layers' "may see"
    matrices: ``k`` layers reach ``k * (window - 1)`` tokens back.

    Args:
        num_tokens: T, the sequence length.
        window: each layer's window.
        num_layers: k, how many layers are stacked.

    Returns:
        (T, T) boolean, True where token ``j`` can influence the output at ``i``.

    >>> reach = reachable(10, window=3, num_layers=2)
    >>> reach[9].nonzero().flatten().tolist()  # 2 * (3 - 1) = 4 tokens back
    [5, 6, 7, 8, 9]
    """
    num_tokens = check_positive_int("num_tokens", num_tokens)
    num_layers = check_positive_int("num_layers", num_layers)
    sees = (~causal_or_sliding_mask(num_tokens, check_positive_int("window", window))).long()
    reach = sees  # (T, T): one layer
    for _ in range(num_layers - 1):
        reach = ((reach @ sees) > 0).long()  # (T, T) @ (T, T): one more layer
    return reach.bool()


def plot_ring_buffer(num_tokens: int, window: int, *, ax: Axes | None = None) -> Axes:
    """Draw which position each slot of a sliding-window key/value cache holds.

    Row ``t`` is the cache after decoding token ``t``: position ``t`` is written into
    slot ``t % window`` (highlighted), overwriting the position ``t - window`` that no
    query can see any more. Labels are numbers only.

    Args:
        num_tokens: how many decoding steps to draw (rows).
        window: the window, which is the number of slots (columns).
        ax: the Matplotlib axes to draw on; a new figure if None.

    Returns:
        The axes.

    >>> ax = plot_ring_buffer(6, window=4)
    >>> [t.get_text() for t in ax.texts][-4:]  # after token 5: slots 0..3
    ['4', '5', '2', '3']
    """
    num_tokens = check_positive_int("num_tokens", num_tokens)
    window = check_positive_int("window", window)
    ax = axes_to_draw_on(ax, 0.6 * window + 1.5, 0.35 * num_tokens + 1.0)
    slots: list[int | None] = [None] * window
    shade = torch.zeros(num_tokens, window)
    for t in range(num_tokens):
        slots[t % window] = t
        shade[t, t % window] = 1.0  # the slot written at this step
        for s, position in enumerate(slots):
            if position is not None:
                ax.text(s, t, str(position), ha="center", va="center", fontsize=9)
                if shade[t, s] == 0:
                    shade[t, s] = 0.3
    ax.imshow(shade.numpy(), cmap="Blues", vmin=0.0, vmax=1.6, aspect="auto")
    ax.set_xticks(range(window), [str(s) for s in range(window)])
    ax.set_yticks(range(num_tokens), [str(t) for t in range(num_tokens)])
    ax.set_xlabel("slot = t % window")
    ax.set_ylabel("t")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    return ax
