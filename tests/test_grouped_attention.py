"""Tests of attention_examples.grouped_attention and the sliding window.

Every expected value comes from an independent computation: PyTorch's own
``scaled_dot_product_attention`` (with ``enable_gqa=True`` for the groups), the
package's ``MultiHeadAttention`` given the same weights, masks written out with loops,
or the published model sizes multiplied out by hand.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from attention_examples import (
    MODEL_CONFIGS,
    CausalAttention,
    FusedMultiHeadAttention,
    GroupedQueryAttention,
    KVCache,
    MultiHeadAttention,
    causal_mask,
    decode_step,
    generate,
    kv_cache_bytes,
    padding_mask,
    reachable,
    scaled_dot_product_attention,
    sliding_window_mask,
)

TOL = {"atol": 1e-5, "rtol": 1e-5}


@st.composite
def gqa_problems(draw, windowed=False):
    seed = draw(st.integers(0, 2**31))
    num_kv_heads = draw(st.integers(1, 3))
    num_heads = num_kv_heads * draw(st.integers(1, 3))
    d_out = num_heads * draw(st.integers(1, 3))
    d_in = draw(st.integers(1, 6))
    context_length = draw(st.integers(1, 8))
    num_tokens = draw(st.integers(1, context_length))
    batch = draw(st.integers(1, 3))
    qkv_bias = draw(st.booleans())
    window = draw(st.integers(1, 5)) if windowed else None
    torch.manual_seed(seed)
    module = GroupedQueryAttention(
        d_in, d_out, context_length, 0.0, num_heads, num_kv_heads, qkv_bias, window=window
    ).eval()
    x = torch.randn(batch, num_tokens, d_in)
    return module, x


def window_mask_by_loops(num_tokens, window):
    return torch.tensor(
        [[not (i - window < j <= i) for j in range(num_tokens)] for i in range(num_tokens)]
    )


# --- GroupedQueryAttention ---------------------------------------------------------


@given(gqa_problems(), st.booleans())
def test_equals_pytorch_enable_gqa_on_its_own_projections(problem, padded) -> None:
    module, x = problem
    b, num_tokens, _ = x.shape
    lengths = torch.randint(1, num_tokens + 1, (b,))
    key_padding = padding_mask(lengths, num_tokens) if padded else None
    out, weights = module(x, key_padding, return_weights=True)
    q, k, v = module.project(x)
    assert k.shape == (b, module.num_kv_heads, num_tokens, module.head_dim)
    allowed = ~causal_mask(num_tokens)  # PyTorch's boolean mask: True = takes part
    if key_padding is not None:
        allowed = (allowed & ~key_padding[:, None, :])[:, None]  # (b, 1, T, T)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, enable_gqa=True)
    merged = expected.transpose(1, 2).reshape(b, num_tokens, module.d_out)
    assert_close(out, module.out_proj(merged), **TOL)
    assert weights.shape == (b, module.num_heads, num_tokens, num_tokens)


@given(gqa_problems())
def test_query_heads_of_a_group_use_the_same_keys(problem) -> None:
    module, x = problem
    q, k, v = module.project(x)
    group = module.num_heads // module.num_kv_heads
    context, _ = module.attention(q, k, v, None, True)
    for h in range(module.num_heads):  # head h against its key/value head h // group alone
        expected, _ = scaled_dot_product_attention(
            q[:, h], k[:, h // group], v[:, h // group], causal_mask(x.shape[1])
        )
        assert_close(context[:, h], expected, **TOL)


@given(st.integers(0, 2**31), st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_as_many_kv_heads_as_heads_is_multi_head_attention(seed, heads, width, bias) -> None:
    torch.manual_seed(seed)
    mha = MultiHeadAttention(5, heads * width, 7, 0.0, heads, qkv_bias=bias)
    gqa = GroupedQueryAttention(5, heads * width, 7, 0.0, heads, heads, qkv_bias=bias)
    gqa.load_state_dict(mha.state_dict())  # same names and shapes
    x = torch.randn(2, 7, 5)
    lengths = padding_mask([7, 3], 7)
    assert_close(gqa(x, lengths), mha(x, lengths), **TOL)


def test_the_key_and_value_projections_shrink_by_the_group_size() -> None:
    gqa = GroupedQueryAttention(16, 16, 4, 0.0, num_heads=8, num_kv_heads=2)
    mha = MultiHeadAttention(16, 16, 4, 0.0, num_heads=8)
    assert gqa.W_query.weight.shape == (16, 16)
    assert gqa.out_proj.weight.shape == (16, 16)
    assert gqa.W_key.weight.shape == gqa.W_value.weight.shape == (2 * 16 // 8, 16)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(mha) - count(gqa) == 2 * 16 * (16 - 4)


def test_multi_query_attention_has_one_key_head() -> None:
    torch.manual_seed(0)
    mqa = GroupedQueryAttention(6, 6, 5, 0.0, num_heads=3, num_kv_heads=1)
    q, k, v = mqa.project(torch.randn(1, 5, 6))
    assert k.shape == v.shape == (1, 1, 5, 2)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    assert_close(mqa.attention(q, k, v, None, False)[0], expected, **TOL)


def test_unbatched_input_gives_unbatched_output() -> None:
    torch.manual_seed(0)
    gqa = GroupedQueryAttention(4, 4, 5, 0.0, 4, 2)
    x = torch.randn(5, 4)
    out, weights = gqa(x, return_weights=True)
    assert_close(out, gqa(x[None])[0])
    assert weights.shape == (4, 5, 5)


@pytest.mark.parametrize(
    ("heads", "kv_heads", "d_out", "words"),
    [(4, 3, 8, ["num_heads=4", "num_kv_heads=3"]), (3, 3, 8, ["num_heads=3", "d_out=8"])],
)
def test_sizes_that_do_not_divide_are_refused_naming_both(heads, kv_heads, d_out, words) -> None:
    with pytest.raises(ValueError, match="divi") as err:
        GroupedQueryAttention(4, d_out, 5, 0.0, heads, kv_heads)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("bad", [0, -1, 2.0, None])
def test_num_kv_heads_must_be_a_positive_int(bad) -> None:
    with pytest.raises((TypeError, ValueError), match="num_kv_heads"):
        GroupedQueryAttention(4, 4, 5, 0.0, 2, bad)


def test_wrong_input_width_is_refused_at_the_boundary() -> None:
    gqa = GroupedQueryAttention(4, 4, 5, 0.0, 2, 1)
    with pytest.raises(ValueError, match="x"):
        gqa(torch.randn(1, 3, 5))


# --- decoding with the grouped cache -----------------------------------------------


@given(gqa_problems())
def test_decoding_token_by_token_equals_the_full_forward(problem) -> None:
    module, x = problem
    cache = KVCache(module.context_length)
    rows = [decode_step(module, x[:, t : t + 1], cache) for t in range(x.shape[1])]
    assert_close(torch.cat(rows, dim=1), module(x), **TOL)
    assert cache.keys.shape[1] == module.num_kv_heads  # only the shared heads are cached


def test_a_prompt_then_single_tokens_equals_the_full_forward() -> None:
    torch.manual_seed(1)
    gqa = GroupedQueryAttention(6, 8, 10, 0.0, num_heads=4, num_kv_heads=2).eval()
    x = torch.randn(2, 10, 6)
    cache = KVCache(10)
    first = decode_step(gqa, x[:, :6], cache)
    rest = [decode_step(gqa, x[:, t : t + 1], cache) for t in range(6, 10)]
    assert_close(torch.cat([first, *rest], dim=1), gqa(x), **TOL)


def test_generate_with_and_without_the_cache_agree() -> None:
    torch.manual_seed(2)
    gqa = GroupedQueryAttention(4, 4, 12, 0.0, num_heads=4, num_kv_heads=1).eval()
    prompt = torch.randn(1, 3, 4)
    assert_close(generate(gqa, prompt, 9), generate(gqa, prompt, 9, use_cache=False), **TOL)


def test_a_cache_of_another_head_count_is_refused() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 4, 6, 0.0, 4)
    gqa = GroupedQueryAttention(4, 4, 6, 0.0, 4, 2)
    cache = KVCache(6)
    decode_step(mha, torch.randn(1, 1, 4), cache)
    with pytest.raises(ValueError, match="cache"):
        decode_step(gqa, torch.randn(1, 1, 4), cache)


# --- the sliding window ------------------------------------------------------------


@given(st.integers(1, 9), st.integers(1, 11))
def test_sliding_window_mask_equals_its_definition(num_tokens, window) -> None:
    assert torch.equal(
        sliding_window_mask(num_tokens, window), window_mask_by_loops(num_tokens, window)
    )


@given(st.integers(1, 9))
def test_a_window_as_long_as_the_sequence_is_the_causal_mask(num_tokens) -> None:
    assert torch.equal(sliding_window_mask(num_tokens, num_tokens), causal_mask(num_tokens))


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_sliding_window_mask_refuses_a_bad_window(bad) -> None:
    with pytest.raises((TypeError, ValueError), match="window"):
        sliding_window_mask(4, bad)


def test_the_mask_works_with_scaled_dot_product_attention() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 7, 4).unbind(0)
    context, weights = scaled_dot_product_attention(q, k, v, sliding_window_mask(7, 3))
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=~window_mask_by_loops(7, 3))
    assert_close(context, expected, **TOL)
    assert (weights[:, 6, :4] == 0).all()
    assert (weights[:, 6, 4:] > 0).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda w: CausalAttention(5, 4, 9, 0.0, window=w),
        lambda w: MultiHeadAttention(5, 4, 9, 0.0, 2, window=w),
        lambda w: FusedMultiHeadAttention(5, 4, 9, 0.0, 2, window=w),
        lambda w: GroupedQueryAttention(5, 4, 9, 0.0, 2, 1, window=w),
    ],
    ids=["causal", "multihead", "fused", "grouped"],
)
def test_the_window_option_hides_the_distant_past(make) -> None:
    torch.manual_seed(0)
    module = make(3).eval()
    x = torch.randn(2, 9, 5)
    y = x.clone()
    y[:, :3] = 10.0  # tokens 0..2, out of the window of tokens 5..8
    assert_close(module(x)[:, 5:], module(y)[:, 5:], **TOL)
    assert not torch.allclose(module(x)[:, 4], module(y)[:, 4])  # token 4 still sees token 2
    wide = make(None).eval()
    wide.load_state_dict(module.state_dict())
    assert not torch.allclose(wide(x)[:, 5:], module(x)[:, 5:])


def test_the_fused_module_with_a_window_equals_the_step_by_step_one() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(6, 6, 8, 0.0, 3, window=2)
    fused = FusedMultiHeadAttention.from_module(mha)
    assert fused.window == 2
    x = torch.randn(2, 8, 6)
    assert_close(fused(x), mha(x), **TOL)
    pad = padding_mask([8, 5], 8)
    assert_close(fused(x, pad), mha(x, pad), **TOL)


@given(gqa_problems(windowed=True), st.integers(1, 4))
def test_ring_buffer_decoding_equals_the_windowed_forward(problem, prompt) -> None:
    module, x = problem
    num_tokens = x.shape[1]
    prompt = min(prompt, num_tokens)
    cache = KVCache(module.context_length, window=module.window)
    rows = [decode_step(module, x[:, :prompt], cache)]
    rows += [decode_step(module, x[:, t : t + 1], cache) for t in range(prompt, num_tokens)]
    assert_close(torch.cat(rows, dim=1), module(x), **TOL)
    assert cache.keys.shape[2] == min(num_tokens, module.window)  # never more than the window


def test_ring_buffer_decoding_far_beyond_the_window() -> None:
    torch.manual_seed(3)
    module = GroupedQueryAttention(6, 8, 40, 0.0, num_heads=4, num_kv_heads=2, window=5).eval()
    x = torch.randn(2, 40, 6)
    full = module(x)
    cache = KVCache(40, window=5)
    for t in range(40):
        assert_close(decode_step(module, x[:, t : t + 1], cache), full[:, t : t + 1], **TOL)
        assert cache._keys is not None
        assert cache._keys.shape[2] == 5
    assert len(cache) == 40


def test_ring_buffer_slots_hold_position_mod_window() -> None:
    cache = KVCache(20, window=4)
    for t in range(11):
        cache.append(torch.full((1, 1, 1, 1), float(t)), torch.zeros(1, 1, 1, 1))
    assert cache.keys.flatten().tolist() == [8.0, 9.0, 10.0, 7.0]
    chunk = KVCache(20, window=4)
    chunk.append(torch.arange(11.0).view(1, 1, 11, 1), torch.zeros(1, 1, 11, 1))
    assert torch.equal(chunk.keys, cache.keys)


def test_generate_with_a_window_uses_a_ring_buffer_and_agrees() -> None:
    torch.manual_seed(4)
    mha = MultiHeadAttention(4, 4, 16, 0.0, 2, window=3).eval()
    prompt = torch.randn(1, 4, 4)
    assert_close(generate(mha, prompt, 12), generate(mha, prompt, 12, use_cache=False), **TOL)


def test_a_cache_without_the_modules_window_is_refused() -> None:
    module = MultiHeadAttention(4, 4, 8, 0.0, 2, window=3)
    with pytest.raises(ValueError, match="window=3"):
        decode_step(module, torch.randn(1, 1, 4), KVCache(8))


def test_a_wrapped_ring_buffer_cannot_be_truncated() -> None:
    cache = KVCache(10, window=2)
    cache.append(torch.zeros(1, 1, 3, 1), torch.zeros(1, 1, 3, 1))
    with pytest.raises(ValueError, match="ring buffer"):
        cache.truncate(2)
    cache.truncate(3)  # nothing to forget
    assert len(cache) == 3


@given(st.integers(1, 6), st.integers(1, 4))
def test_k_layers_reach_k_times_window_minus_one_back(window, num_layers) -> None:
    num_tokens = 30
    reach = reachable(num_tokens, window, num_layers)
    last = num_tokens - 1
    farthest = last - int(reach[last].nonzero().min())
    assert farthest == min(num_layers * (window - 1), last)
    assert not reach.triu(1).any()  # never the future


# --- the cache arithmetic ----------------------------------------------------------


def test_published_configurations() -> None:
    sizes = {c.name: (c.num_layers, c.num_heads, c.num_kv_heads, c.head_dim) for c in MODEL_CONFIGS}
    assert sizes["Llama 3 8B"] == (32, 32, 8, 128)
    assert sizes["Mistral 7B"] == (32, 32, 8, 128)
    assert sizes["Qwen2.5-7B"] == (28, 28, 4, 128)
    assert {c.name: c.window for c in MODEL_CONFIGS}["Mistral 7B"] == 4096


@pytest.mark.parametrize("config", MODEL_CONFIGS, ids=lambda c: c.name)
def test_kv_cache_bytes_multiplies_out(config) -> None:
    per_token = 2 * config.num_layers * config.num_kv_heads * config.head_dim * 2  # K, V, bf16
    assert kv_cache_bytes(config, 1) == per_token
    assert kv_cache_bytes(config, 1, grouped=False) * config.num_kv_heads == (
        per_token * config.num_heads
    )
    cached = 100_000 if config.window is None else config.window
    assert kv_cache_bytes(config, 100_000) == per_token * cached
    assert kv_cache_bytes(config, 100_000, windowed=False) == per_token * 100_000
    assert kv_cache_bytes(config, 3, bytes_per_value=4) == 2 * per_token * 3


def test_llama_3_8b_at_128k_tokens() -> None:
    llama = MODEL_CONFIGS[0]
    gib = 1024**3
    assert kv_cache_bytes(llama, 128 * 1024) == 16 * gib  # 128 KiB per token
    assert kv_cache_bytes(llama, 128 * 1024, grouped=False) == 64 * gib


def test_kv_cache_bytes_refuses_bad_input() -> None:
    with pytest.raises(TypeError, match="config"):
        kv_cache_bytes((32, 8, 128), 1)
    with pytest.raises(ValueError, match="num_tokens"):
        kv_cache_bytes(MODEL_CONFIGS[0], 0)


def test_ring_buffer_figure_labels_are_numbers() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from attention_examples import plot_ring_buffer

    ax = plot_ring_buffer(7, window=3)
    labels = [t.get_text() for t in ax.texts]
    assert all(label.isdigit() for label in labels)
    assert labels[-3:] == [str(6), str(4), str(5)]  # 6 % 3 = 0, 4 % 3 = 1, 5 % 3 = 2
    assert len(labels) == 1 + 2 + 3 * 5
    plt.close(ax.figure)
