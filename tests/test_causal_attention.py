"""Tests of attention_examples.causal_attention (seed 004: causal masks, dropout, the class)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call
from torch.testing import assert_close

from attention_examples import (
    CausalAttention,
    SelfAttentionV1,
    SelfAttentionV2,
    apply_mask,
    causal_mask,
    combine_masks,
    journey_batch,
    journey_inputs,
    mask_after_softmax,
    mask_before_softmax,
    padding_mask,
)
from tests.seed_values import seed_tensor

FOUR_DECIMALS = {"rtol": 0.0, "atol": 5.1e-5}
NEG_INF = float("-inf")

# seed 004, In [39]: softmax(scores / sqrt(2)) of the SelfAttention_v2 made right after v1
SEED_WEIGHTS = seed_tensor("causal_attention", "weights")
# seed 004, In [49]: masked_simple_norm, the causal weights after renormalising
SEED_CAUSAL_WEIGHTS = seed_tensor("causal_attention", "renormalised")
# seed 004, In [72]: CausalAttention(3, 2, 6, 0.0) after torch.manual_seed(123), the batch
SEED_CONTEXT = seed_tensor("causal_attention", "causal-batch")


@pytest.fixture
def seed_004_v2() -> SelfAttentionV2:
    """Seed 004's sa_v2: made after torch.manual_seed(123) and a SelfAttention_v1."""
    torch.manual_seed(123)
    SelfAttentionV1(3, 2)
    return SelfAttentionV2(3, 2)


def scores_of(module: SelfAttentionV2) -> torch.Tensor:
    x = journey_inputs()
    with torch.no_grad():
        return module.W_query(x) @ module.W_key(x).T  # seed 004, In [39]: attn_scores


def test_weights_before_masking_seed_004(seed_004_v2: SelfAttentionV2) -> None:
    _, weights = seed_004_v2(journey_inputs(), return_weights=True)
    assert_close(weights.detach(), SEED_WEIGHTS, **FOUR_DECIMALS)


def test_method_1_mask_after_softmax_seed_004(seed_004_v2: SelfAttentionV2) -> None:
    _, weights = seed_004_v2(journey_inputs(), return_weights=True)
    weights = weights.detach()
    # seed 004, In [45]: masked_simple = attn_weights * tril(ones), i.e. the future set to 0
    masked_simple = apply_mask(weights, causal_mask(6), fill=0.0)
    expected_masked = seed_tensor("causal_attention", "tril-mask", index=1)
    assert_close(masked_simple, expected_masked, **FOUR_DECIMALS)
    # seed 004, In [51]: the row sums used to renormalise
    row_sums = seed_tensor("causal_attention", "row-sums")
    assert_close(masked_simple.sum(dim=1, keepdim=True), row_sums, **FOUR_DECIMALS)
    # seed 004, In [49]
    assert_close(mask_after_softmax(weights), SEED_CAUSAL_WEIGHTS, **FOUR_DECIMALS)


def test_method_2_mask_before_softmax_seed_004(seed_004_v2: SelfAttentionV2) -> None:
    scores = scores_of(seed_004_v2)
    # seed 004, In [59]: the scores with the future set to -inf
    expected_masked = seed_tensor("causal_attention", "masked-scores")
    assert_close(apply_mask(scores, causal_mask(6), fill=NEG_INF), expected_masked, **FOUR_DECIMALS)
    weights = mask_before_softmax(scores, d_k=2)
    # seed 004, In [59] prints the first row of the softmaxed result; the seed's text says
    # both methods give the same weights, so In [49]'s numbers hold for every row.
    assert_close(weights, seed_tensor("causal_attention", "causal-weights"), **FOUR_DECIMALS)
    assert_close(weights, SEED_CAUSAL_WEIGHTS, **FOUR_DECIMALS)


def test_dropout_on_the_causal_weights_seed_004() -> None:
    # seed 004, In [61] and In [63]: nn.Dropout(0.5) after torch.manual_seed(123). Which
    # entries survive depends on the platform, so only the invariants are checked: every
    # value is 0 or twice its value before dropout.
    torch.manual_seed(123)
    dropout = nn.Dropout(0.5)
    ones = dropout(torch.ones(6, 6))
    assert set(ones.unique().tolist()) <= {0.0, 2.0}
    dropped = dropout(SEED_CAUSAL_WEIGHTS)
    kept = dropped != 0
    assert_close(dropped[kept], 2 * SEED_CAUSAL_WEIGHTS[kept])
    assert (~kept & (SEED_CAUSAL_WEIGHTS > 0)).any()  # some real weights were dropped


def test_causal_attention_seed_004() -> None:
    # seed 004, In [72]: context_vecs for the batch of two journey sentences
    torch.manual_seed(123)
    ca = CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.0)
    context_vecs = ca(journey_batch())
    assert context_vecs.shape == (2, 6, 2)  # "context_vecs.shape: torch.Size([2, 6, 2])"
    assert_close(context_vecs, SEED_CONTEXT, **FOUR_DECIMALS)


def test_mask_is_a_buffer_cut_to_the_input() -> None:
    ca = CausalAttention(3, 2, context_length=8, dropout=0.0)
    assert "mask" in dict(ca.named_buffers())
    assert "mask" not in ca.state_dict()  # rebuilt from context_length, not saved
    assert torch.equal(ca.mask, causal_mask(8))
    _, weights = ca(journey_batch(), return_weights=True)
    assert weights.shape == (2, 6, 6)


# --- properties ----------------------------------------------------------------------------


@st.composite
def causal_problems(draw, dtypes=(torch.float32, torch.float64)):
    seed = draw(st.integers(0, 2**31))
    dtype = draw(st.sampled_from(dtypes))
    d_in, d_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    context_length = draw(st.integers(1, 8))
    num_tokens = draw(st.integers(1, context_length))
    batch = draw(st.integers(1, 3))
    qkv_bias = draw(st.booleans())
    torch.manual_seed(seed)
    module = CausalAttention(d_in, d_out, context_length, 0.0, qkv_bias=qkv_bias).to(dtype)
    x = torch.randn(batch, num_tokens, d_in, dtype=dtype)
    return module, x


def reference(module: CausalAttention, x: torch.Tensor, key_padding_mask=None) -> torch.Tensor:
    """The same attention computed by torch.nn.functional.scaled_dot_product_attention."""
    q, k, v = module.W_query(x), module.W_key(x), module.W_value(x)
    if key_padding_mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    num_tokens = x.shape[-2]
    hidden = causal_mask(num_tokens) | key_padding_mask[:, None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=~hidden)  # torch: True = attend


@given(causal_problems())
def test_matches_torch_scaled_dot_product_attention(problem) -> None:
    module, x = problem
    assert_close(module(x), reference(module, x))


@given(causal_problems(), st.data())
def test_with_a_key_padding_mask_matches_torch(problem, data) -> None:
    module, x = problem
    b, num_tokens, _ = x.shape
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31)))
    key_padding_mask = torch.rand(b, num_tokens, generator=g) < 0.4
    out, weights = module(x, key_padding_mask, return_weights=True)
    assert_close(out, reference(module, x, key_padding_mask))
    assert (weights.masked_select(key_padding_mask[:, None, :].expand_as(weights)) == 0).all()
    assert torch.isfinite(out).all()


@given(causal_problems())
def test_weights_are_causal_and_rows_sum_to_one(problem) -> None:
    module, x = problem
    _, weights = module(x, return_weights=True)
    num_tokens = x.shape[1]
    future = causal_mask(num_tokens).expand_as(weights)
    assert (weights[future] == 0).all()
    assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=x.dtype))


@given(causal_problems(), st.data())
def test_later_tokens_never_change_earlier_outputs(problem, data) -> None:
    module, x = problem
    num_tokens = x.shape[1]
    t = data.draw(st.integers(0, num_tokens - 1), label="t")
    changed = x.clone()
    changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 10
    assert_close(module(changed)[:, : t + 1], module(x)[:, : t + 1], rtol=0, atol=0)


@given(causal_problems())
def test_unbatched_input_equals_a_batch_of_one(problem) -> None:
    module, x = problem
    key_padding_mask = torch.zeros(x.shape[1], dtype=torch.bool)
    key_padding_mask[-1] = x.shape[1] > 1
    out, weights = module(x[0], key_padding_mask, return_weights=True)
    out_b, weights_b = module(x[:1], key_padding_mask[None], return_weights=True)
    assert out.shape == (x.shape[1], module.d_out)
    assert_close(out, out_b[0])
    assert_close(weights, weights_b[0])


def test_padded_batch_gives_zeros_for_queries_that_see_nothing() -> None:
    torch.manual_seed(0)
    ca = CausalAttention(3, 2, context_length=6, dropout=0.0)
    x = journey_batch(2).requires_grad_()
    # second sequence: only its last three tokens are real (left padding), so queries 0-2
    # have no visible key at all under the causal mask
    key_padding_mask = torch.tensor([[False] * 6, [True] * 3 + [False] * 3])
    out, weights = ca(x, key_padding_mask, return_weights=True)
    assert torch.equal(out[1, :3], torch.zeros(3, 2))
    assert torch.equal(weights[1, :3], torch.zeros(3, 6))
    assert_close(weights[1, 3:].sum(-1), torch.ones(3))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    for p in ca.parameters():
        assert torch.isfinite(p.grad).all()
    # right padding as padding_mask() builds it: the real tokens never see the padding
    lengths_mask = padding_mask([6, 4])
    out_r = ca(journey_batch(2), lengths_mask)
    assert_close(out_r[1, :4], ca(journey_batch(1)[:, :4])[0])


@given(seed=st.integers(0, 2**31), t=st.integers(1, 6), d_k=st.integers(1, 8))
def test_the_two_masking_methods_agree(seed: int, t: int, d_k: int) -> None:
    scores = torch.randn(
        2, t, t, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    method_1 = mask_after_softmax(torch.softmax(scores / d_k**0.5, dim=-1))
    method_2 = mask_before_softmax(scores, d_k)
    assert_close(method_1, method_2)
    assert (method_2[..., causal_mask(t)] == 0).all()


def test_mask_after_softmax_keeps_an_empty_row_empty() -> None:
    w = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    assert torch.equal(mask_after_softmax(w), torch.tensor([[0.0, 0.0], [0.5, 0.5]]))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_train_scales_and_eval_does_nothing(p: float) -> None:
    torch.manual_seed(5)
    ca = CausalAttention(4, 3, context_length=6, dropout=p)
    x = torch.randn(3, 6, 4)
    ca.eval()
    out_eval, weights_eval = ca(x, return_weights=True)
    plain = CausalAttention(4, 3, context_length=6, dropout=0.0)
    plain.load_state_dict(ca.state_dict())
    out_plain, weights_plain = plain(x, return_weights=True)
    assert torch.equal(out_eval, out_plain)
    assert torch.equal(weights_eval, weights_plain)
    ca.train()
    out_train, weights_train = ca(x, return_weights=True)
    kept = weights_train != 0
    assert kept.any()
    assert (~kept & (weights_plain > 0)).any()  # some weights were dropped
    assert_close(weights_train[kept], weights_plain[kept] / (1 - p))
    with torch.no_grad():
        assert_close(out_train, weights_train @ ca.W_value(x))


@pytest.mark.parametrize("padded", [False, True])
def test_gradcheck(padded: bool) -> None:
    torch.manual_seed(2)
    ca = CausalAttention(3, 2, context_length=4, dropout=0.0, qkv_bias=True).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    key_padding_mask = torch.tensor([[False] * 4, [True, False, False, True]]) if padded else None
    names = [name for name, _ in ca.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in ca.parameters())

    def f(x, *params):
        return functional_call(ca, dict(zip(names, params, strict=True)), (x, key_padding_mask))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_combine_masks() -> None:
    causal = causal_mask(3)
    pad = torch.tensor([[False, False, True], [False, True, True]])
    combined = combine_masks(causal, pad, 2, 3)
    assert combined.shape == (2, 3, 3)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                assert bool(combined[b, i, j]) == (j > i or bool(pad[b, j]))
    assert combine_masks(causal, None, 2, 3) is causal
    assert combine_masks(None, None, 2, 3) is None
    assert torch.equal(combine_masks(None, pad, 2, 3), pad[:, None, :])


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.ones(3), ValueError, r"x: expected a 2-D or 3-D tensor, got shape \(3,\)"),
        (
            torch.ones(1, 2, 6, 3),
            ValueError,
            r"x: expected a 2-D or 3-D tensor, got shape \(1, 2, 6",
        ),
        (
            torch.ones(2, 6, 4),
            ValueError,
            r"x: expected the last dimension to be d_in=3, got shape",
        ),
        (
            torch.ones(2, 7, 3),
            ValueError,
            r"x: expected at most context_length=6 tokens, got 7 \(shape \(2, 7, 3\)\)",
        ),
        (torch.ones(2, 6, 3, dtype=torch.int32), TypeError, r"x: expected a floating-point tensor"),
        (torch.ones(2, 0, 3), ValueError, r"x: expected at least one element.*\(2, 0, 3\)"),
        (torch.ones(0, 6, 3), ValueError, r"x: expected at least one element.*\(0, 6, 3\)"),
        (torch.ones(2, 6, 3).double(), TypeError, r"x: expected dtype torch.float32 like the mod"),
        (journey_batch().tolist(), TypeError, r"x: expected a torch.Tensor, got list"),
    ],
)
def test_forward_rejects_bad_x(x, error, match) -> None:
    ca = CausalAttention(3, 2, context_length=6, dropout=0.0)
    with pytest.raises(error, match=match):
        ca(x)


def test_nan_in_x_propagates_as_in_pytorch() -> None:
    # NaN in, NaN out, as in PyTorch: no exception. Token 3 is NaN, so its key and value
    # are NaN. The queries 3..5 see it: their weights are NaN. The queries 0..2 never see
    # it (the causal mask replaces their scores of token 3 by -inf): their weights are
    # those of a clean input. Their context vectors are NaN all the same, because
    # weights @ values multiplies the weight 0 by the NaN value, as PyTorch's function does.
    torch.manual_seed(123)
    ca = CausalAttention(3, 2, context_length=6, dropout=0.0)
    x = journey_batch()
    x[:, 3] = torch.nan
    with torch.no_grad():
        out, weights = ca(x, return_weights=True)
        _, clean_weights = ca(journey_batch(), return_weights=True)
        expected = F.scaled_dot_product_attention(
            ca.W_query(x), ca.W_key(x), ca.W_value(x), is_causal=True
        )
    assert weights[:, 3:].isnan().all()
    assert_close(weights[:, :3], clean_weights[:, :3], rtol=0, atol=0)
    assert out.isnan().all()
    assert_close(out, expected, equal_nan=True)


def test_mask_before_softmax_propagates_nan() -> None:
    # NaN in, NaN out: a NaN on or below the diagonal makes its row NaN, as softmax does;
    # the other rows keep the values of a clean input.
    clean = torch.zeros(3, 3)
    bad = clean.clone()
    bad[1, 0] = torch.nan
    expected_before = mask_before_softmax(clean, d_k=2)
    before = mask_before_softmax(bad, d_k=2)
    assert before[1].isnan().all()
    assert_close(before[[0, 2]], expected_before[[0, 2]], rtol=0, atol=0)
    # a NaN in the future is masked out before the softmax: it reaches nothing
    future = clean.clone()
    future[0, 2] = torch.nan
    assert_close(mask_before_softmax(future, d_k=2), expected_before, rtol=0, atol=0)


def test_mask_after_softmax_propagates_nan() -> None:
    # NaN in, NaN out: method 1 renormalises by the row sum, which is NaN for a row that
    # holds a NaN on or below the diagonal, so that row is NaN; the other rows keep the
    # values of a clean input. (A NaN row must not come out as the zeros of a row that
    # sees no key: that would hide the NaN.)
    weights = torch.full((3, 3), 1 / 3)
    expected_after = mask_after_softmax(weights)
    weights[1, 0] = torch.nan
    after = mask_after_softmax(weights)
    assert after[1, :2].isnan().all(), after
    assert_close(after[[0, 2]], expected_after[[0, 2]], rtol=0, atol=0)


@pytest.mark.parametrize("flag", ["no", 1, None])
def test_forward_rejects_a_non_bool_return_weights(flag) -> None:
    ca = CausalAttention(3, 2, context_length=6, dropout=0.0)
    with pytest.raises(TypeError, match=r"return_weights: expected True or False, got"):
        ca(journey_batch(), return_weights=flag)


@pytest.mark.parametrize(
    ("x", "key_padding_mask", "error", "match"),
    [
        (
            journey_batch(),
            torch.zeros(2, 6),
            TypeError,
            r"key_padding_mask: expected dtype torch.bool \(True = masked out\), got torch.float32",
        ),
        (
            journey_batch(),
            torch.zeros(2, 5, dtype=torch.bool),
            ValueError,
            r"key_padding_mask: expected shape \(2, 6\) \(one flag per token of x\), got \(2, 5\)",
        ),
        (
            journey_batch(),
            torch.zeros(6, dtype=torch.bool),  # broadcasts, but is ambiguous: refused
            ValueError,
            r"key_padding_mask: expected shape \(2, 6\) \(one flag per token of x\), got \(6,\)",
        ),
        (
            journey_inputs(),
            torch.zeros(1, 6, dtype=torch.bool),
            ValueError,
            r"key_padding_mask: expected shape \(6,\) \(one flag per token of x\), got \(1, 6\)",
        ),
        (journey_batch(), [[False] * 6] * 2, TypeError, r"key_padding_mask: expected a boolean"),
    ],
)
def test_forward_rejects_bad_key_padding_masks(x, key_padding_mask, error, match) -> None:
    ca = CausalAttention(3, 2, context_length=6, dropout=0.0)
    with pytest.raises(error, match=match):
        ca(x, key_padding_mask)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_in": 0}, ValueError, r"d_in: expected a positive int, got 0"),
        ({"d_out": -1}, ValueError, r"d_out: expected a positive int, got -1"),
        ({"context_length": 0}, ValueError, r"context_length: expected a positive int, got 0"),
        ({"context_length": 2.5}, TypeError, r"context_length: expected a positive int, got float"),
        ({"dropout": 1.0}, ValueError, r"dropout: expected a float in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, ValueError, r"dropout: expected a float in \[0, 1\), got -0.1"),
        ({"dropout": float("nan")}, ValueError, r"dropout: expected a float in \[0, 1\), got nan"),
        ({"dropout": "0.1"}, TypeError, r"dropout: expected a float in \[0, 1\), got str '0.1'"),
        ({"dropout": True}, TypeError, r"dropout: expected a float in \[0, 1\), got bool True"),
        ({"qkv_bias": "no"}, TypeError, r"qkv_bias: expected True or False, got str 'no'"),
    ],
)
def test_constructor_rejects(kwargs, error, match) -> None:
    args = {"d_in": 3, "d_out": 2, "context_length": 6, "dropout": 0.0} | kwargs
    with pytest.raises(error, match=match):
        CausalAttention(**args)


@pytest.mark.parametrize(
    ("fn", "args", "error", "match"),
    [
        (
            mask_after_softmax,
            (torch.ones(2, 3),),
            ValueError,
            r"weights: expected square .*\(2, 3\)",
        ),
        (mask_after_softmax, (torch.ones(3),), ValueError, r"weights: expected a 2-D to 8-D"),
        (mask_after_softmax, (torch.eye(2).long(),), TypeError, r"weights: expected a floating"),
        (mask_before_softmax, (torch.ones(2, 3), 2), ValueError, r"scores: expected square"),
        (mask_before_softmax, (torch.ones(2, 2), 0), ValueError, r"d_k: expected a positive int"),
        (mask_before_softmax, (torch.ones(2, 2), 2.0), TypeError, r"d_k: expected a positive int"),
        (
            combine_masks,
            (causal_mask(3), torch.zeros(2, 4, dtype=torch.bool), 2, 3),
            ValueError,
            r"key_padding_mask: expected a shape that broadcasts.*\(2, 3\), got \(2, 4\)",
        ),
        (
            combine_masks,
            (causal_mask(3), torch.zeros(1, 3, dtype=torch.bool), 2, 3),
            ValueError,
            r"key_padding_mask: expected shape \(2, 3\), got \(1, 3\)",
        ),
        (
            combine_masks,
            (causal_mask(3).float(), None, 2, 3),
            TypeError,
            r"causal: expected dtype torch.bool",
        ),
        (
            combine_masks,
            (causal_mask(4), None, 2, 3),
            ValueError,
            r"causal: expected a shape that broadcasts to the scores' shape \(3, 3\), got \(4, 4\)",
        ),
        (combine_masks, (None, None, 0, 3), ValueError, r"batch_size: expected a positive int"),
    ],
)
def test_functions_reject(fn, args, error, match) -> None:
    with pytest.raises(error, match=match):
        fn(*args)
