"""Tests of attention_examples.multihead_attention.

The seeds name multi-head attention but stop before it; the expected numbers come from
the seeds' source book (Raschka, *Build a Large Language Model (From Scratch)*, ch. 3),
and everything else is checked against torch.nn.MultiheadAttention and CausalAttention.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call
from torch.testing import assert_close

from attention_examples import (
    CausalAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    causal_mask,
    journey_batch,
    journey_inputs,
)
from tests.seed_values import seed_tensor

FOUR_DECIMALS = {"rtol": 0.0, "atol": 5.1e-5}

# book, ch. 3: MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=2) after torch.manual_seed(123)
BOOK_WRAPPER = seed_tensor("multihead_attention", "wrapper")  # (2, 6, 4), the batch
# book, ch. 3: MultiHeadAttention(3, 2, 6, 0.0, num_heads=2) after torch.manual_seed(123)
BOOK_MHA = seed_tensor("multihead_attention", "mha")  # (2, 6, 2), the batch


def test_wrapper_book() -> None:
    torch.manual_seed(123)
    mha = MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.0, num_heads=2)
    context_vecs = mha(journey_batch())
    assert context_vecs.shape == (2, 6, 4)
    assert_close(context_vecs, BOOK_WRAPPER, **FOUR_DECIMALS)


def test_multihead_attention_book() -> None:
    torch.manual_seed(123)
    mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)
    context_vecs = mha(journey_batch())
    assert context_vecs.shape == (2, 6, 2)
    assert_close(context_vecs, BOOK_MHA, **FOUR_DECIMALS)


def test_wrapper_first_head_is_seed_004s_causal_attention() -> None:
    # The wrapper's first head is made first after manual_seed(123), exactly as seed 004's
    # CausalAttention (In [72]); its columns are that cell's output.
    torch.manual_seed(123)
    ca = CausalAttention(3, 2, 6, 0.0)
    torch.manual_seed(123)
    wrapper = MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=2)
    assert torch.equal(wrapper(journey_batch())[..., :2], ca(journey_batch()))


# --- cross-checks ----------------------------------------------------------------------------


@st.composite
def mha_problems(draw, same_width: bool = False):
    seed = draw(st.integers(0, 2**31))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    num_heads = draw(st.integers(1, 4))
    d_out = num_heads * draw(st.integers(1, 3))
    d_in = d_out if same_width else draw(st.integers(1, 6))
    context_length = draw(st.integers(1, 7))
    num_tokens = draw(st.integers(1, context_length))
    batch = draw(st.integers(1, 3))
    qkv_bias = draw(st.booleans())
    padded = draw(st.booleans())
    torch.manual_seed(seed)
    mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads, qkv_bias).to(dtype)
    x = torch.randn(batch, num_tokens, d_in, dtype=dtype)
    key_padding_mask = torch.rand(batch, num_tokens) < 0.3 if padded else None
    return mha, x, key_padding_mask


def torch_twin(mha: MultiHeadAttention) -> nn.MultiheadAttention:
    """A torch.nn.MultiheadAttention holding the same weights."""
    twin = nn.MultiheadAttention(
        mha.d_out, mha.num_heads, bias=True, batch_first=True, dtype=mha.out_proj.weight.dtype
    )
    layers = (mha.W_query, mha.W_key, mha.W_value)
    with torch.no_grad():
        twin.in_proj_weight.copy_(torch.cat([layer.weight for layer in layers]))
        if mha.W_query.bias is None:
            twin.in_proj_bias.zero_()
        else:
            twin.in_proj_bias.copy_(torch.cat([layer.bias for layer in layers]))
        twin.out_proj.weight.copy_(mha.out_proj.weight)
        twin.out_proj.bias.copy_(mha.out_proj.bias)
    return twin.eval()


@given(mha_problems(same_width=True))
def test_matches_torch_multihead_attention(problem) -> None:
    mha, x, key_padding_mask = problem
    num_tokens = x.shape[1]
    out, weights = mha(x, key_padding_mask, return_weights=True)
    expected, expected_weights = torch_twin(mha)(
        x,
        x,
        x,
        attn_mask=causal_mask(num_tokens),  # torch.nn.MultiheadAttention: True = masked out
        key_padding_mask=key_padding_mask,
        need_weights=True,
        average_attn_weights=False,
    )
    # torch gives NaN where a query sees no key at all; compare the other rows, and check
    # that this package gives those rows zero weights instead.
    hidden = causal_mask(num_tokens)
    if key_padding_mask is not None:
        hidden = hidden | key_padding_mask[:, None, :]
    sees_something = ~hidden.expand(x.shape[0], -1, -1).all(dim=-1)  # (b, T)
    assert_close(out[sees_something], expected[sees_something])
    rows = sees_something[:, None, :].expand(-1, mha.num_heads, -1)
    assert_close(weights[rows], expected_weights[rows])
    assert (weights[~rows] == 0).all()
    assert torch.isfinite(out).all()


@given(st.integers(0, 2**31), st.integers(1, 5), st.integers(1, 4), st.integers(1, 6))
def test_wrapper_with_one_head_is_causal_attention(seed, d_in, d_out, num_tokens) -> None:
    torch.manual_seed(seed)
    wrapper = MultiHeadAttentionWrapper(d_in, d_out, 6, 0.0, num_heads=1)
    torch.manual_seed(seed)
    ca = CausalAttention(d_in, d_out, 6, 0.0)
    x = torch.randn(2, num_tokens, d_in)
    key_padding_mask = torch.rand(2, num_tokens) < 0.3
    assert torch.equal(wrapper(x), ca(x))
    assert torch.equal(wrapper(x, key_padding_mask), ca(x, key_padding_mask))


@given(st.integers(0, 2**31), st.integers(1, 4))
def test_wrapper_concatenates_independent_heads(seed: int, num_heads: int) -> None:
    torch.manual_seed(seed)
    wrapper = MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=num_heads)
    torch.manual_seed(seed)
    heads = [CausalAttention(3, 2, 6, 0.0) for _ in range(num_heads)]
    x = journey_batch()
    assert torch.equal(wrapper(x), torch.cat([head(x) for head in heads], dim=-1))


@given(mha_problems())
def test_one_head_is_causal_attention_then_the_output_projection(problem) -> None:
    mha, x, key_padding_mask = problem
    qkv_bias = mha.W_query.bias is not None
    if mha.num_heads != 1:
        mha = MultiHeadAttention(mha.d_in, mha.d_out, mha.context_length, 0.0, 1, qkv_bias)
        mha = mha.to(x.dtype)
    ca = CausalAttention(mha.d_in, mha.d_out, mha.context_length, 0.0, qkv_bias).to(x.dtype)
    ca.load_state_dict({k: v for k, v in mha.state_dict().items() if not k.startswith("out_proj")})
    assert_close(mha(x, key_padding_mask), mha.out_proj(ca(x, key_padding_mask)))


@given(mha_problems(), st.data())
def test_later_tokens_never_change_earlier_outputs(problem, data) -> None:
    mha, x, _ = problem
    t = data.draw(st.integers(0, x.shape[1] - 1), label="t")
    changed = x.clone()
    changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 10
    assert_close(mha(changed)[:, : t + 1], mha(x)[:, : t + 1], rtol=0, atol=0)
    torch.manual_seed(0)
    wrapper = MultiHeadAttentionWrapper(x.shape[-1], 2, 8, 0.0, num_heads=2).to(x.dtype)
    assert_close(wrapper(changed)[:, : t + 1], wrapper(x)[:, : t + 1], rtol=0, atol=0)


@given(mha_problems())
def test_weights_are_causal_rows_sum_to_one_padding_gets_zero(problem) -> None:
    mha, x, key_padding_mask = problem
    _, weights = mha(x, key_padding_mask, return_weights=True)
    b, num_tokens, _ = x.shape
    assert weights.shape == (b, mha.num_heads, num_tokens, num_tokens)
    hidden = causal_mask(num_tokens).expand(b, num_tokens, num_tokens)
    if key_padding_mask is not None:
        hidden = hidden | key_padding_mask[:, None, :]
    hidden = hidden[:, None].expand_as(weights)
    assert (weights[hidden] == 0).all()
    sums = weights.sum(-1)
    sees_something = ~hidden.all(-1)
    assert_close(sums[sees_something], torch.ones_like(sums[sees_something]))
    assert (sums[~sees_something] == 0).all()


def test_a_query_that_sees_nothing_gets_the_output_bias_and_finite_gradients() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(3, 4, context_length=6, dropout=0.0, num_heads=2)
    x = journey_batch().requires_grad_()
    key_padding_mask = torch.tensor([[False] * 6, [True, True] + [False] * 4])
    out = mha(x, key_padding_mask)
    assert_close(out[1, :2], mha.out_proj.bias.expand(2, -1))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in mha.parameters())


@given(mha_problems())
def test_unbatched_input_equals_a_batch_of_one(problem) -> None:
    mha, x, key_padding_mask = problem
    kpm = None if key_padding_mask is None else key_padding_mask[0]
    out, weights = mha(x[0], kpm, return_weights=True)
    out_b, weights_b = mha(x[:1], None if kpm is None else kpm[None], return_weights=True)
    assert out.shape == (x.shape[1], mha.d_out)
    assert weights.shape == (mha.num_heads, x.shape[1], x.shape[1])
    assert_close(out, out_b[0])
    assert_close(weights, weights_b[0])
    torch.manual_seed(0)
    wrapper = MultiHeadAttentionWrapper(x.shape[-1], 2, 8, 0.0, num_heads=3).to(x.dtype)
    out_w = wrapper(x[0], kpm)
    assert out_w.shape == (x.shape[1], 6)
    assert_close(out_w, wrapper(x[:1], None if kpm is None else kpm[None])[0])


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_dropout_train_scales_and_eval_does_nothing(p: float) -> None:
    torch.manual_seed(3)
    mha = MultiHeadAttention(4, 4, context_length=6, dropout=p, num_heads=2)
    plain = MultiHeadAttention(4, 4, context_length=6, dropout=0.0, num_heads=2)
    plain.load_state_dict(mha.state_dict())
    x = torch.randn(2, 6, 4)
    mha.eval()
    out_plain, weights_plain = plain(x, return_weights=True)
    out_eval, weights_eval = mha(x, return_weights=True)
    assert torch.equal(out_eval, out_plain)
    assert torch.equal(weights_eval, weights_plain)
    mha.train()
    _, weights_train = mha(x, return_weights=True)
    kept = weights_train != 0
    assert (~kept & (weights_plain > 0)).any()
    assert_close(weights_train[kept], weights_plain[kept] / (1 - p))


def test_wrapper_dropout_eval_does_nothing() -> None:
    torch.manual_seed(4)
    wrapper = MultiHeadAttentionWrapper(3, 2, 6, dropout=0.5, num_heads=2).eval()
    torch.manual_seed(4)
    plain = MultiHeadAttentionWrapper(3, 2, 6, dropout=0.0, num_heads=2)
    assert torch.equal(wrapper(journey_batch()), plain(journey_batch()))


@pytest.mark.parametrize("padded", [False, True])
def test_gradcheck(padded: bool) -> None:
    torch.manual_seed(6)
    mha = MultiHeadAttention(2, 4, context_length=3, dropout=0.0, num_heads=2, qkv_bias=True)
    mha = mha.double()
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    key_padding_mask = torch.tensor([[False] * 3, [True, False, True]]) if padded else None
    names = [name for name, _ in mha.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in mha.parameters())

    def f(x, *params):
        return functional_call(mha, dict(zip(names, params, strict=True)), (x, key_padding_mask))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_project_splits_each_projection_into_heads() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(3, 6, context_length=5, dropout=0.0, num_heads=3, qkv_bias=True)
    assert mha.head_dim == 2
    x = torch.randn(2, 5, 3)
    queries, keys, values = mha.project(x)
    for heads, linear in ((queries, mha.W_query), (keys, mha.W_key), (values, mha.W_value)):
        assert heads.shape == (2, 3, 5, 2)  # (b, heads, T, head_dim)
        flat = linear(x)  # (b, T, d_out)
        # (b, T, d_out) -> (b, T, heads, head_dim) -> (b, heads, T, head_dim)
        assert torch.equal(heads, flat.view(2, 5, 3, 2).transpose(1, 2))
        # head h holds the columns h * head_dim .. (h + 1) * head_dim - 1
        assert torch.equal(heads[1, 2, 4], flat[1, 4, 4:6])


def test_merge_concatenates_the_heads_and_projects() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(3, 6, context_length=5, dropout=0.0, num_heads=3)
    context = torch.randn(2, 3, 5, 2)  # (b, heads, T, head_dim)
    merged = mha.merge(context)
    assert merged.shape == (2, 5, 6)  # (b, T, d_out)
    # (b, heads, T, head_dim) -> (b, T, heads, head_dim) -> (b, T, d_out), then out_proj
    concatenated = torch.cat([context[:, h] for h in range(3)], dim=-1)
    assert_close(merged, mha.out_proj(concatenated))


def test_forward_is_project_attention_merge() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(3, 4, context_length=6, dropout=0.0, num_heads=2)
    x = journey_batch()
    key_padding_mask = torch.tensor([[False] * 6, [True] + [False] * 5])
    context, weights = mha.attention(*mha.project(x), key_padding_mask, True)
    assert context.shape == (2, 2, 6, 2)  # (b, heads, T, head_dim)
    assert weights.shape == (2, 2, 6, 6)  # (b, heads, T, T)
    out, out_weights = mha(x, key_padding_mask, return_weights=True)
    assert torch.equal(out, mha.merge(context))
    assert torch.equal(out_weights, weights)
    # the weights are causal and hide the padded key of the second sequence
    assert (weights.masked_select(causal_mask(6)) == 0).all()
    assert (weights[1, :, :, 0] == 0).all()


@pytest.mark.parametrize("cls", [MultiHeadAttention, MultiHeadAttentionWrapper])
def test_nan_in_x_propagates_as_in_pytorch(cls) -> None:
    # NaN in, NaN out, as in PyTorch: no exception. Token 3 of the first sequence is NaN:
    # the queries 3..5 see it and their weights are NaN, the queries 0..2 do not (causal)
    # and keep the weights of a clean input; the second sequence stays as it was.
    torch.manual_seed(0)
    module = cls(**SIZES)
    x = journey_batch()
    x[0, 3] = torch.nan
    with torch.no_grad():
        out, weights = module(x, return_weights=True)
        clean_out, clean_weights = module(journey_batch(), return_weights=True)
    assert weights[0, :, 3:].isnan().all()
    assert_close(weights[0, :, :3], clean_weights[0, :, :3], rtol=0, atol=0)
    assert out[0, 3:].isnan().all()
    assert_close(out[1], clean_out[1], rtol=0, atol=0)
    assert_close(weights[1], clean_weights[1], rtol=0, atol=0)


@given(mha_problems())
def test_wrapper_weights_are_its_heads_weights(problem) -> None:
    _, x, key_padding_mask = problem
    torch.manual_seed(1)
    wrapper = MultiHeadAttentionWrapper(x.shape[-1], 2, 8, 0.0, num_heads=3).to(x.dtype)
    context, weights = wrapper(x, key_padding_mask, return_weights=True)
    assert weights.shape == (x.shape[0], 3, x.shape[1], x.shape[1])
    assert torch.equal(context, wrapper(x, key_padding_mask))
    for h, head in enumerate(wrapper.heads):
        assert torch.equal(weights[:, h], head(x, key_padding_mask, return_weights=True)[1])
    _, unbatched = wrapper(x[0], None, return_weights=True)
    assert unbatched.shape == (3, x.shape[1], x.shape[1])


def test_wrapper_records_its_sizes() -> None:
    wrapper = MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=4)
    assert (wrapper.d_in, wrapper.d_out, wrapper.context_length, wrapper.num_heads) == (3, 2, 6, 4)
    assert len(wrapper.heads) == 4


# --- bad input ---------------------------------------------------------------------------

SIZES = {"d_in": 3, "d_out": 4, "context_length": 6, "dropout": 0.0, "num_heads": 2}


@pytest.mark.parametrize("cls", [MultiHeadAttention, MultiHeadAttentionWrapper])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_heads": 0}, ValueError, r"num_heads: expected a positive int, got 0"),
        ({"num_heads": -2}, ValueError, r"num_heads: expected a positive int, got -2"),
        ({"num_heads": 2.0}, TypeError, r"num_heads: expected a positive int, got float 2.0"),
        ({"num_heads": True}, TypeError, r"num_heads: expected a positive int, got bool True"),
        ({"d_in": 0}, ValueError, r"d_in: expected a positive int, got 0"),
        ({"d_out": "4"}, TypeError, r"d_out: expected a positive int, got str '4'"),
        ({"context_length": -1}, ValueError, r"context_length: expected a positive int, got -1"),
        ({"dropout": 1.0}, ValueError, r"dropout: expected a float in \[0, 1\), got 1.0"),
        ({"dropout": -0.5}, ValueError, r"dropout: expected a float in \[0, 1\), got -0.5"),
        ({"dropout": None}, TypeError, r"dropout: expected a float in \[0, 1\), got NoneType"),
        ({"qkv_bias": 1}, TypeError, r"qkv_bias: expected True or False, got int 1"),
    ],
)
def test_constructors_reject(cls, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        cls(**(SIZES | kwargs))


def test_d_out_must_split_into_heads() -> None:
    with pytest.raises(ValueError, match=r"d_out: must be divisible by num_heads=3.*got d_out=4"):
        MultiHeadAttention(**(SIZES | {"num_heads": 3}))
    # The wrapper gives every head d_out columns, so any d_out works there.
    assert MultiHeadAttentionWrapper(**(SIZES | {"num_heads": 3}))(journey_batch()).shape == (
        2,
        6,
        12,
    )


@pytest.mark.parametrize("cls", [MultiHeadAttention, MultiHeadAttentionWrapper])
@pytest.mark.parametrize(
    ("x", "key_padding_mask", "error", "match"),
    [
        (journey_inputs()[0], None, ValueError, r"x: expected a 2-D or 3-D tensor, got shape"),
        (journey_batch()[None], None, ValueError, r"x: expected a 2-D or 3-D tensor, got shape"),
        (torch.ones(2, 6, 5), None, ValueError, r"x: expected the last dimension to be d_in=3"),
        (
            torch.ones(2, 9, 3),
            None,
            ValueError,
            r"x: expected at most context_length=6 tokens, got 9",
        ),
        (journey_batch().long(), None, TypeError, r"x: expected a floating-point tensor"),
        (torch.ones(2, 0, 3), None, ValueError, r"x: expected at least one element"),
        (journey_batch().double(), None, TypeError, r"x: expected dtype torch.float32 like the"),
        (
            journey_batch(),
            torch.zeros(2, 6, dtype=torch.int64),
            TypeError,
            r"key_padding_mask: expected dtype torch.bool \(True = masked out\), got torch.int64",
        ),
        (
            journey_batch(),
            torch.zeros(2, 3, dtype=torch.bool),
            ValueError,
            r"key_padding_mask: expected shape \(2, 6\) \(one flag per token of x\), got \(2, 3\)",
        ),
        (
            journey_batch(),
            torch.zeros(2, 1, 6, dtype=torch.bool),
            ValueError,
            r"key_padding_mask: expected shape \(2, 6\) .*, got \(2, 1, 6\)",
        ),
    ],
)
def test_forward_rejects(cls, x, key_padding_mask, error, match) -> None:
    module = cls(**SIZES)
    with pytest.raises(error, match=match):
        module(x, key_padding_mask)


@pytest.mark.parametrize("cls", [MultiHeadAttention, MultiHeadAttentionWrapper])
@pytest.mark.parametrize("flag", ["no", 1, None])
def test_forward_rejects_a_non_bool_return_weights(cls, flag) -> None:
    module = cls(**SIZES)
    with pytest.raises(TypeError, match=r"return_weights: expected True or False, got"):
        module(journey_batch(), return_weights=flag)
