"""Tests of attention_examples.fast_attention: the fused path, tiled attention, the KV cache.

Every expected value comes from an independent computation: PyTorch's own
``scaled_dot_product_attention`` and ``nn.MultiheadAttention``, a float64 softmax
written out here, or the package's step-by-step ``MultiHeadAttention``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch.testing import assert_close
from torch.utils.flop_counter import FlopCounterMode

from attention_examples import (
    FusedMultiHeadAttention,
    KVCache,
    MultiHeadAttention,
    causal_mask,
    decode_step,
    generate,
    load_benchmark_results,
    padding_mask,
    plot_benchmark,
    scaled_dot_product_attention,
    tiled_attention,
)

RESULTS = Path(__file__).parents[1] / "benchmarks" / "results.json"
TOL = {"atol": 1e-5, "rtol": 1e-5}  # float32


def reference_attention(query, key, value, causal=False):
    """softmax(Q K^T / sqrt(d_k)) V in float64, written out independently."""
    q, k, v = (t.double() for t in (query, key, value))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(causal_mask(scores.shape[-1]), -math.inf)
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
        (torch.full((2, 4, 8), torch.nan), None, ValueError, r"x: expected finite numbers"),
        (torch.full((2, 4, 8), torch.inf), None, ValueError, r"x: expected finite numbers"),
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
    if causal:
        num_keys = num_queries
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, num_queries, d_k, generator=g, dtype=dtype)
    k = torch.randn(*lead, num_keys, d_k, generator=g, dtype=dtype)
    v = torch.randn(*lead, num_keys, d_v, generator=g, dtype=dtype)
    tol = TOL if dtype == torch.float32 else {"atol": 1e-12, "rtol": 1e-12}
    out = tiled_attention(q, k, v, block_size=block_size, causal=causal)
    assert out.shape == (*lead, num_queries, d_v)
    assert out.dtype == dtype
    assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), **tol)
    assert_close(out.double(), reference_attention(q, k, v, causal), **tol)
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
    with pytest.raises(ValueError, match="causal: needs as many queries as keys"):
        tiled_attention(x, torch.randn(2, 6, 4), torch.randn(2, 6, 4), causal=True)
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


X = torch.ones(2, 5, 4)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (
            (torch.full((2, 5, 4), torch.nan), X, X),
            ValueError,
            r"query: expected finite numbers, got NaN or infinite values",
        ),
        (
            (X, torch.full((2, 5, 4), torch.inf), X),
            ValueError,
            r"key: expected finite numbers, got NaN or infinite values",
        ),
        (
            (X, X, torch.full((2, 5, 4), -torch.inf)),
            ValueError,
            r"value: expected finite numbers, got NaN or infinite values",
        ),
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


# --- the KV cache -----------------------------------------------------------------


@pytest.mark.parametrize("cls", [MultiHeadAttention, FusedMultiHeadAttention])
def test_token_by_token_decoding_equals_full_recomputation(cls) -> None:
    torch.manual_seed(0)
    module = cls(6, 8, context_length=10, dropout=0.0, num_heads=2, qkv_bias=True)
    x = torch.randn(3, 10, 6)
    cache = KVCache(max_tokens=10)
    rows = [decode_step(module, x[:, t : t + 1], cache) for t in range(10)]
    assert len(cache) == 10
    assert_close(torch.cat(rows, dim=1), module(x), **TOL)
    # The cache holds exactly the keys and values of the full computation.
    assert_close(cache.keys, module.split_heads(module.W_key(x)))
    assert_close(cache.values, module.split_heads(module.W_value(x)))


@given(
    splits=st.lists(st.integers(1, 5), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_decoding_in_chunks_equals_full_recomputation(splits, seed):
    # A prompt of several tokens, then more chunks: each chunk is causal inside.
    torch.manual_seed(seed)
    mha = MultiHeadAttention(4, 6, context_length=30, dropout=0.0, num_heads=3)
    total = sum(splits)
    x = torch.randn(2, total, 4)
    cache, outputs, start = KVCache(30), [], 0
    for n in splits:
        outputs.append(decode_step(mha, x[:, start : start + n], cache))
        start += n
    assert_close(torch.cat(outputs, dim=1), mha(x), **TOL)


def matmul_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_a_cached_step_costs_linear_time_a_recomputation_quadratic() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 8, context_length=600, dropout=0.0, num_heads=2)
    x = torch.randn(1, 513, 8)
    cached, recomputed = [], []
    for t in (128, 256, 512):
        cache = KVCache(600)
        decode_step(mha, x[:, :t], cache)
        cached.append(matmul_flops(lambda t=t, c=cache: decode_step(mha, x[:, t : t + 1], c)))
        recomputed.append(matmul_flops(lambda t=t: mha(x[:, : t + 1])))
    # f(t) = a + b t exactly: doubling t adds twice as much the second time.
    assert cached[2] - cached[1] == 2 * (cached[1] - cached[0])
    # The recomputation grows faster than linearly (its scores are (t+1) x (t+1)).
    assert recomputed[2] - recomputed[1] > 3 * (recomputed[1] - recomputed[0])
    assert recomputed[2] > 100 * cached[2]


def test_generate_with_and_without_cache_agree() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 4, context_length=16, dropout=0.0, num_heads=2).eval()
    prompt = torch.randn(2, 3, 4)
    fast = generate(mha, prompt, num_steps=13)
    slow = generate(mha, prompt, num_steps=13, use_cache=False)
    assert fast.shape == (2, 16, 4)
    assert torch.equal(fast[:, :3], prompt)
    assert_close(fast, slow, **TOL)
    # Each generated input is the output at the position before it.
    assert_close(mha(fast[:, :-1])[:, 2:], fast[:, 3:], **TOL)


def test_generate_with_a_custom_next_input_and_its_errors() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(3, 4, context_length=8, dropout=0.0, num_heads=2)
    project = nn.Linear(4, 3)
    prompt = torch.randn(1, 2, 3)
    fast = generate(mha, prompt, 5, next_input=lambda h: torch.tanh(project(h)))
    slow = generate(mha, prompt, 5, next_input=lambda h: torch.tanh(project(h)), use_cache=False)
    assert_close(fast, slow, **TOL)
    with pytest.raises(ValueError, match="next_input: needed to map outputs of size d_out=4"):
        generate(mha, prompt, 2)
    with pytest.raises(ValueError, match="next_input: expected to return a tensor of shape"):
        generate(mha, prompt, 2, next_input=lambda h: h)
    with pytest.raises(ValueError, match="num_steps: 2 prompt tokens \\+ 7 steps exceed"):
        generate(mha, prompt, 7, next_input=lambda h: project(h))
    with pytest.raises(TypeError, match="use_cache"):
        generate(mha, prompt, 2, next_input=project, use_cache="yes")


GEN_MHA_ARGS = (4, 4, 8, 0.0, 2)


@pytest.mark.parametrize(
    ("prompt", "error", "match"),
    [
        (
            torch.randn(1, 2, 4, dtype=torch.float64),
            TypeError,
            r"prompt: expected dtype torch.float32 like the module's weights, got torch.float64",
        ),
        (
            torch.empty(1, 2, 4, device="meta"),
            ValueError,
            r"prompt: expected a tensor on cpu like the module's weights, got one on meta",
        ),
        (torch.randn(2, 4), ValueError, r"prompt: expected a 3-D tensor, got shape \(2, 4\)"),
        (
            torch.full((1, 2, 4), torch.nan),
            ValueError,
            r"prompt: expected finite numbers, got NaN or infinite values",
        ),
        (
            torch.ones(1, 2, 4, dtype=torch.int64),
            TypeError,
            r"prompt: expected a floating-point tensor, got dtype torch.int64",
        ),
    ],
)
def test_generate_rejects_a_prompt_that_does_not_fit_the_module(prompt, error, match) -> None:
    mha = MultiHeadAttention(*GEN_MHA_ARGS)
    with pytest.raises(error, match=match):
        generate(mha, prompt, 2)


@pytest.mark.parametrize("next_input", [5, "tanh", torch.ones(1, 1, 4)])
def test_generate_rejects_a_next_input_that_is_not_callable(next_input) -> None:
    mha = MultiHeadAttention(*GEN_MHA_ARGS)
    with pytest.raises(TypeError, match=r"next_input: expected a function from outputs to inputs"):
        generate(mha, torch.randn(1, 2, 4), 2, next_input=next_input)


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize(
    ("next_input", "error", "match"),
    [
        (
            lambda h: h.double(),
            TypeError,
            r"next_input: expected to return dtype torch.float32 like the prompt, "
            r"got torch.float64",
        ),
        (
            lambda h: h.to("meta"),
            ValueError,
            r"next_input: expected to return a tensor on cpu like the prompt, got one on meta",
        ),
    ],
)
def test_generate_checks_the_dtype_and_device_next_input_returns(
    next_input, error, match, use_cache
) -> None:
    mha = MultiHeadAttention(*GEN_MHA_ARGS)
    with pytest.raises(error, match=match):
        generate(mha, torch.randn(1, 2, 4), 2, next_input=next_input, use_cache=use_cache)


def test_kv_cache_appends_in_place_and_checks_shapes() -> None:
    cache = KVCache(max_tokens=5)
    assert len(cache) == 0
    with pytest.raises(RuntimeError, match="KVCache: is empty"):
        _ = cache.keys
    keys, values = cache.append(torch.ones(2, 3, 2, 4), torch.zeros(2, 3, 2, 6))
    storage = keys.data_ptr()
    keys, values = cache.append(torch.full((2, 3, 1, 4), 2.0), torch.ones(2, 3, 1, 6))
    assert keys.shape == (2, 3, 3, 4)
    assert values.shape == (2, 3, 3, 6)
    assert keys.data_ptr() == storage  # the history was not copied
    assert keys[:, :, 2].eq(2.0).all()
    assert keys[:, :, :2].eq(1.0).all()
    assert "3 of 5" in repr(cache)
    with pytest.raises(ValueError, match="do not fit"):
        cache.append(torch.ones(2, 3, 3, 4), torch.ones(2, 3, 3, 6))
    with pytest.raises(ValueError, match="keys: expected \\(b, heads, n, dim\\)"):
        cache.append(torch.ones(1, 3, 1, 4), torch.ones(1, 3, 1, 6))
    with pytest.raises(ValueError, match="values: expected \\(b, heads, n\\)"):
        cache.append(torch.ones(2, 3, 1, 4), torch.ones(2, 3, 2, 6))
    cache.truncate(1)
    assert len(cache) == 1
    with pytest.raises(ValueError, match="num_tokens: expected 0 to 1"):
        cache.truncate(2)
    with pytest.raises(ValueError, match="max_tokens"):
        KVCache(0)


@pytest.mark.parametrize(
    ("keys", "values", "error", "match"),
    [
        (
            torch.ones(1, 2, 1, 3, dtype=torch.float64),
            torch.ones(1, 2, 1, 3, dtype=torch.float64),
            TypeError,
            r"keys: expected dtype torch.float32 like the cache, got torch.float64",
        ),
        (
            torch.ones(1, 2, 1, 3),
            torch.ones(1, 2, 1, 3, dtype=torch.bfloat16),
            TypeError,
            r"values: expected dtype torch.float32 like the cache, got torch.bfloat16",
        ),
        (
            torch.ones(1, 2, 1, 3, device="meta"),
            torch.ones(1, 2, 1, 3, device="meta"),
            ValueError,
            r"keys: expected a tensor on cpu like the cache, got one on meta",
        ),
    ],
)
def test_kv_cache_refuses_another_dtype_or_device(keys, values, error, match) -> None:
    cache = KVCache(max_tokens=4)
    cache.append(torch.zeros(1, 2, 1, 3), torch.zeros(1, 2, 1, 3))
    with pytest.raises(error, match=match):
        cache.append(keys, values)
    assert len(cache) == 1  # nothing was stored
    assert cache.keys.dtype == torch.float32


def test_kv_cache_truncate_accepts_numpy_ints() -> None:
    cache = KVCache(max_tokens=4)
    cache.append(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    cache.truncate(np.int64(2))
    assert len(cache) == 2
    assert type(len(cache)) is int
    cache.truncate(np.int32(0))
    assert len(cache) == 0


@pytest.mark.parametrize(
    ("num_tokens", "error", "match"),
    [
        (1.0, TypeError, r"num_tokens: expected an int, got float 1.0"),
        (True, TypeError, r"num_tokens: expected an int, got bool True"),
        (np.bool_(True), TypeError, r"num_tokens: expected an int, got bool"),
        (np.int64(4), ValueError, r"num_tokens: expected 0 to 3 \(the cached positions\), got 4"),
        (-1, ValueError, r"num_tokens: expected 0 to 3 \(the cached positions\), got -1"),
    ],
)
def test_kv_cache_truncate_rejects(num_tokens, error, match) -> None:
    cache = KVCache(max_tokens=4)
    cache.append(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    with pytest.raises(error, match=match):
        cache.truncate(num_tokens)


def test_decode_step_errors() -> None:
    mha = MultiHeadAttention(4, 4, context_length=3, dropout=0.0, num_heads=2)
    cache = KVCache(10)
    with pytest.raises(TypeError, match="module: expected a MultiHeadAttention"):
        decode_step(nn.Linear(4, 4), torch.randn(1, 1, 4), cache)
    with pytest.raises(TypeError, match="cache: expected a KVCache"):
        decode_step(mha, torch.randn(1, 1, 4), None)
    with pytest.raises(ValueError, match="x: expected a 3-D tensor"):
        decode_step(mha, torch.randn(1, 4), cache)
    with pytest.raises(TypeError, match=r"x: expected dtype torch\.float32"):
        decode_step(mha, torch.randn(1, 1, 4, dtype=torch.float64), cache)
    decode_step(mha, torch.randn(1, 3, 4), cache)
    with pytest.raises(ValueError, match="exceed context_length=3"):
        decode_step(mha, torch.randn(1, 1, 4), cache)


def test_decode_step_names_a_cache_of_another_batch_size() -> None:
    mha = MultiHeadAttention(4, 4, context_length=6, dropout=0.0, num_heads=2)
    cache = KVCache(6)
    decode_step(mha, torch.randn(2, 1, 4), cache)
    with pytest.raises(
        ValueError,
        match=r"cache: cannot take the keys and values of x and module: keys: expected "
        r"\(b, heads, n, dim\) with b, heads, dim = 2, 2, 2 like the cache, "
        r"got shape \(1, 2, 1, 2\)",
    ):
        decode_step(mha, torch.randn(1, 1, 4), cache)
    assert len(cache) == 1  # nothing was stored


def test_decode_step_names_a_cache_of_another_module_shape() -> None:
    cache = KVCache(6)
    decode_step(MultiHeadAttention(4, 4, 6, 0.0, num_heads=2), torch.randn(1, 1, 4), cache)
    with pytest.raises(
        ValueError,
        match=r"cache: cannot take .*keys: expected .* b, heads, dim = 1, 2, 2 like the cache, "
        r"got shape \(1, 4, 1, 1\)",
    ):
        decode_step(MultiHeadAttention(4, 4, 6, 0.0, num_heads=4), torch.randn(1, 1, 4), cache)


def test_decode_step_names_a_cache_of_another_dtype() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 4, context_length=6, dropout=0.0, num_heads=2)
    cache = KVCache(6)
    decode_step(mha, torch.randn(1, 1, 4), cache)
    mha.double()  # the cache still holds float32 keys
    with pytest.raises(
        TypeError,
        match=r"cache: cannot take .*keys: expected dtype torch.float32 like the cache, "
        r"got torch.float64",
    ):
        decode_step(mha, torch.randn(1, 1, 4, dtype=torch.float64), cache)


# --- the committed benchmark results ----------------------------------------------


@pytest.fixture(scope="module")
def results() -> dict:
    loaded = load_benchmark_results()  # the committed file, found next to the package
    assert loaded == json.loads(RESULTS.read_text(encoding="utf-8"))
    return loaded


def test_load_benchmark_results_names_a_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"path: no benchmark results at .*nox -s bench"):
        load_benchmark_results(tmp_path / "results.json")


@pytest.mark.parametrize("path", [5, 2.5, ["results.json"]])
def test_load_benchmark_results_rejects_a_path_that_is_no_file_name(path) -> None:
    with pytest.raises(TypeError, match=r"path: expected a file name \(str or pathlib.Path\)"):
        load_benchmark_results(path)


def test_load_benchmark_results_names_a_malformed_file(tmp_path) -> None:
    bad = tmp_path / "results.json"
    bad.write_text('{"time": ', encoding="utf-8")
    with pytest.raises(ValueError, match=r"path: expected a JSON file of benchmark results at .*"):
        load_benchmark_results(bad)


def test_load_benchmark_results_wants_a_json_object(tmp_path) -> None:
    listed = tmp_path / "results.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match=r"path: expected a JSON object.*got a JSON list"):
        load_benchmark_results(str(listed))


def test_benchmark_results_describe_the_machine_and_the_setting(results) -> None:
    for key in ("cpu", "cores", "os"):
        assert results["machine"][key]
    for key in ("python", "torch", "numpy", "attention_examples"):
        assert results["versions"][key]
    settings = results["settings"]
    assert (settings["batch"], settings["num_tokens"]) == (8, 1024)
    assert (settings["d_model"], settings["num_heads"], settings["dropout"]) == (768, 12, 0.0)
    assert (settings["dtype"], settings["device"]) == ("float32", "cpu")
    assert results["memory"]["tokens"] == [1024, 2048, 4096, 8192]


def test_benchmark_ratios_follow_from_the_stored_times(results) -> None:
    ratios, rounds = results["ratios"], results["comparison"]["rounds"]

    def paired(numerator, denominator):
        pairs = zip(rounds[numerator], rounds[denominator], strict=True)
        ratios_per_round = sorted(a / b for a, b in pairs)
        n = len(ratios_per_round)
        return (ratios_per_round[(n - 1) // 2] + ratios_per_round[n // 2]) / 2

    for ratio in ratios.values():
        if ratio["kind"] == "time":
            expected = paired(ratio["numerator"], ratio["denominator"])
        elif ratio["kind"] == "decode":
            decode = results["decode"]["series"]
            expected = decode[ratio["numerator"]][-1] / decode[ratio["denominator"]][-1]
        else:
            memory = results["memory"]
            column = memory["tokens"].index(ratio["tokens"])
            expected = (
                memory["series"][ratio["numerator"]][column]
                / memory["series"][ratio["denominator"]][column]
            )
        assert ratio["value"] == pytest.approx(expected, rel=1e-9)
        if ratio.get("target") is not None:
            assert ratio["met"] == (ratio["value"] <= ratio["target"])
    assert {"fused_vs_torch_mha", "fused_vs_fused_function", "tiled_vs_naive_memory"} <= set(ratios)


@pytest.mark.parametrize("kind", ["time", "memory", "decode"])
def test_plot_benchmark_draws_every_series(results, kind) -> None:
    ax = plot_benchmark(results, kind)
    names = list(results[kind]["series"])
    assert [line.get_label() for line in ax.get_lines()][: len(names)] == names
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")


def test_plot_benchmark_errors() -> None:
    with pytest.raises(ValueError, match="kind: expected"):
        plot_benchmark({}, "speed")
    with pytest.raises(ValueError, match="results: expected a mapping with a 'time' section"):
        plot_benchmark({}, "time")
    bad = {"time": {"tokens": [1, 2], "series": {"a": [1.0]}}}
    with pytest.raises(ValueError, match="series 'a' of 'time' has 1 values"):
        plot_benchmark(bad, "time")


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"series": {"a": [1.0]}}, r"results: expected the 'time' section to have 'tokens'"),
        ({"tokens": [1, 2]}, r"results: expected the 'time' section to have 'series'"),
        (
            {"tokens": [1, 2], "series": [1.0, 2.0]},
            r"results: expected 'time'\['series'\] to map names to values, got list",
        ),
    ],
)
def test_plot_benchmark_names_results_for_a_malformed_section(section, match) -> None:
    with pytest.raises(ValueError, match=match):
        plot_benchmark({"time": section}, "time")
