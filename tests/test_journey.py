"""Tests of attention_examples.journey: the six-token running example of seeds 002-004."""

from __future__ import annotations

import pytest
import torch

from attention_examples import JOURNEY_TOKENS, journey_batch, journey_inputs
from tests.seed_values import seed_tensors

# seed 002 In [20], seed 003 In [1], seed 004 In [4]: the same tensor literal in all three
SEED_ROWS = [
    [0.43, 0.15, 0.89],  # Your
    [0.55, 0.87, 0.66],  # journey
    [0.57, 0.85, 0.64],  # starts
    [0.22, 0.58, 0.33],  # with
    [0.77, 0.25, 0.10],  # one
    [0.05, 0.80, 0.55],  # step
]
SEED_INPUTS = torch.tensor(SEED_ROWS)


def test_inputs_are_the_seeds_embeddings() -> None:
    assert torch.equal(journey_inputs(), SEED_INPUTS)
    assert journey_inputs().dtype == torch.float32


def test_tokens_name_the_rows_in_order() -> None:
    # the comments of seed 003 In [1]: Your (x^1) ... step (x^6)
    assert JOURNEY_TOKENS == ("Your", "journey", "starts", "with", "one", "step")
    assert len(JOURNEY_TOKENS) == journey_inputs().shape[0]


def test_printed_rows_seed_003() -> None:
    x = journey_inputs()
    # seed 003, In [2]: input_query = inputs[1]; In [3]: input_1 = inputs[0]
    query, input_1, _ = seed_tensors("simple_self_attention", "query-first-score")
    torch.testing.assert_close(x[1], query, rtol=0, atol=5e-5)
    torch.testing.assert_close(x[0], input_1, rtol=0, atol=5e-5)


def test_batch_seed_004() -> None:
    # seed 004, In [74]: torch.stack((inputs, inputs), dim=0), shape (2, 6, 3)
    batch = journey_batch()
    assert batch.shape == (2, 6, 3)
    assert torch.equal(batch, torch.stack((SEED_INPUTS, SEED_INPUTS), dim=0))
    shape, printed = seed_tensors("causal_attention", "batch")  # "torch.Size([2, 6, 3])", batch
    assert batch.shape == tuple(shape.int().tolist())
    torch.testing.assert_close(batch, printed, rtol=0, atol=5e-5)


def test_float64_holds_the_decimals_themselves() -> None:
    # 0.43 in float64, not the float32 approximation of 0.43 widened to float64
    x = journey_inputs(torch.float64)
    assert x.dtype == torch.float64
    assert torch.equal(x, torch.tensor(SEED_ROWS, dtype=torch.float64))
    assert journey_batch(dtype=torch.bfloat16).dtype == torch.bfloat16


def test_each_call_returns_a_fresh_tensor() -> None:
    x = journey_inputs()
    x[0, 0] = 100.0
    assert journey_inputs()[0, 0] == pytest.approx(0.43)
    batch = journey_batch(3)
    batch[0, 0, 0] = 100.0
    assert batch[1, 0, 0] == pytest.approx(0.43)  # rows of the batch are not views of each other
    assert journey_batch()[0, 0, 0] == pytest.approx(0.43)


@pytest.mark.parametrize(
    ("fn", "kwargs", "error", "match"),
    [
        (
            journey_inputs,
            {"dtype": torch.int64},
            TypeError,
            r"dtype: expected a floating torch.dtype",
        ),
        (journey_inputs, {"dtype": "float32"}, TypeError, r"dtype: expected a floating.*str"),
        (
            journey_batch,
            {"dtype": torch.bool},
            TypeError,
            r"dtype: expected a floating.*torch.bool",
        ),
        (
            journey_batch,
            {"batch_size": 0},
            ValueError,
            r"batch_size: expected a positive int, got 0",
        ),
        (journey_batch, {"batch_size": 2.0}, TypeError, r"batch_size: expected a positive int"),
    ],
)
def test_rejects(fn, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        fn(**kwargs)
