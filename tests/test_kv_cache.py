"""Tests of attention_examples.kv_cache: the KV cache, decoding and generating.

Every expected value comes from an independent computation: PyTorch's own
``scaled_dot_product_attention``, or the package's step-by-step ``MultiHeadAttention``
run on the whole sequence.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close
from torch.utils.flop_counter import FlopCounterMode

from attention_examples import (
    FusedMultiHeadAttention,
    KVCache,
    MultiHeadAttention,
    decode_step,
    generate,
)

TOL = {"atol": 1e-5, "rtol": 1e-5}  # float32


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
    # The cache holds exactly the keys and values of the full computation, one
    # (b, heads, T, head_dim) block per tensor: (b, T, d_out) -> (b, T, heads, head_dim)
    # -> (b, heads, T, head_dim).
    with torch.no_grad():
        keys = module.W_key(x).view(3, 10, 2, 4).transpose(1, 2)
        values = module.W_value(x).view(3, 10, 2, 4).transpose(1, 2)
    assert_close(cache.keys, keys)
    assert_close(cache.values, values)


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


def test_nan_propagates_through_decoding_and_generating() -> None:
    # NaN in, NaN out, as in PyTorch: no exception. The first prompt token of the first
    # sequence is NaN: every later output of that sequence attends to its NaN value, the
    # second sequence never meets it. With and without the cache, NaN for NaN.
    torch.manual_seed(0)
    mha = MultiHeadAttention(*GEN_MHA_ARGS)
    prompt = torch.randn(2, 2, 4)
    prompt[0, 0] = torch.nan
    with torch.no_grad():
        fast = generate(mha, prompt, 3)
        slow = generate(mha, prompt, 3, use_cache=False)
        step = decode_step(mha, prompt, KVCache(8))
    assert fast[0, 2:].isnan().all()
    assert not fast[1].isnan().any()
    assert_close(fast, slow, equal_nan=True, **TOL)
    assert step[0].isnan().all()
    assert_close(step, mha(prompt), equal_nan=True, **TOL)


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
    with pytest.raises(
        ValueError,
        match=r"keys: expected \(b, heads, head_dim, head_dim_v\) = \(2, 3, 4, 6\) like the "
        r"cache, got \(1, 3, 4, 6\)",
    ):
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
            # values of another dtype than the cache must be refused, not cast on storing
            r"values: expected .*torch\.float32.*got .*torch\.bfloat16",
        ),
        (
            torch.ones(1, 2, 1, 3, device="meta"),
            torch.ones(1, 2, 1, 3, device="meta"),
            ValueError,
            r"keys: expected a tensor on cpu like the cache, got one on meta",
        ),
        (
            torch.ones(1, 2, 1, 3),
            torch.ones(1, 2, 1, 3, device="meta"),
            ValueError,
            # values on another device than the cache: a named error, not a failing copy
            r"values: expected .*cpu.*got .*meta",
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


def test_kv_cache_refuses_keys_and_values_of_two_dtypes_at_the_first_append() -> None:
    # The first append allocates the storage: keys and values must share one dtype, or
    # every later product of weights and values would fail inside attend.
    cache = KVCache(max_tokens=4)
    with pytest.raises(TypeError, match=r"values: expected .*dtype.*torch\.float64"):
        cache.append(torch.zeros(1, 2, 1, 3), torch.zeros(1, 2, 1, 3, dtype=torch.float64))
    assert len(cache) == 0


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
        r"\(b, heads, head_dim, head_dim_v\) = \(2, 2, 2, 2\) like the cache, "
        r"got \(1, 2, 2, 2\)",
    ):
        decode_step(mha, torch.randn(1, 1, 4), cache)
    assert len(cache) == 1  # nothing was stored


def test_decode_step_names_a_cache_of_another_module_shape() -> None:
    cache = KVCache(6)
    decode_step(MultiHeadAttention(4, 4, 6, 0.0, num_heads=2), torch.randn(1, 1, 4), cache)
    with pytest.raises(
        ValueError,
        match=r"cache: cannot take .*keys: expected \(b, heads, head_dim, head_dim_v\) = "
        r"\(1, 2, 2, 2\) like the cache, got \(1, 4, 1, 1\)",
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
