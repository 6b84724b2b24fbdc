"""Word order and cross-attention: position encodings, rotary embeddings, queries from elsewhere.

Chapter: *Word order and where queries come from* (``docs/positions.md``).
Attention compares every query with every key, whatever their order, so it needs
to be told where each token stands. :func:`sinusoidal_positions` is the encoding of
Vaswani et al. (2017), added to the token embeddings; :func:`apply_rope` rotates
queries and keys instead (Su et al. 2021), in the rotate-half convention of
Hugging Face's Llama. :class:`CrossAttention` takes its queries from one sequence
and its keys and values from another.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ._call_types import CrossAttentionCall
from ._checks import (
    check_bool,
    check_floating,
    check_input_matches,
    check_padding_mask,
    check_positive_int,
    describe,
)
from .plotting import axes_to_draw_on
from .self_attention import scaled_dot_product_attention

if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.axes import Axes

__all__ = [
    "CrossAttention",
    "apply_rope",
    "plot_position_encoding",
    "plot_scores_by_distance",
    "sinusoidal_positions",
]


def _check_base(base: object) -> float:
    """The base of the frequencies: a finite real number greater than 0."""
    if isinstance(base, bool) or not isinstance(base, Real):
        raise TypeError(f"base: expected a positive number such as 10000.0, got {describe(base)}")
    if not 0.0 < float(base) < float("inf"):
        raise ValueError(f"base: expected a finite number > 0, got {base}")
    return float(base)


def _check_float_tensor(name: str, x: object, min_ndim: int, shape_text: str) -> Tensor:
    """A floating tensor of at least ``min_ndim`` dimensions, none of them empty.

    Shapes and dtypes only: no pass over the values.
    """
    x = check_floating(name, x, f"a torch.Tensor {shape_text}")
    if x.ndim < min_ndim or x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty {shape_text} tensor, got {describe(x)}")
    return x


def sinusoidal_positions(num_tokens: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The sinusoidal position encoding of Vaswani et al. (2017), one row per position.

    ``PE[pos, 2i] = sin(pos / base^(2i/d_model))`` and
    ``PE[pos, 2i+1] = cos(pos / base^(2i/d_model))``: column pairs turn like clock
    hands, the first pair once per radian, later pairs ever more slowly. It is
    added to the token embeddings, ``x + PE``. An odd ``d_model`` keeps the sine
    of its last pair.

    Args:
        num_tokens: T, how many positions (0 to T - 1).
        d_model: the embedding size, one column per feature.
        base: sets the slowest frequency, ``1 / base^((d_model - 2)/d_model)``.

    Returns:
        (num_tokens, d_model) the encoding, in the default dtype (float32).

    >>> pe = sinusoidal_positions(3, 4)
    >>> pe.shape
    torch.Size([3, 4])
    >>> pe  # columns: sin(pos), cos(pos), sin(pos / 100), cos(pos / 100)
    tensor([[ 0.0000,  1.0000,  0.0000,  1.0000],
            [ 0.8415,  0.5403,  0.0100,  0.9999],
            [ 0.9093, -0.4161,  0.0200,  0.9998]])
    """
    num_tokens = check_positive_int("num_tokens", num_tokens)
    d_model = check_positive_int("d_model", d_model)
    base = _check_base(base)
    # Computed in float64, so that sin and cos are exact to float32 even far along.
    pos = torch.arange(num_tokens, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d/2),) 0, 2, 4, ...
    angles = pos / base ** (two_i / d_model)  # (T, 1) / (ceil(d/2),) -> (T, ceil(d/2))
    pe = torch.empty(num_tokens, d_model, dtype=torch.float64)  # (T, d_model)
    pe[:, 0::2] = torch.sin(angles)  # even columns 2i
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])  # odd columns 2i + 1
    return pe.to(torch.get_default_dtype())


def apply_rope(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    """Rotary position embedding (RoPE, Su et al. 2021) of queries or keys.

    Feature ``i`` and feature ``i + d_head/2`` form a pair (the *rotate-half*
    convention of Hugging Face's Llama and of LLMs-from-scratch); the token at
    position ``p`` has each pair turned by the angle ``p * base^(-2i/d_head)``.
    Rotating both queries and keys makes every score ``q_m . k_n`` depend on the
    positions only through ``m - n``. Values are not rotated.

    Args:
        x: (..., T, d_head) queries or keys, d_head even; e.g. (b, heads, T, d_head).
        positions: optional (T,) integer positions of the T tokens; default
            0, 1, ..., T - 1. A KV cache passes ``torch.arange(start, start + T)``,
            so that new tokens are rotated at their true positions.
        base: sets the slowest rotation, ``base^(-(d_head - 2)/d_head)`` per position.

    Returns:
        (..., T, d_head) the rotated tensor, in the dtype of ``x``.

    Example: the pair ``(1, 0)`` turns by 1 radian per position (d_head = 2):

    >>> apply_rope(torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    tensor([[ 1.0000,  0.0000],
            [ 0.5403,  0.8415],
            [-0.4161,  0.9093]])

    Scores after rotation depend on the distance only, and an offset rotates a
    new token where it stands:

    >>> _ = torch.manual_seed(0)
    >>> q, k = torch.randn(2, 8)  # one query and one key, repeated at 5 positions
    >>> scores = apply_rope(q.expand(5, 8)) @ apply_rope(k.expand(5, 8)).T  # (5, 5)
    >>> torch.allclose(scores[3, 1], scores[4, 2])  # both at distance m - n = 2
    True
    >>> x = torch.randn(5, 8)
    >>> torch.allclose(apply_rope(x[4:], positions=torch.tensor([4])), apply_rope(x)[4:])
    True
    """
    x = _check_float_tensor("x", x, 2, "(..., T, d_head)")
    num_tokens, d_head = x.shape[-2:]
    if d_head % 2:
        raise ValueError(
            f"x: expected an even d_head, to pair feature i with feature i + d_head/2, "
            f"got d_head={d_head} (shape {tuple(x.shape)})"
        )
    if positions is None:
        positions = torch.arange(num_tokens, device=x.device)
    elif not isinstance(positions, Tensor):
        raise TypeError(
            f"positions: expected an integer torch.Tensor of shape ({num_tokens},) such as "
            f"torch.arange(start, start + {num_tokens}), got {describe(positions)}"
        )
    elif positions.dtype == torch.bool or positions.is_floating_point() or positions.is_complex():
        raise TypeError(
            f"positions: expected an integer dtype (token indices), got {positions.dtype}"
        )
    elif positions.shape != (num_tokens,):
        raise ValueError(
            f"positions: expected shape ({num_tokens},), one position per token of x, "
            f"got {tuple(positions.shape)}"
        )
    elif positions.device != x.device:
        raise ValueError(
            f"positions: expected a tensor on {x.device} like x, got one on {positions.device}"
        )
    base = _check_base(base)
    # float32 angles at least (float64 for float64 x), as in Llama: half precision
    # would lose the position of a token far along.
    angle_dtype = torch.promote_types(x.dtype, torch.float32)
    half = d_head // 2
    inv_freq = base ** (-torch.arange(half, device=x.device, dtype=angle_dtype) * 2 / d_head)
    angles = positions.to(angle_dtype)[:, None] * inv_freq  # (T, 1) * (d/2,) -> (T, d/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, d/2) -> (T, d): pair i with i + d/2
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (T, d) each
    x1, x2 = x[..., :half], x[..., half:]  # (..., T, d/2) each
    rotated_half = torch.cat([-x2, x1], dim=-1)  # (..., T, d): (x1, x2) -> (-x2, x1)
    return x * cos + rotated_half * sin  # each pair (x1, x2) turned by its angle


class CrossAttention(nn.Module):
    """Single-head attention whose queries come from ``x`` and keys and values from ``memory``.

    In an encoder-decoder translator, ``x`` is the target sentence written so far and
    ``memory`` the encoded source sentence: every target token looks for the source
    tokens it needs. The two sequences may differ in length and width. No causal
    mask: the whole source exists before the first target token is written.

    Args:
        d_in: size of each embedding of ``x`` (the side the queries come from).
        d_memory: size of each embedding of ``memory`` (keys and values).
        d_out: size of each query, key, value and output vector.
        qkv_bias: give the three projections a bias.

    Shape:
        ``x``: (b, T_q, d_in), ``memory``: (b, T_k, d_memory) -> (b, T_q, d_out);
        unbatched (T_q, d_in) and (T_k, d_memory) give (T_q, d_out).
        ``key_padding_mask``: (b, T_k), or (T_k,) unbatched; True at padding
        tokens of ``memory``.

    Example: three target tokens attend over four source tokens.

    >>> _ = torch.manual_seed(0)
    >>> cross = CrossAttention(d_in=6, d_memory=4, d_out=2)
    >>> target, source = torch.randn(3, 6), torch.randn(4, 4)
    >>> context, weights = cross(target, source, return_weights=True)
    >>> context.shape, weights.shape
    (torch.Size([3, 2]), torch.Size([3, 4]))
    >>> torch.allclose(weights.sum(dim=-1), torch.ones(3))
    True
    >>> pad = torch.tensor([False, False, False, True])  # the last source token is padding
    >>> cross(target, source, key_padding_mask=pad, return_weights=True)[1][:, 3]
    tensor([0., 0., 0.], grad_fn=<SelectBackward0>)
    """

    __call__: CrossAttentionCall  # for type checkers: module(x, memory) gives a Tensor

    def __init__(self, d_in: int, d_memory: int, d_out: int, qkv_bias: bool = False) -> None:
        super().__init__()
        self.d_in = d_in = check_positive_int("d_in", d_in)
        self.d_memory = d_memory = check_positive_int("d_memory", d_memory)
        self.d_out = d_out = check_positive_int("d_out", d_out)
        check_bool("qkv_bias", qkv_bias)
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_memory, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_memory, d_out, bias=qkv_bias)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        key_padding_mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Attend from every token of ``x`` over all tokens of ``memory``.

        Args:
            x: (b, T_q, d_in) or (T_q, d_in) the sequence the queries come from.
            memory: (b, T_k, d_memory) or (T_k, d_memory) the sequence the keys and
                values come from.
            key_padding_mask: optional (b, T_k) boolean, True at padding tokens of
                ``memory`` ((T_k,) for unbatched input).
            return_weights: also return the (b, T_q, T_k) attention weights
                ((T_q, T_k) for unbatched input).

        Returns:
            (b, T_q, d_out) the context vectors ((T_q, d_out) unbatched), and the
            weights if asked.
        """
        self._check_inputs(x, memory, key_padding_mask)
        check_bool("return_weights", return_weights)
        queries = self.W_query(x)  # (b, T_q, d_in) -> (b, T_q, d_out)
        keys = self.W_key(memory)  # (b, T_k, d_memory) -> (b, T_k, d_out)
        values = self.W_value(memory)  # (b, T_k, d_memory) -> (b, T_k, d_out)
        mask = None
        if key_padding_mask is not None:
            mask = key_padding_mask.unsqueeze(-2)  # (b, T_k) -> (b, 1, T_k): for every query
        context, weights = scaled_dot_product_attention(queries, keys, values, mask)
        return (context, weights) if return_weights else context  # (b, T_q, d_out)

    def _check_inputs(self, x: object, memory: object, key_padding_mask: object) -> None:
        """Ranks, widths, matching batches and the mask's shape, once per call."""
        x = _check_float_tensor("x", x, 2, "(b, T_q, d_in) or (T_q, d_in)")
        memory = _check_float_tensor("memory", memory, 2, "(b, T_k, d_memory) or (T_k, d_memory)")
        for name, t, width, width_name in (
            ("x", x, self.d_in, "d_in"),
            ("memory", memory, self.d_memory, "d_memory"),
        ):
            if t.ndim > 3 or t.shape[-1] != width:
                raise ValueError(
                    f"{name}: expected a 2-D or 3-D tensor whose last dimension is "
                    f"{width_name}={width}, got shape {tuple(t.shape)}"
                )
            check_input_matches(name, t, self.W_query.weight)
        if x.shape[:-2] != memory.shape[:-2]:
            raise ValueError(
                "x, memory: expected the same batch (both batched with one b, or both "
                f"unbatched), got shapes {tuple(x.shape)} and {tuple(memory.shape)}"
            )
        if key_padding_mask is not None:
            check_padding_mask(key_padding_mask, memory, "memory")


def plot_position_encoding(encoding: Tensor, *, ax: Axes | None = None) -> Axes:
    """Draw a position encoding as an image: one row per position, one column per feature.

    Args:
        encoding: (T, d_model) e.g. :func:`sinusoidal_positions` or the weight of a
            learned ``nn.Embedding``; values are shown on a blue-red scale from
            -1 to 1.
        ax: the Matplotlib axes to draw on; a new 6 x 3.5 inch figure if None.

    Returns:
        The axes, labelled ``pos`` (rows) and ``j`` (columns).

    >>> ax = plot_position_encoding(sinusoidal_positions(50, 16))
    >>> ax.get_ylabel(), ax.get_xlabel(), ax.images[0].get_array().shape
    ('pos', 'j', (50, 16))
    """
    encoding = _check_float_tensor("encoding", encoding, 2, "(T, d_model)")
    if encoding.ndim != 2:
        raise ValueError(f"encoding: expected a 2-D (T, d_model) tensor, got {describe(encoding)}")
    ax = axes_to_draw_on(ax, 6, 3.5)
    values = encoding.detach().cpu().float().numpy()
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1.0, vmax=1.0, aspect="auto")
    ax.set_xlabel("j")
    ax.set_ylabel("pos")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


def plot_scores_by_distance(
    scores: Tensor, anchors: Sequence[int], *, ax: Axes | None = None
) -> Axes:
    """Draw rows of a (T, T) score matrix against the distance ``n - m``, one line per row.

    Row ``m`` holds the scores of position ``m`` with every position ``n``. If the
    scores depend only on ``n - m``, the lines of all anchors lie on one curve.

    Args:
        scores: (T, T) scores between positions, ``scores[m, n]``.
        anchors: the rows ``m`` to draw, each in [0, T).
        ax: the Matplotlib axes to draw on; a new 6 x 3 inch figure if None.

    Returns:
        The axes: x is ``n - m``, one labelled line ``m=<anchor>`` per anchor.

    >>> pe = sinusoidal_positions(40, 16)
    >>> ax = plot_scores_by_distance(pe @ pe.T, anchors=[0, 10])
    >>> ax.get_legend_handles_labels()[1]
    ['m=0', 'm=10']
    >>> ax.get_lines()[1].get_xdata()[:3]  # n - m for n = 0, 1, 2
    array([-10,  -9,  -8])
    """
    scores = _check_float_tensor("scores", scores, 2, "(T, T)")
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores: expected a square (T, T) matrix, got {describe(scores)}")
    num_tokens = scores.shape[0]
    if isinstance(anchors, str) or not isinstance(anchors, Sequence) or not anchors:
        raise TypeError(f"anchors: expected a non-empty list of rows, got {describe(anchors)}")
    for m in anchors:
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < num_tokens:
            raise ValueError(f"anchors: expected rows in [0, {num_tokens}), got {m!r}")
    ax = axes_to_draw_on(ax, 6, 3)
    values = scores.detach().cpu().double().numpy()
    distance = torch.arange(num_tokens).numpy()
    for m in anchors:
        ax.plot(distance - m, values[m], marker=".", markersize=3, label=f"m={m}")
    ax.set_xlabel("n - m")
    ax.set_ylabel("scores[m, n]")
    ax.axhline(0.0, color="0.7", linewidth=0.8)
    ax.legend()
    return ax
