"""Tests of attention_examples.fast_attention: the fused path and tiled attention.

Every expected value comes from an independent computation: PyTorch's own
``scaled_dot_product_attention`` and ``nn.MultiheadAttention``, a float64 softmax
written out here, or the package's step-by-step ``MultiHeadAttention``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch.testing import assert_close

from attention_examples import (
    FusedMultiHeadAttention,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    tiled_attention,
)

RESULTS = Path(__file__).parents[1] / "benchmarks" / "results.json"
TOL = {"atol": 1e-5, "rtol": 1e-5}  # float32


def reference_attention(query, key, value, causal=False):
    """softmax(Q K^T / sqrt(d_k)) V in float64, written out independently.

    Causal is bottom-right aligned: query i sees key j when j <= i + T_k - T_q.
    """
    q, k, v = (t.double() for t in (query, key, value))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        t_q, t_k = scores.shape[-2:]
        rows, cols = torch.arange(t_q)[:, None], torch.arange(t_k)[None, :]
        scores = scores.masked_fill(cols > rows + (t_k - t_q), -math.inf)
    return torch.softmax(scores, dim=-1) @ v


def make_pair(d_in=8, d_out=8, context_length=12, num_heads=2, qkv_bias=False, seed=0):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads, qkv_bias=qkv_bias)
    return mha, FusedMultiHeadAttention.from_module(mha)


# --- the fused fast path ----------------------------------------------------------


@given(
    batch=st.integers(1, 3),
    num_tokens=st.integers(1, 12),
    num_heads=st.sampled_from([1, 2, 4]),
    head_dim=st.integers(1, 5),
    qkv_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fused_equals_multihead_attention(batch, num_tokens, num_heads, head_dim, qkv_bias, seed):
    mha, fused = make_pair(5, num_heads * head_dim, 12, num_heads, qkv_bias, seed)
    x = torch.randn(batch, num_tokens, 5)
    assert_close(fused(x), mha(x), **TOL)


def test_fused_equals_torch_multihead_attention_with_the_same_weights() -> None:
    # torch.nn.MultiheadAttention is an independent implementation of the same layer.
    mha, fused = make_pair(d_in=16, d_out=16, context_length=10, num_heads=4)
    torch_mha = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(
            torch.cat([mha.W_query.weight, mha.W_key.weight, mha.W_value.weight])
        )
        torch_mha.in_proj_bias.zero_()
        torch_mha.out_proj.weight.copy_(mha.out_proj.weight)
        torch_mha.out_proj.bias.copy_(mha.out_proj.bias)
    x = torch.randn(3, 10, 16)
    expected, _ = torch_mha(x, x, x, attn_mask=causal_mask(10), need_weights=False)
    assert_close(fused(x), expected, **TOL)


def test_fused_with_padding_matches_and_fully_masked_rows_are_zero_context() -> None:
    mha, fused = make_pair(d_in=6, d_out=8, context_length=7, num_heads=2)
    x = torch.randn(4, 7, 6)
    right = padding_mask([7, 3, 0, 1], num_tokens=7)  # a sequence of length 0: all padding
    left = right.flip(-1)  # left padding: the first queries see only padding keys
    for pad in (right, left):
        out = fused(x, key_padding_mask=pad)
        assert not out.isnan().any()
        assert_close(out, mha(x, key_padding_mask=pad), **TOL)
        # A query whose visible keys (j <= i) are all padding gets a zero context vector,
        # so its output is the output projection's bias.
        hidden = (causal_mask(7) | pad[:, None, :]).all(dim=-1)  # (b, T)
        assert hidden.any()
        bias = mha.out_proj.bias.detach().expand(int(hidden.sum()), -1)
        assert_close(out[hidden], bias)


def test_fused_padding_gradients_are_finite_and_match() -> None:
    mha, fused = make_pair(d_in=4, d_out=4, context_length=5, num_heads=2)
    x = torch.randn(2, 5, 4, requires_grad=True)
    pad = padding_mask([2, 0], num_tokens=5).flip(-1)
    grads = []
    for module in (mha, fused):
        (x_grad,) = torch.autograd.grad(module(x, key_padding_mask=pad).square().sum(), x)
        grads.append(x_grad)
    assert grads[1].isfinite().all()
    assert_close(grads[1], grads[0], **TOL)


def test_fused_gradients_match_the_step_by_step_module() -> None:
    mha, fused = make_pair(d_in=8, d_out=8, context_length=9, num_heads=2, qkv_bias=True)
    x = torch.randn(2, 9, 8)
    for module in (mha, fused):
        module(x).pow(2).sum().backward()
    for (name, p), q in zip(mha.named_parameters(), fused.parameters(), strict=True):
        assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_fused_unbatched_input_and_return_weights() -> None:
    mha, fused = make_pair()
    x = torch.randn(5, 8)
    pad = torch.tensor([False, False, False, True, True])
    assert fused(x).shape == (5, 8)
    assert_close(fused(x, key_padding_mask=pad), mha(x, key_padding_mask=pad), **TOL)
    # The fused kernel forms no weights: asking for them takes the parent's path.
    out, weights = fused(x, return_weights=True)
    expected_out, expected_weights = mha(x, return_weights=True)
    assert weights.shape == (2, 5, 5)
    assert_close(weights, expected_weights)
    assert_close(out, expected_out)


def test_fused_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 8, 16, dropout=0.5, num_heads=2)
    fused = FusedMultiHeadAttention.from_module(mha)
    assert fused.training
    assert fused.dropout.p == 0.5
    x = torch.randn(2, 16, 8)
    train_a, train_b = fused(x), fused(x)
    assert not torch.allclose(train_a, train_b)  # a fresh dropout mask each call
    fused.eval()
    mha.eval()
    assert_close(fused(x), mha(x), **TOL)
    assert torch.equal(fused(x), fused(x))


def test_from_module_copies_sizes_weights_and_mode() -> None:
    torch.manual_seed(1)
    mha = MultiHeadAttention(6, 4, 9, dropout=0.25, num_heads=2, qkv_bias=True).eval()
    fused = FusedMultiHeadAttention.from_module(mha)
    assert isinstance(fused, MultiHeadAttention)
    assert (fused.d_in, fused.d_out, fused.context_length, fused.num_heads) == (6, 4, 9, 2)
    assert fused.dropout.p == 0.25
    assert not fused.training
    assert fused.W_query.bias is not None
    for key, value in mha.state_dict().items():
        assert torch.equal(fused.state_dict()[key], value)
        assert fused.state_dict()[key].data_ptr() != value.data_ptr()  # a copy
    with pytest.raises(TypeError, match="module: expected a MultiHeadAttention"):
        FusedMultiHeadAttention.from_module(nn.Linear(2, 2))


def test_from_module_keeps_the_dtype() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 4, 5, dropout=0.0, num_heads=2).double()
    fused = FusedMultiHeadAttention.from_module(mha)
    assert fused.W_query.weight.dtype == torch.float64
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    assert_close(fused(x), mha(x), atol=1e-12, rtol=1e-12)


def test_fused_validates_like_the_parent() -> None:
    _, fused = make_pair(d_in=8, context_length=12)
    with pytest.raises(ValueError, match="x: expected"):
        fused(torch.randn(2, 4, 7))
    with pytest.raises(ValueError, match="context_length=12"):
        fused(torch.randn(2, 13, 8))
    with pytest.raises(ValueError, match="key_padding_mask"):
        fused(torch.randn(2, 4, 8), key_padding_mask=torch.zeros(2, 5, dtype=torch.bool))


@pytest.mark.parametrize(
    ("x", "key_padding_mask", "error", "match"),
    [
        (
            torch.ones(2, 4, 8, dtype=torch.int64),
            None,
            TypeError,
            r"x: expected a floating-point tensor, got dtype torch.int64",
        ),
        (torch.ones(2, 0, 8), None, ValueError, r"x: expected at least one element.*\(2, 0, 8\)"),
        (torch.ones(8), None, ValueError, r"x: expected a 2-D or 3-D tensor, got shape \(8,\)"),
        (torch.ones(1, 2, 4, 8), None, ValueError, r"x: expected a 2-D or 3-D tensor, got shape"),
        (
            torch.ones(2, 4, 8),
            torch.zeros(2, 4, dtype=torch.int64),
            TypeError,
            r"key_padding_mask: expected dtype torch.bool \(True = masked out\), got torch.int64",
        ),
        (
            torch.ones(2, 4, 8),
            torch.zeros(2, 4).tolist(),
            TypeError,
            r"key_padding_mask: expected a boolean torch.Tensor, got list",
        ),
    ],
)
def test_fused_rejects_bad_x_and_masks(x, key_padding_mask, error, match) -> None:
    _, fused = make_pair(d_in=8, context_length=12)
    with pytest.raises(error, match=match):
        fused(x, key_padding_mask)


def test_fused_propagates_nan_like_the_step_by_step_module() -> None:
    # NaN in, NaN out, as in PyTorch: no exception. A NaN token in the first sequence
    # makes its outputs NaN; the second sequence never meets it and stays finite, and
    # both modules agree everywhere, NaN for NaN.
    mha, fused = make_pair(d_in=8, context_length=12)
    x = torch.randn(2, 4, 8)
    x[0, 2] = torch.nan
    with torch.no_grad():
        out = fused(x)
        expected = mha(x)
    assert out[0].isnan().any()
    assert not out[1].isnan().any()
    assert_close(out, expected, equal_nan=True, **TOL)


def test_fused_d_out_must_split_into_heads() -> None:
    with pytest.raises(ValueError, match=r"d_out: must be divisible by num_heads=3.*got d_out=8"):
        FusedMultiHeadAttention(4, 8, context_length=5, dropout=0.0, num_heads=3)


@pytest.mark.parametrize("flag", ["no", 1, None])
def test_fused_rejects_a_non_bool_return_weights(flag) -> None:
    _, fused = make_pair()
    with pytest.raises(TypeError, match=r"return_weights: expected True or False, got"):
        fused(torch.randn(2, 4, 8), return_weights=flag)


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_fused_training_dropout_scales_the_kept_weight_by_1_over_1_minus_p(p: float) -> None:
    # Under the causal mask the first query sees only key 0, with weight exactly 1. In
    # training that weight is dropped (0) or kept and scaled to 1 / (1 - p), separately for
    # every head; with an identity output projection the first row of each head's columns
    # is therefore 0 or that head's value of token 0 times 1 / (1 - p).
    torch.manual_seed(0)
    fused = FusedMultiHeadAttention(4, 6, context_length=5, dropout=p, num_heads=3)
    with torch.no_grad():
        fused.out_proj.weight.copy_(torch.eye(6))
        fused.out_proj.bias.zero_()
    x = torch.randn(300, 3, 4)
    with torch.no_grad():
        first = fused(x)[:, 0].reshape(300, 3, 2)  # (b, heads, head_dim)
        value = (x[:, 0] @ fused.W_value.weight.T).reshape(300, 3, 2)  # token 0's values
    kept = first.abs().sum(-1) > 0  # (b, heads)
    assert_close(first[kept], value[kept] / (1 - p))
    assert (first[~kept] == 0).all()
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.06)


# --- tiled attention with an online softmax ---------------------------------------


@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    num_queries=st.integers(1, 40),
    num_keys=st.integers(1, 40),
    d_k=st.integers(1, 16),
    d_v=st.integers(1, 16),
    block_size=st.integers(1, 48),
    causal=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_tiled_equals_naive_attention(
    lead, num_queries, num_keys, d_k, d_v, block_size, causal, dtype, seed
):
    if causal:  # bottom-right: at most as many queries as keys
        num_queries, num_keys = min(num_queries, num_keys), max(num_queries, num_keys)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, num_queries, d_k, generator=g, dtype=dtype)
    k = torch.randn(*lead, num_keys, d_k, generator=g, dtype=dtype)
    v = torch.randn(*lead, num_keys, d_v, generator=g, dtype=dtype)
    tol = TOL if dtype == torch.float32 else {"atol": 1e-12, "rtol": 1e-12}
    out = tiled_attention(q, k, v, block_size=block_size, causal=causal)
    assert out.shape == (*lead, num_queries, d_v)
    assert out.dtype == dtype
    assert_close(out.double(), reference_attention(q, k, v, causal), **tol)
    if num_queries == num_keys or not causal:
        assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), **tol)
        mask = causal_mask(num_queries) if causal else None
        assert_close(out, scaled_dot_product_attention(q, k, v, mask)[0], **tol)


def test_tiled_is_stable_for_large_scores() -> None:
    # Scores of several thousand overflow a naive exp; the running max keeps them in range.
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 50, 8, dtype=torch.float64) * 30 for _ in range(3))
    assert (q @ k.transpose(-2, -1)).abs().max() / math.sqrt(8) > 1000
    for causal in (False, True):
        out = tiled_attention(q, k, v, block_size=7, causal=causal)
        assert out.isfinite().all()
        assert_close(out, reference_attention(q, k, v, causal))


def test_tiled_gradients_match_the_fused_function() -> None:
    torch.manual_seed(0)
    inputs = [torch.randn(2, 3, 20, 4, requires_grad=True) for _ in range(3)]
    grads = []
    for fn in (
        lambda q, k, v: tiled_attention(q, k, v, block_size=6, causal=True),
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    ):
        grads.append(torch.autograd.grad(fn(*inputs).sin().sum(), inputs))
    for tiled_grad, fused_grad in zip(*grads, strict=True):
        assert_close(tiled_grad, fused_grad, **TOL)


def grads_of(fn, inputs, grad_output):
    """The gradients of <fn(*inputs), grad_output> with respect to every input."""
    return torch.autograd.grad(fn(*inputs), inputs, grad_output)


def random_inputs(shape_q, shape_k, d_v, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*shape_q, generator=g, dtype=dtype, requires_grad=True)
    k = torch.randn(*shape_k, generator=g, dtype=dtype, requires_grad=True)
    v = torch.randn(*shape_k[:-1], d_v, generator=g, dtype=dtype, requires_grad=True)
    grad_output = torch.randn(*shape_q[:-1], d_v, generator=g, dtype=dtype)
    return (q, k, v), grad_output


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_size", [1, 4, 7, 64])
def test_tiled_gradients_equal_pytorchs_in_float64(causal: bool, block_size: int) -> None:
    inputs, grad_output = random_inputs((2, 3, 19, 8), (2, 3, 19, 8), 5)
    tiled = grads_of(
        lambda q, k, v: tiled_attention(q, k, v, block_size, causal), inputs, grad_output
    )
    fused = grads_of(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
        inputs,
        grad_output,
    )
    for name, mine, theirs in zip("qkv", tiled, fused, strict=True):
        assert_close(mine, theirs, atol=1e-12, rtol=1e-10, msg=name)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_size", [1, 4, 7, 64])
def test_tiled_with_padding_equals_pytorch_and_hides_padding(causal: bool, block_size: int) -> None:
    # Right padding: lengths 19 and 11; every query sees key 0, so no row is empty.
    inputs, grad_output = random_inputs((2, 3, 19, 8), (2, 3, 19, 8), 5, seed=3)
    pad = padding_mask([19, 11], num_tokens=19)  # (b, T), True at padding
    tiled = grads_of(
        lambda q, k, v: tiled_attention(q, k, v, block_size, causal, key_padding_mask=pad[:, None]),
        inputs,
        grad_output,
    )
    allowed = ~pad[:, None, None, :]  # PyTorch's boolean mask: True = may attend
    if causal:
        allowed = allowed & torch.ones(19, 19, dtype=torch.bool).tril()
    fused = grads_of(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=allowed),
        inputs,
        grad_output,
    )
    for name, mine, theirs in zip("qkv", tiled, fused, strict=True):
        assert_close(mine, theirs, atol=1e-12, rtol=1e-10, msg=name)
    # the padding keys and values of the second sequence receive no gradient
    assert torch.all(tiled[1][1, :, 11:] == 0)
    assert torch.all(tiled[2][1, :, 11:] == 0)


@pytest.mark.parametrize("causal", [False, True])
def test_tiled_query_that_sees_no_key_gets_zeros_and_zero_gradients(causal: bool) -> None:
    # Left padding: the first queries of the second sequence see only padding keys (causal),
    # and the third sequence is all padding: the book's rule gives them zero context vectors.
    inputs, grad_output = random_inputs((3, 2, 9, 4), (3, 2, 9, 4), 4, seed=4)
    pad = padding_mask([9, 5, 0], num_tokens=9).flip(-1)  # (b, T)
    mask = pad[:, None, None, :] | (causal_mask(9) if causal else torch.zeros(9, 9).bool())
    for block_size in (2, 3, 9):
        tiled = tiled_attention(*inputs, block_size, causal, key_padding_mask=pad[:, None])
        expected, _ = scaled_dot_product_attention(*inputs, mask)
        assert_close(tiled, expected, atol=1e-12, rtol=1e-10)
        assert torch.all(tiled[2] == 0)
        mine = torch.autograd.grad(tiled, inputs, grad_output)
        theirs = torch.autograd.grad(expected, inputs, grad_output)
        for name, a, b in zip("qkv", mine, theirs, strict=True):
            assert torch.isfinite(a).all(), name
            assert_close(a, b, atol=1e-12, rtol=1e-10, msg=name)


def test_tiled_with_padding_passes_gradcheck() -> None:
    inputs, _ = random_inputs((2, 5, 3), (2, 6, 3), 2, seed=5)
    pad = torch.tensor([[False, True, False, False, True, False], [True] * 6])  # (b, T_k)
    assert torch.autograd.gradcheck(
        lambda q, k, v: tiled_attention(q, k, v, 2, True, key_padding_mask=pad), inputs
    )


@pytest.mark.parametrize(("num_queries", "num_keys"), [(1, 9), (3, 10), (5, 13), (8, 8)])
def test_tiled_bottom_right_causal_gradients_equal_an_explicit_mask(
    num_queries: int, num_keys: int
) -> None:
    inputs, grad_output = random_inputs((2, num_queries, 6), (2, num_keys, 6), 4, seed=1)
    tiled = grads_of(lambda q, k, v: tiled_attention(q, k, v, 3, causal=True), inputs, grad_output)
    reference = grads_of(
        lambda q, k, v: reference_attention(q, k, v, causal=True), inputs, grad_output
    )
    for name, mine, theirs in zip("qkv", tiled, reference, strict=True):
        assert_close(mine, theirs, atol=1e-12, rtol=1e-10, msg=name)
    # the last query sees every key, as a decoding step does
    out = tiled_attention(*inputs, block_size=3, causal=True)
    last = F.scaled_dot_product_attention(inputs[0][..., -1:, :], inputs[1], inputs[2])
    assert_close(out[..., -1:, :], last)


@pytest.mark.parametrize(
    ("num_queries", "num_keys", "causal"), [(5, 5, True), (3, 7, True), (4, 6, False)]
)
def test_tiled_passes_gradcheck(num_queries: int, num_keys: int, causal: bool) -> None:
    inputs, _ = random_inputs((2, num_queries, 3), (2, num_keys, 3), 2, seed=2)
    assert torch.autograd.gradcheck(
        lambda q, k, v: tiled_attention(q, k, v, block_size=2, causal=causal), inputs
    )


@given(
    lead=st.lists(st.integers(1, 2), min_size=0, max_size=2),
    num_queries=st.integers(1, 24),
    num_keys=st.integers(1, 24),
    d_k=st.integers(1, 8),
    d_v=st.integers(1, 8),
    block_size=st.integers(1, 30),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_tiled_gradients_equal_the_reference_for_any_shape(
    lead, num_queries, num_keys, d_k, d_v, block_size, causal, seed
):
    if causal:
        num_queries, num_keys = min(num_queries, num_keys), max(num_queries, num_keys)
    inputs, grad_output = random_inputs(
        (*lead, num_queries, d_k), (*lead, num_keys, d_k), d_v, seed
    )
    tiled = grads_of(
        lambda q, k, v: tiled_attention(q, k, v, block_size, causal), inputs, grad_output
    )
    reference = grads_of(lambda q, k, v: reference_attention(q, k, v, causal), inputs, grad_output)
    for name, mine, theirs in zip("qkv", tiled, reference, strict=True):
        assert_close(mine, theirs, atol=1e-11, rtol=1e-9, msg=name)


def test_tiled_backward_never_allocates_the_score_matrix() -> None:
    num_tokens, head_dim = 1024, 16
    q, k, v = (torch.randn(1, 2, num_tokens, head_dim, requires_grad=True) for _ in range(3))
    scores_bytes = 2 * num_tokens * num_tokens * 4  # (1, 2, T, T) float32
    out = tiled_attention(q, k, v, block_size=64, causal=True)
    tiled = largest_allocation(lambda: out.sum().backward())
    # the backward node's event counts what it allocates: three (1, 2, T, head_dim) gradients
    assert tiled <= 3 * 2 * num_tokens * head_dim * 4 < scores_bytes // 8


def largest_allocation(fn) -> int:
    """The most bytes any single operator allocated while ``fn`` ran."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return max(event.cpu_memory_usage for event in prof.events())


def test_tiled_never_allocates_the_score_matrix() -> None:
    num_tokens, head_dim = 1024, 16
    q, k, v = torch.randn(3, 1, 2, num_tokens, head_dim).unbind(0)
    scores_bytes = 2 * num_tokens * num_tokens * 4  # (1, 2, T, T) float32
    # The naive computation allocates the whole score matrix at once ...
    naive = largest_allocation(lambda: scaled_dot_product_attention(q, k, v))
    assert naive >= scores_bytes
    # ... the tiled one nothing larger than its (1, 2, T, head_dim) output.
    tiled = largest_allocation(lambda: tiled_attention(q, k, v, block_size=64, causal=True))
    assert tiled <= 2 * num_tokens * head_dim * 4 < scores_bytes // 8


def test_tiled_input_errors() -> None:
    x = torch.randn(2, 5, 4)
    with pytest.raises(
        ValueError,
        match=r"causal: needs at most as many queries as keys .* got 5 queries and 4 keys",
    ):
        tiled_attention(x, torch.randn(2, 4, 4), torch.randn(2, 4, 4), causal=True)
    with pytest.raises(ValueError, match="block_size"):
        tiled_attention(x, x, x, block_size=0)
    with pytest.raises(TypeError, match="block_size"):
        tiled_attention(x, x, x, block_size=2.5)
    with pytest.raises(TypeError, match="causal"):
        tiled_attention(x, x, x, causal=1)
    with pytest.raises(ValueError, match="leading dimensions"):
        tiled_attention(x, torch.randn(3, 5, 4), torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match="key: expected the last dimension to be d_k=4"):
        tiled_attention(x, torch.randn(2, 5, 3), x)
    with pytest.raises(ValueError, match="value: expected one value per key"):
        tiled_attention(x, x, torch.randn(2, 6, 4))
    with pytest.raises(TypeError, match="one dtype"):
        tiled_attention(x, x, x.double())
    with pytest.raises(TypeError, match=r"query: expected a torch\.Tensor"):
        tiled_attention(x.numpy(), x, x)
    with pytest.raises(TypeError, match=r"key_padding_mask: expected dtype torch.bool"):
        tiled_attention(x, x, x, key_padding_mask=torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"key_padding_mask: expected a shape that broadcasts"):
        tiled_attention(x, x, x, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))


X = torch.ones(2, 5, 4)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (
            (X.long(), X, X),
            TypeError,
            r"query: expected a floating-point tensor, got dtype torch.int64",
        ),
        (
            (X, X.int(), X),
            TypeError,
            r"key: expected a floating-point tensor, got dtype torch.int32",
        ),
        (
            (torch.ones(2, 0, 4), X, X),
            ValueError,
            r"query: expected at least one element, got an empty tensor of shape \(2, 0, 4\)",
        ),
        (
            (X, torch.ones(2, 0, 4), torch.ones(2, 0, 4)),
            ValueError,
            r"key: expected at least one element, got an empty tensor of shape \(2, 0, 4\)",
        ),
        (
            (torch.ones(4), X, X),
            ValueError,
            r"query: expected a 2-D to 8-D tensor, got shape \(4,\)",
        ),
        (
            (torch.ones((1,) * 8 + (4,)),) * 3,
            ValueError,
            r"query: expected a 2-D to 8-D tensor, got shape \(1, 1, 1, 1, 1, 1, 1, 1, 4\)",
        ),
        ((X, X, torch.ones(5)), ValueError, r"value: expected a 2-D to 8-D tensor, got shape"),
    ],
)
def test_tiled_rejects_bad_tensors(args, error, match) -> None:
    with pytest.raises(error, match=match):
        tiled_attention(*args)


def test_tiled_propagates_nan() -> None:
    # NaN in, NaN out, as in PyTorch: no exception. A NaN query gives a NaN output row;
    # the other rows equal the float64 reference of the clean tensors.
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 9, 4).unbind(0)
    bad = q.clone()
    bad[0, 3] = torch.nan
    out = tiled_attention(bad, k, v, block_size=4)
    assert out[0, 3].isnan().all()
    keep = torch.ones(2, 9, dtype=torch.bool)
    keep[0, 3] = False
    assert not out[keep].isnan().any()
    assert_close(out[keep], reference_attention(q, k, v)[keep].float())
