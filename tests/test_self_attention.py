"""Tests of attention_examples.self_attention (seeds 003 and 004: trainable weights)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from attention_examples import (
    SelfAttentionV1,
    SelfAttentionV2,
    causal_mask,
    journey_batch,
    journey_inputs,
    scaled_dot_product_attention,
    transfer_weights,
)
from attention_examples.self_attention import attend
from tests.seed_values import seed_tensor, seed_tensors

FOUR_DECIMALS = {"rtol": 0.0, "atol": 5.1e-5}

# seed 004, In [20] and In [33]: SelfAttention_v2 created right after SelfAttention_v1
SEED_004_V2 = seed_tensor("self_attention", "v2-after-v1")


# --- seed 003: torch.randn weights -------------------------------------------------------


@pytest.fixture
def randn_v1() -> SelfAttentionV1:
    torch.manual_seed(123)
    return SelfAttentionV1(d_in=3, d_out=2, init="randn")


def test_randn_weights_seed_003(randn_v1: SelfAttentionV1) -> None:
    # seed 003, In [19]: W_q, W_k, W_v drawn with torch.randn after torch.manual_seed(123)
    W_q, W_k, W_v = seed_tensors("self_attention", "weights-randn")
    assert_close(randn_v1.W_query.detach(), W_q, **FOUR_DECIMALS)
    assert_close(randn_v1.W_key.detach(), W_k, **FOUR_DECIMALS)
    assert_close(randn_v1.W_value.detach(), W_v, **FOUR_DECIMALS)


def test_one_query_step_by_step_seed_003(randn_v1: SelfAttentionV1) -> None:
    x = journey_inputs()
    with torch.no_grad():
        query_2 = x[1] @ randn_v1.W_query
        keys = x @ randn_v1.W_key
        values = x @ randn_v1.W_value
    # seed 003, In [20]
    assert_close(query_2, seed_tensor("self_attention", "query-journey"), **FOUR_DECIMALS)
    # seed 003, In [21]
    expected_keys = seed_tensor("self_attention", "keys-randn")
    assert_close(keys, expected_keys, **FOUR_DECIMALS)
    # seed 003, In [22]: key_2 and the single score query_2 . key_2
    key_2, score = seed_tensors("self_attention", "score-journey-journey")
    assert_close(keys[1], key_2, **FOUR_DECIMALS)
    assert_close(torch.dot(query_2, keys[1]), score, **FOUR_DECIMALS)
    # seed 003, In [23]: all six scores of query 2
    expected_scores = seed_tensor("self_attention", "scores-journey")
    assert_close(query_2 @ keys.T, expected_scores, **FOUR_DECIMALS)
    # seed 003, In [24]-[26]: weights scaled by sqrt(d_k = 2), their sum, the context vector
    context, weights = scaled_dot_product_attention(query_2[None], keys, values)
    expected_weights = seed_tensor("self_attention", "weights-journey")
    assert_close(weights[0], expected_weights, **FOUR_DECIMALS)
    assert_close(
        weights.sum(), seed_tensor("self_attention", "weights-journey-sum"), **FOUR_DECIMALS
    )
    assert_close(context[0], seed_tensor("self_attention", "context-journey"), **FOUR_DECIMALS)


def test_v1_randn_seed_003(randn_v1: SelfAttentionV1) -> None:
    # seed 003, In [43]: SelfAttention_V1 with torch.randn weights after torch.manual_seed(123)
    expected = seed_tensor("self_attention", "v1-randn")
    assert_close(randn_v1(journey_inputs()), expected, **FOUR_DECIMALS)


def test_v2_seed_003() -> None:
    # seed 003, In [49]: SelfAttention_V2 right after torch.manual_seed(123)
    torch.manual_seed(123)
    sa_v2 = SelfAttentionV2(d_in=3, d_out=2)
    expected = seed_tensor("self_attention", "v2-first")
    assert_close(sa_v2(journey_inputs()), expected, **FOUR_DECIMALS)


# --- seed 004: torch.rand weights --------------------------------------------------------


def test_one_query_with_rand_weights_seed_004() -> None:
    # seed 004, In [10]: W_query, W_key, W_value = torch.rand(3, 2) each after manual_seed(123)
    torch.manual_seed(123)
    sa = SelfAttentionV1(3, 2)
    x = journey_inputs()
    with torch.no_grad():
        query_2, keys, values = x[1] @ sa.W_query, x @ sa.W_key, x @ sa.W_value
        assert keys.shape == values.shape == (6, 2)  # "keys.shape: torch.Size([6, 2])"
        _, _, expected_scores, expected_weights, expected_context = seed_tensors(
            "self_attention", "uniform-journey"
        )
        assert_close(query_2 @ keys.T, expected_scores, **FOUR_DECIMALS)
        context, weights = scaled_dot_product_attention(query_2[None], keys, values)
    assert_close(weights[0], expected_weights, **FOUR_DECIMALS)
    assert_close(context[0], expected_context, **FOUR_DECIMALS)


def test_v1_and_v2_seed_004() -> None:
    torch.manual_seed(123)
    sa_v1 = SelfAttentionV1(3, 2)
    sa_v2 = SelfAttentionV2(3, 2)  # seed 004 creates it right after sa_v1, without reseeding
    x = journey_inputs()
    # seed 004, In [16]
    expected_v1 = seed_tensor("self_attention", "v1-rand")
    assert_close(sa_v1(x), expected_v1, **FOUR_DECIMALS)
    # seed 004, In [20]
    assert_close(sa_v2(x), SEED_004_V2, **FOUR_DECIMALS)
    # seed 004, In [33]: after copying V2's weights into V1 both print the same numbers
    assert transfer_weights(sa_v2, sa_v1) is sa_v1
    assert_close(sa_v1(x), SEED_004_V2, **FOUR_DECIMALS)
    assert torch.equal(sa_v1(x), sa_v2(x))


@given(
    seed=st.integers(0, 2**31),
    d_in=st.integers(1, 6),
    d_out=st.integers(1, 6),
    shape=st.sampled_from([(1,), (5,), (2, 4), (3, 1)]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_v1_and_v2_agree_after_transfer(seed, d_in, d_out, shape, dtype) -> None:
    torch.manual_seed(seed)
    v1 = SelfAttentionV1(d_in, d_out).to(dtype)
    v2 = SelfAttentionV2(d_in, d_out).to(dtype)
    x = torch.randn(*shape, d_in, dtype=dtype)
    transfer_weights(v2, v1)
    out1, w1 = v1(x, return_weights=True)
    out2, w2 = v2(x, return_weights=True)
    assert_close(out1, out2)
    assert_close(w1, w2)
    assert out1.shape == (*shape, d_out)
    assert w1.shape == (*shape[:-1], shape[-1], shape[-1])


@given(seed=st.integers(0, 2**31), num_tokens=st.integers(2, 7), qkv_bias=st.booleans())
def test_non_causal_self_attention_is_permutation_equivariant(seed, num_tokens, qkv_bias) -> None:
    torch.manual_seed(seed)
    sa = SelfAttentionV2(4, 3, qkv_bias=qkv_bias).double()
    x = torch.randn(num_tokens, 4, dtype=torch.float64)
    perm = torch.randperm(num_tokens)
    out, w = sa(x, return_weights=True)
    out_p, w_p = sa(x[perm], return_weights=True)
    assert_close(out_p, out[perm])
    assert_close(w_p, w[perm][:, perm])


def test_batched_input_equals_one_sequence_at_a_time() -> None:
    torch.manual_seed(0)
    sa = SelfAttentionV2(3, 2)
    batch = torch.randn(4, 5, 3)
    out = sa(batch)
    for b in range(4):
        assert_close(out[b], sa(batch[b]))


# --- scaled_dot_product_attention against PyTorch ----------------------------------------


@st.composite
def attention_problems(draw):
    """Random query, key, value and (maybe) a mask in this package's convention."""
    seed = draw(st.integers(0, 2**31))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    t_q, t_k = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    d_k, d_v = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, t_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(*batch, t_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(*batch, t_k, d_v, generator=g, dtype=dtype)
    kind = draw(st.sampled_from(["none", "causal", "full", "keys", "shared"]))
    p = draw(st.sampled_from([0.2, 0.5, 0.9]))
    if kind == "none":
        mask = None
    elif kind == "causal":  # top-left aligned, as torch's is_causal
        mask = torch.ones(t_q, t_k, dtype=torch.bool).triu(diagonal=1)
    elif kind == "full":  # one mask per batch item and query
        mask = torch.rand(*batch, t_q, t_k, generator=g) < p
    elif kind == "keys":  # key padding: the same keys hidden from every query
        mask = torch.rand(*batch, 1, t_k, generator=g) < p
    else:  # one (T_q, T_k) mask shared by the batch
        mask = torch.rand(t_q, t_k, generator=g) < p
    return q, k, v, mask, kind


@given(attention_problems())
def test_matches_torch_scaled_dot_product_attention(problem) -> None:
    q, k, v, mask, kind = problem
    context, weights = scaled_dot_product_attention(q, k, v, mask)
    if kind == "causal":
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        # torch's boolean attn_mask marks what may be attended: the opposite convention
        expected = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None if mask is None else ~mask
        )
    assert_close(context, expected)
    assert_close(weights @ v, context)


@given(attention_problems())
def test_weights_rows_sum_to_one_and_masked_positions_get_zero(problem) -> None:
    q, k, v, mask, _ = problem
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(weights).all()
    assert (weights >= 0).all()
    sums = weights.sum(dim=-1)
    if mask is None:
        assert_close(sums, torch.ones_like(sums))
        return
    mask = mask.expand_as(weights)
    assert (weights[mask] == 0).all()
    hidden_row = mask.all(dim=-1)
    assert_close(sums[~hidden_row], torch.ones_like(sums[~hidden_row]))
    assert (sums[hidden_row] == 0).all()  # nothing to attend to: zeros, never NaN


@given(attention_problems())
def test_matches_a_direct_computation_in_float64(problem) -> None:
    q, k, v, mask, _ = problem
    q, k, v = q.double(), k.double(), v.double()
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    scores = q @ k.transpose(-2, -1) / k.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask, -torch.inf)
    expected = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # all-masked rows: 0/0 -> 0
    assert_close(weights, expected)


def test_all_masked_rows_have_zero_outputs_and_finite_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, generator=g, requires_grad=True) for _ in range(3))
    mask = torch.tensor([[True, True, True], [False, True, True], [False, False, False]])
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        anomaly = torch.autograd.detect_anomaly(check_nan=True)
    with anomaly:  # raises if any backward step produces NaN
        context, weights = scaled_dot_product_attention(q, k, v, mask)
        (context.sum() + (weights * torch.arange(3.0)).sum()).backward()
    assert torch.equal(context[:, 0], torch.zeros(2, 4))
    assert torch.equal(weights[:, 0], torch.zeros(2, 3))
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert torch.equal(q.grad[:, 0], torch.zeros(2, 4))  # a query that sees nothing learns nothing


@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck(masked: bool) -> None:
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    mask = None
    if masked:  # includes a fully masked row
        mask = torch.rand(2, 3, 5, generator=g) < 0.5
        mask[0, 1] = True
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, mask), (q, k, v)
    )


@given(seed=st.integers(0, 2**31), p=st.sampled_from([0.1, 0.5, 0.8]))
def test_dropout_scales_kept_weights_and_zeroes_the_rest(seed: int, p: float) -> None:
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 6, 4, generator=g, dtype=torch.float64) for _ in range(3))
    mask = torch.ones(6, 6, dtype=torch.bool).triu(diagonal=1)
    _, plain = scaled_dot_product_attention(q, k, v, mask)
    dropout = nn.Dropout(p)
    torch.manual_seed(seed)
    context, dropped = scaled_dot_product_attention(q, k, v, mask, dropout)
    kept = dropped != 0
    assert_close(dropped[kept], plain[kept] / (1 - p))
    assert (dropped[~kept] == 0).all()
    assert_close(context, dropped @ v)
    # eval mode: dropout does nothing
    dropout.eval()
    context_eval, weights_eval = scaled_dot_product_attention(q, k, v, mask, dropout)
    assert torch.equal(weights_eval, plain)
    assert torch.equal(context_eval, plain @ v)


def test_modules_return_their_weights() -> None:
    torch.manual_seed(0)
    for module in (SelfAttentionV1(3, 2), SelfAttentionV2(3, 2)):
        out, weights = module(journey_batch(), return_weights=True)
        assert out.shape == (2, 6, 2)
        assert weights.shape == (2, 6, 6)
        assert_close(weights.sum(-1), torch.ones(2, 6))


# --- bad input ---------------------------------------------------------------------------

Q = torch.ones(2, 3, 4)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((Q[0, 0], Q, Q), ValueError, r"query: expected a 2-D to 8-D tensor, got shape \(4,\)"),
        (
            (Q, torch.ones(2, 3, 5), Q),
            ValueError,
            r"key: expected the last dimension to be d_k=4, got shape \(2, 3, 5\)",
        ),
        (
            (Q, Q, torch.ones(2, 2, 4)),
            ValueError,
            r"value: expected one value per key \(3 rows\), got shape \(2, 2, 4\)",
        ),
        (
            (Q, Q.double(), Q),
            TypeError,
            r"query, key, value: expected one dtype, got torch.float32, torch.float64, torch.fl",
        ),
        (
            (Q.long(), Q, Q),
            TypeError,
            r"query: expected a floating-point tensor, got dtype torch.int64",
        ),
        ((Q, Q, Q.int()), TypeError, r"value: expected a floating-point tensor.*x.float\(\)"),
        (
            (torch.ones(2, 0, 4), Q, Q),
            ValueError,
            r"query: expected at least one element.*\(2, 0, 4\)",
        ),
        (
            (torch.ones(2, 3, 4), torch.ones(3, 3, 4), torch.ones(3, 3, 4)),
            ValueError,
            r"query, key, value: expected leading \(batch\) dimensions that broadcast together",
        ),
        ((Q.numpy(), Q, Q), TypeError, r"query: expected a torch.Tensor, got a float32 array"),
    ],
)
def test_sdpa_rejects_bad_tensors(args, error, match) -> None:
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(*args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"mask": torch.zeros(3, 3)},
            TypeError,
            r"mask: expected dtype torch.bool \(True = masked out\), got torch.float32",
        ),
        ({"mask": [[True]]}, TypeError, r"mask: expected a boolean torch.Tensor, got list"),
        (
            {"mask": torch.zeros(4, 4, dtype=torch.bool)},
            ValueError,
            r"mask: expected a shape that broadcasts to the scores' shape \(2, 3, 3\), got \(4, 4",
        ),
        (
            {"mask": torch.zeros(5, 2, 3, 3, dtype=torch.bool)},  # would grow the batch
            ValueError,
            r"mask: expected a shape that broadcasts to the scores' shape \(2, 3, 3\)",
        ),
        (
            {"dropout": 0.1},
            TypeError,
            r"dropout: expected a callable such as nn.Dropout\(p\) or None, got float 0.1",
        ),
    ],
)
def test_sdpa_rejects_bad_masks_and_dropout(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(Q, Q, Q, **kwargs)


def test_sdpa_propagates_nan_as_pytorch_does() -> None:
    # NaN in, NaN out, as in PyTorch: no exception, and the NaN reaches exactly the
    # entries of the formula written out (masked scores replaced by -inf, as
    # Tensor.masked_fill does; PyTorch's function instead adds -inf to a NaN score, which
    # stays NaN). A NaN query gives a NaN row; a NaN key poisons the rows that see it; a
    # NaN value reaches every row through weights @ values (0 * NaN is NaN).

    def written_out_attention(query, key, value, mask):
        scores = query @ key.mT / key.shape[-1] ** 0.5
        if mask is not None:
            scores = scores.masked_fill(mask, -torch.inf)
        return torch.softmax(scores, dim=-1) @ value

    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 5).unbind(0)
    mask = causal_mask(4)
    for name in ("query", "key", "value"):
        tensors = {"query": q.clone(), "key": k.clone(), "value": v.clone()}
        tensors[name][0, 2, 1] = torch.nan
        for m in (None, mask):
            context, weights = scaled_dot_product_attention(**tensors, mask=m)
            expected = written_out_attention(*tensors.values(), m)
            assert context[0].isnan().any(), (name, m)
            assert not context[1].isnan().any(), (name, m)
            assert_close(context, expected, equal_nan=True)
    # a NaN key hidden by the mask from the queries before it: their weights stay finite
    bad_key = k.clone()
    bad_key[0, 3] = torch.nan
    _, weights = scaled_dot_product_attention(q, bad_key, v, mask=mask)
    assert not weights[0, :3].isnan().any()
    assert weights[0, 3].isnan().all()


def test_attend_is_the_unchecked_formula() -> None:
    # attend is what scaled_dot_product_attention runs after its checks: same results.
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    mask = torch.rand(2, 3, 5) < 0.3
    for m in (None, mask):
        context, weights = attend(q, k, v, m, None)
        expected_context, expected_weights = scaled_dot_product_attention(q, k, v, m)
        assert torch.equal(context, expected_context)
        assert torch.equal(weights, expected_weights)


def test_sdpa_accepts_any_dropout_callable_of_the_right_shape() -> None:
    # A callable that keeps the shape is used as given: halving the weights halves the
    # context, compared with the undropped softmax(Q K^T / 2) V of ones.
    context, weights = scaled_dot_product_attention(Q, Q, Q, dropout=lambda w: w / 2)
    assert_close(weights, torch.full((2, 3, 3), 1 / 6))
    assert_close(context, torch.full((2, 3, 4), 0.5))


@pytest.mark.parametrize("cls", [SelfAttentionV1, SelfAttentionV2])
@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.ones(3), ValueError, r"x: expected a 2-D or 3-D tensor, got shape \(3,\)"),
        (torch.ones(1, 2, 6, 3), ValueError, r"x: expected a 2-D or 3-D tensor, got shape"),
        (torch.ones(6, 4), ValueError, r"x: expected the last dimension to be d_in=3, got shape"),
        (torch.ones(6, 3, dtype=torch.int64), TypeError, r"x: expected a floating-point tensor"),
        (torch.ones(0, 3), ValueError, r"x: expected at least one element.*\(0, 3\)"),
        (
            torch.ones(6, 3, dtype=torch.float64),
            TypeError,
            r"x: expected dtype torch.float32 like the module's weights, got torch.float64",
        ),
    ],
)
def test_modules_reject_bad_input(cls, x, error, match) -> None:
    module = cls(3, 2)
    with pytest.raises(error, match=match):
        module(x)


@pytest.mark.parametrize("cls", [SelfAttentionV1, SelfAttentionV2])
def test_modules_propagate_nan(cls) -> None:
    # NaN in, NaN out, as in PyTorch: no exception. Every query attends to every key
    # (no mask here), so a NaN token makes every output of its sequence NaN; the other
    # sequence of the batch is unchanged.
    torch.manual_seed(0)
    module = cls(3, 2)
    x = journey_batch()
    x[0, 4] = torch.nan
    with torch.no_grad():
        out, weights = module(x, return_weights=True)
        clean = module(journey_batch())
    assert out[0].isnan().all()
    assert weights[0].isnan().any()
    assert_close(out[1], clean[1], rtol=0, atol=0)


@pytest.mark.parametrize("cls", [SelfAttentionV1, SelfAttentionV2])
@pytest.mark.parametrize("flag", ["no", 1, None])
def test_modules_reject_a_non_bool_return_weights(cls, flag) -> None:
    # "no" is truthy: without the check it would silently return the weights.
    with pytest.raises(TypeError, match=r"return_weights: expected True or False, got"):
        cls(3, 2)(journey_inputs(), return_weights=flag)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SelfAttentionV1(0, 2), ValueError, r"d_in: expected a positive int, got 0"),
        (lambda: SelfAttentionV1(3, 2.0), TypeError, r"d_out: expected a positive int, got float"),
        (
            lambda: SelfAttentionV1(3, 2, init="uniform"),
            ValueError,
            r"init: expected 'rand' or 'randn', got str 'uniform'",
        ),
        (lambda: SelfAttentionV1(3, 2, init=["rand"]), ValueError, r"init: expected 'rand' or"),
        (lambda: SelfAttentionV2(-3, 2), ValueError, r"d_in: expected a positive int, got -3"),
        (
            lambda: SelfAttentionV2(3, 2, qkv_bias="no"),
            TypeError,
            r"qkv_bias: expected True or False, got str 'no'",
        ),
    ],
)
def test_constructors_reject(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("make_args", "error", "match"),
    [
        (
            lambda: (SelfAttentionV1(3, 2), SelfAttentionV1(3, 2)),
            TypeError,
            r"source: expected a SelfAttentionV2, got SelfAttentionV1",
        ),
        (
            lambda: (SelfAttentionV2(3, 2), SelfAttentionV2(3, 2)),
            TypeError,
            r"target: expected a SelfAttentionV1, got SelfAttentionV2",
        ),
        (
            lambda: (SelfAttentionV2(3, 2), SelfAttentionV1(3, 4)),
            ValueError,
            r"target: expected d_in=3, d_out=2 like the source, got d_in=3, d_out=4",
        ),
        (
            lambda: (SelfAttentionV2(3, 2, qkv_bias=True), SelfAttentionV1(3, 2)),
            ValueError,
            r"source: has qkv_bias=True, but SelfAttentionV1 has no bias",
        ),
    ],
)
def test_transfer_weights_rejects(make_args, error, match) -> None:
    with pytest.raises(error, match=match):
        transfer_weights(*make_args())
