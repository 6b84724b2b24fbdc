"""Tests of attention_examples.positions.

The seeds stop before word order, so every expected value comes from an independent
computation: the formulas of Vaswani et al. (2017) evaluated with Python's ``math`` in a
loop, RoPE as a multiplication of complex numbers, and PyTorch's own
``scaled_dot_product_attention``.
"""

from __future__ import annotations

import cmath
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn
from torch.testing import assert_close

from attention_examples import (
    CrossAttention,
    SelfAttentionV2,
    apply_rope,
    journey_inputs,
    plot_position_encoding,
    plot_scores_by_distance,
    sinusoidal_positions,
)

# --- sinusoidal_positions ------------------------------------------------------------------


def sinusoidal_loop(num_tokens: int, d_model: int, base: float = 10000.0) -> list[list[float]]:
    """The paper's formula, one entry at a time, in Python floats."""
    pe = [[0.0] * d_model for _ in range(num_tokens)]
    for pos in range(num_tokens):
        for j in range(d_model):
            two_i = j - j % 2  # columns 2i and 2i + 1 share the frequency of pair i
            angle = pos / base ** (two_i / d_model)
            pe[pos][j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


@pytest.mark.parametrize(
    ("num_tokens", "d_model", "base"),
    [(1, 1, 10000.0), (7, 4, 10000.0), (50, 16, 10000.0), (20, 7, 10000.0), (9, 6, 100.0)],
)
def test_sinusoidal_matches_the_papers_formula(num_tokens, d_model, base) -> None:
    pe = sinusoidal_positions(num_tokens, d_model, base=base)
    assert pe.shape == (num_tokens, d_model)
    assert pe.dtype == torch.float32
    expected = torch.tensor(sinusoidal_loop(num_tokens, d_model, base), dtype=torch.float32)
    assert_close(pe, expected, rtol=0.0, atol=1e-6)


def test_sinusoidal_far_positions_stay_accurate() -> None:
    # angles computed in float64: position 5000 is still exact to float32 precision
    pe = sinusoidal_positions(5001, 8)
    expected = torch.tensor(sinusoidal_loop(5001, 8)[5000], dtype=torch.float32)
    assert_close(pe[5000], expected, rtol=0.0, atol=1e-6)


def test_sinusoidal_follows_the_default_dtype() -> None:
    torch.set_default_dtype(torch.float64)
    assert sinusoidal_positions(3, 4).dtype == torch.float64


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 20))
def test_sinusoidal_dot_product_depends_on_distance_only(m, k, shift) -> None:
    # PE[m] . PE[m + k] = sum_i sin(a)sin(b) + cos(a)cos(b) = sum_i cos(k w_i)
    d_model = 16
    pe = sinusoidal_positions(128, d_model).double()
    expected = sum(math.cos(k / 10000.0 ** (2 * i / d_model)) for i in range(d_model // 2))
    assert math.isclose(float(pe[m] @ pe[m + k]), expected, abs_tol=1e-5)
    assert math.isclose(float(pe[m + shift] @ pe[m + k + shift]), expected, abs_tol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_tokens": 0}, ValueError, r"num_tokens: expected a positive int, got 0"),
        ({"num_tokens": -3}, ValueError, r"num_tokens: expected a positive int, got -3"),
        ({"num_tokens": 2.0}, TypeError, r"num_tokens: expected a positive int, got float"),
        ({"d_model": 0}, ValueError, r"d_model: expected a positive int, got 0"),
        ({"d_model": True}, TypeError, r"d_model: expected a positive int, got bool"),
        ({"base": 0.0}, ValueError, r"base: expected a finite number > 0, got 0.0"),
        ({"base": -10.0}, ValueError, r"base: expected a finite number > 0"),
        ({"base": math.inf}, ValueError, r"base: expected a finite number > 0, got inf"),
        ({"base": "10000"}, TypeError, r"base: expected a positive number.*got str"),
    ],
)
def test_sinusoidal_rejects(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        sinusoidal_positions(**({"num_tokens": 4, "d_model": 8} | kwargs))


# --- apply_rope ----------------------------------------------------------------------------


def rope_complex(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE as complex multiplication: (x1 + i x2) * exp(i pos theta_j), pair j = (j, j + d/2)."""
    d = x.shape[-1]
    half = d // 2
    z = torch.complex(x[..., :half].double(), x[..., half:].double())  # (..., T, d/2)
    theta = torch.tensor([base ** (-2 * j / d) for j in range(half)], dtype=torch.float64)
    rotation = torch.tensor(
        [[cmath.exp(1j * float(p) * float(t)) for t in theta] for p in positions],
        dtype=torch.complex128,
    )  # (T, d/2)
    out = z * rotation
    return torch.cat([out.real, out.imag], dim=-1).to(x.dtype)


@given(
    st.integers(1, 9),  # T
    st.sampled_from([2, 4, 8, 16]),  # d_head
    st.integers(0, 500),  # offset
    st.integers(0, 2**31 - 1),  # seed
)
def test_rope_matches_complex_multiplication(num_tokens, d_head, offset, seed) -> None:
    x = torch.randn(2, 3, num_tokens, d_head, generator=torch.Generator().manual_seed(seed))
    x = x.double()
    positions = torch.arange(offset, offset + num_tokens)
    expected = rope_complex(x, positions)
    assert_close(apply_rope(x, positions), expected, rtol=0.0, atol=1e-12)
    if offset == 0:
        assert_close(apply_rope(x), expected, rtol=0.0, atol=1e-12)


def test_rope_base_changes_the_frequencies() -> None:
    x = torch.randn(5, 8, dtype=torch.float64)
    positions = torch.arange(5)
    assert_close(apply_rope(x, base=500.0), rope_complex(x, positions, base=500.0))
    assert not torch.allclose(apply_rope(x, base=500.0), apply_rope(x))


def test_rope_leaves_position_zero_and_norms_unchanged() -> None:
    x = torch.randn(4, 6, 10, dtype=torch.float64)
    rotated = apply_rope(x)
    assert torch.equal(rotated[:, 0], x[:, 0])
    # each pair (i, i + d/2) is rotated, so its length is kept
    pair_norms = x[..., :5] ** 2 + x[..., 5:] ** 2
    assert_close(rotated[..., :5] ** 2 + rotated[..., 5:] ** 2, pair_norms)
    assert not torch.allclose(rotated[:, 1:], x[:, 1:])


@given(st.integers(0, 2**31 - 1), st.integers(0, 1000))
def test_rope_score_depends_only_on_the_distance(seed, shift) -> None:
    generator = torch.Generator().manual_seed(seed)
    d_head, num_tokens = 16, 12
    q, k = torch.randn(2, d_head, generator=generator, dtype=torch.float64)
    positions = torch.arange(shift, shift + num_tokens)
    q_rot = apply_rope(q.expand(num_tokens, d_head), positions)  # (T, d): q at every position
    k_rot = apply_rope(k.expand(num_tokens, d_head), positions)
    scores = q_rot @ k_rot.T  # scores[m, n] = q_m . k_n
    # the independent formula: Re(sum_j z_q conj(z_k) exp(i (m - n) theta_j))
    half = d_head // 2
    z_q = torch.complex(q[:half], q[half:])
    z_k = torch.complex(k[:half], k[half:])
    theta = 10000.0 ** (-2 * torch.arange(half, dtype=torch.float64) / d_head)
    for m in range(num_tokens):
        for n in range(num_tokens):
            expected = (z_q * z_k.conj() * torch.exp(1j * (m - n) * theta)).sum().real
            assert math.isclose(float(scores[m, n]), float(expected), abs_tol=1e-9)


def test_rope_without_rotation_the_score_ignores_position() -> None:
    # the control: the same q and k unrotated give one score everywhere; rotated, they do not
    q, k = torch.randn(2, 8, dtype=torch.float64)
    rotated = apply_rope(q.expand(6, 8)) @ apply_rope(k.expand(6, 8)).T
    assert not torch.allclose(rotated[0, 0], rotated[0, 3])


def test_rope_offset_is_what_a_kv_cache_needs() -> None:
    x = torch.randn(2, 4, 9, 8)
    whole = apply_rope(x)
    assert_close(apply_rope(x[..., 6:, :], torch.arange(6, 9)), whole[..., 6:, :])
    assert not torch.allclose(apply_rope(x[..., 6:, :]), whole[..., 6:, :])


@pytest.mark.parametrize(
    ("dtype", "atol"),
    [(torch.float16, 4e-3), (torch.bfloat16, 3e-2), (torch.float32, 1e-6), (torch.float64, 1e-12)],
)
def test_rope_keeps_the_dtype(dtype, atol) -> None:
    x = torch.randn(3, 8).to(dtype)
    out = apply_rope(x)
    assert out.dtype == dtype
    # the angles are float32 at least; the products are rounded to the dtype of x
    expected = rope_complex(x.double(), torch.arange(3))
    assert_close(out.double(), expected, rtol=0.0, atol=atol)


def test_rope_accepts_any_integer_dtype_and_negative_positions() -> None:
    x = torch.randn(3, 4, dtype=torch.float64)
    for dtype in (torch.int32, torch.int64, torch.uint8):
        positions = torch.tensor([2, 5, 7], dtype=dtype)
        assert_close(apply_rope(x, positions), rope_complex(x, positions.long()))
    positions = torch.tensor([-2, 0, 3])
    assert_close(apply_rope(x, positions), rope_complex(x, positions))


@pytest.mark.parametrize(
    ("x", "positions", "error", "match"),
    [
        (torch.zeros(4, 7), None, ValueError, r"x: expected an even d_head.*got d_head=7"),
        (torch.zeros(8), None, ValueError, r"x: expected a non-empty \(\.\.\., T, d_head\)"),
        (torch.zeros(0, 8), None, ValueError, r"x: expected a non-empty"),
        (torch.zeros(4, 8, dtype=torch.long), None, TypeError, r"x: expected a floating-point"),
        ([[1.0, 2.0]], None, TypeError, r"x: expected a torch.Tensor.*got list"),
        (torch.zeros(4, 8), torch.arange(3), ValueError, r"positions: expected shape \(4,\)"),
        (torch.zeros(4, 8), torch.arange(4)[None], ValueError, r"got \(1, 4\)"),
        (torch.zeros(4, 8), torch.arange(4.0), TypeError, r"positions: expected an integer"),
        (torch.zeros(4, 8), torch.ones(4, dtype=torch.bool), TypeError, r"got torch.bool"),
        (torch.zeros(4, 8), [0, 1, 2, 3], TypeError, r"positions: .*torch.arange.*got list"),
        (torch.zeros(4, 8), torch.arange(4, device="meta"), ValueError, r"on cpu like x"),
    ],
)
def test_rope_rejects(x, positions, error, match) -> None:
    with pytest.raises(error, match=match):
        apply_rope(x, positions)


@pytest.mark.parametrize(
    ("base", "error"),
    [(0, ValueError), (-1.0, ValueError), (math.nan, ValueError), (None, TypeError)],
)
def test_rope_rejects_a_bad_base(base, error) -> None:
    with pytest.raises(error, match=r"base: expected"):
        apply_rope(torch.zeros(2, 4), base=base)


# --- word order: attention alone cannot see it ----------------------------------------------


def shuffled(seed: int) -> torch.Tensor:
    return torch.randperm(6, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("seed", range(5))
def test_self_attention_is_permutation_equivariant(seed) -> None:
    torch.manual_seed(123)
    attention = SelfAttentionV2(3, 2)
    x, perm = journey_inputs(), shuffled(seed)
    with torch.no_grad():
        scores = attention.W_query(x) @ attention.W_key(x).T
        scores_shuffled = attention.W_query(x[perm]) @ attention.W_key(x[perm]).T
        # equal up to the order of the additions in softmax and the weighted sum
        assert_close(attention(x[perm]), attention(x)[perm], rtol=0.0, atol=1e-6)
    assert_close(scores_shuffled, scores[perm][:, perm], rtol=0.0, atol=0.0)


@pytest.mark.parametrize("encoding", ["sinusoidal", "learned"])
def test_adding_positions_breaks_the_equivariance(encoding) -> None:
    torch.manual_seed(123)
    attention = SelfAttentionV2(3, 2)
    learned = nn.Embedding(6, 3).weight  # (T, d_in), one trainable row per position
    pe = sinusoidal_positions(6, 3) if encoding == "sinusoidal" else learned
    x, perm = journey_inputs(), shuffled(0)
    with torch.no_grad():
        out = attention(x + pe)
        out_shuffled = attention(x[perm] + pe)  # the tokens move, the positions stay
    assert (out_shuffled - out[perm]).abs().max() > 1e-3


# --- CrossAttention ------------------------------------------------------------------------


def make_cross(**kwargs) -> CrossAttention:
    torch.manual_seed(0)
    return CrossAttention(**({"d_in": 5, "d_memory": 3, "d_out": 4} | kwargs))


def test_cross_attention_matches_pytorch() -> None:
    cross = make_cross(qkv_bias=True)
    x, memory = torch.randn(2, 7, 5), torch.randn(2, 4, 3)
    with torch.no_grad():
        context, weights = cross(x, memory, return_weights=True)
        q, k, v = cross.W_query(x), cross.W_key(memory), cross.W_value(memory)
        expected = F.scaled_dot_product_attention(q, k, v)
        expected_weights = torch.softmax(q @ k.transpose(-2, -1) / 4**0.5, dim=-1)
    assert context.shape == (2, 7, 4)
    assert weights.shape == (2, 7, 4)
    assert_close(context, expected)
    assert_close(weights, expected_weights)


def test_cross_attention_padding_is_as_if_the_padding_were_not_there() -> None:
    cross = make_cross()
    x, memory = torch.randn(2, 3, 5), torch.randn(2, 6, 3)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    with torch.no_grad():
        context, weights = cross(x, memory, key_padding_mask=pad, return_weights=True)
        short = cross(x[1], memory[1, :4])  # the second source without its padding
        full = cross(x[0], memory[0])
    assert torch.equal(weights[1, :, 4:], torch.zeros(3, 2))
    assert_close(context[1], short)
    assert_close(context[0], full)


def test_cross_attention_unbatched_and_no_causal_mask() -> None:
    cross = make_cross()
    x, memory = torch.randn(3, 5), torch.randn(8, 3)
    with torch.no_grad():
        context, weights = cross(x, memory, return_weights=True)
        batched = cross(x[None], memory[None])
    assert context.shape == (3, 4)
    assert_close(context, batched[0])
    assert bool((weights > 0).all())  # the first query sees the last key too


def test_cross_attention_order_of_memory_does_not_matter_but_order_of_x_does() -> None:
    cross = make_cross()
    x, memory = torch.randn(4, 5), torch.randn(6, 3)
    perm = shuffled(1)
    with torch.no_grad():
        assert_close(cross(x, memory[perm]), cross(x, memory), rtol=0.0, atol=1e-6)
        assert_close(cross(x[[3, 2, 1, 0]], memory), cross(x, memory)[[3, 2, 1, 0]])


@pytest.mark.parametrize(
    ("x", "memory", "mask", "error", "match"),
    [
        (
            torch.zeros(3, 4),
            torch.zeros(2, 3),
            None,
            ValueError,
            r"x: .*d_in=5, got shape \(3, 4\)",
        ),
        (torch.zeros(3, 5), torch.zeros(2, 5), None, ValueError, r"memory: .*d_memory=3"),
        (torch.zeros(1, 2, 3, 5), torch.zeros(2, 3), None, ValueError, r"x: expected a 2-D or 3-D"),
        (
            torch.zeros(2, 3, 5),
            torch.zeros(3, 2, 3),
            None,
            ValueError,
            r"x, memory: expected the same batch",
        ),
        (
            torch.zeros(3, 5),
            torch.zeros(1, 2, 3),
            None,
            ValueError,
            r"x, memory: expected the same batch",
        ),
        (
            torch.zeros(3, 5),
            torch.zeros(2, 3),
            torch.zeros(3, dtype=torch.bool),
            ValueError,
            r"key_padding_mask: expected shape \(2,\)",
        ),
        (
            torch.zeros(3, 5),
            torch.zeros(2, 3),
            torch.zeros(2),
            TypeError,
            r"key_padding_mask: expected dtype torch.bool",
        ),
        (
            torch.zeros(3, 5, dtype=torch.float64),
            torch.zeros(2, 3),
            None,
            TypeError,
            r"x: expected dtype torch.float32",
        ),
        ("text", torch.zeros(2, 3), None, TypeError, r"x: expected a torch.Tensor"),
        (
            torch.zeros(3, 5),
            torch.zeros(2, 3, dtype=torch.int64),
            None,
            TypeError,
            r"memory: expected a floating-point",
        ),
    ],
)
def test_cross_attention_rejects(x, memory, mask, error, match) -> None:
    with pytest.raises(error, match=match):
        make_cross()(x, memory, key_padding_mask=mask)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_in": 0}, ValueError, r"d_in: expected a positive int, got 0"),
        ({"d_memory": -1}, ValueError, r"d_memory: expected a positive int, got -1"),
        ({"d_out": 2.5}, TypeError, r"d_out: expected a positive int"),
        ({"qkv_bias": 1}, TypeError, r"qkv_bias: expected True or False"),
    ],
)
def test_cross_attention_constructor_rejects(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        make_cross(**kwargs)


def test_cross_attention_return_weights_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=r"return_weights: expected True or False"):
        make_cross()(torch.zeros(3, 5), torch.zeros(2, 3), return_weights="yes")


# --- figures -------------------------------------------------------------------------------


def test_plot_position_encoding_draws_the_values_on_given_axes() -> None:
    ax = Figure().add_subplot()
    pe = sinusoidal_positions(10, 6)
    assert plot_position_encoding(pe, ax=ax) is ax
    assert_close(torch.from_numpy(ax.images[0].get_array().data), pe)


def test_plot_scores_by_distance_draws_each_anchor_row() -> None:
    scores = torch.arange(16.0).reshape(4, 4)
    ax = plot_scores_by_distance(scores, anchors=[1, 3])
    first, second = ax.get_lines()[:2]
    assert list(first.get_xdata()) == [-1, 0, 1, 2]
    assert list(first.get_ydata()) == [4.0, 5.0, 6.0, 7.0]
    assert list(second.get_xdata()) == [-3, -2, -1, 0]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: plot_position_encoding(torch.zeros(2, 3, 4)),
            ValueError,
            r"encoding: expected a 2-D",
        ),
        (lambda: plot_position_encoding(torch.zeros(3, 4), ax="ax"), TypeError, r"ax: expected"),
        (
            lambda: plot_scores_by_distance(torch.zeros(3, 4), [0]),
            ValueError,
            r"scores: expected a square",
        ),
        (
            lambda: plot_scores_by_distance(torch.zeros(3, 3), [3]),
            ValueError,
            r"anchors: .*\[0, 3\), got 3",
        ),
        (
            lambda: plot_scores_by_distance(torch.zeros(3, 3), []),
            TypeError,
            r"anchors: expected a non-empty",
        ),
    ],
)
def test_plots_reject(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()
