"""Tests of attention_examples.learning.

The tasks are checked against what they promise (the target is the token the expected key
holds, no fixed offset finds the repeat), the model against a forward pass written out
with torch.nn.functional.scaled_dot_product_attention, accuracy and attention mass against
hand-made cases, and training by the chapter's invariants: accuracy >= 0.99 on held-out
sequences and attention mass >= 0.9 on the expected key.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from attention_examples import (
    IGNORE_INDEX,
    AttentionOnlyModel,
    accuracy,
    attention_mass,
    plot_loss_curve,
    previous_token_task,
    repeated_sequence_task,
    train,
)

PREVIOUS = partial(previous_token_task, num_tokens=16, vocab_size=16, offset=1)
REPEATED = partial(
    repeated_sequence_task, num_tokens=24, vocab_size=32, min_length=4, max_length=10
)


def held_out(task, n: int = 1000):
    return task(n, torch.Generator().manual_seed(1234))


# --- the tasks ------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [1, 2, 5])
def test_previous_token_targets_are_the_tokens_offset_back(offset: int) -> None:
    batch = previous_token_task(
        8, torch.Generator().manual_seed(0), num_tokens=12, vocab_size=7, offset=offset
    )
    for b in range(8):
        for t in range(12):
            if t < offset:
                assert batch.targets[b, t] == IGNORE_INDEX
                assert batch.expected_key[b, t] == -1
            else:
                assert batch.targets[b, t] == batch.tokens[b, t - offset]
                assert batch.expected_key[b, t] == t - offset


def test_repeated_sequence_answers_are_at_the_expected_keys() -> None:
    batch = held_out(REPEATED, 500)
    tokens, targets, key = batch.tokens, batch.targets, batch.expected_key
    assert tokens.min() >= 0
    assert tokens.max() < 32
    for b in range(len(tokens)):
        asked = (key[b] >= 0).nonzero().flatten().tolist()
        # the answered queries form one run of L - 1 positions, 3 <= L - 1 <= 9
        assert 3 <= len(asked) <= 9
        assert asked == list(range(asked[0], asked[-1] + 1))
        for p in asked:
            k = int(key[b, p])
            assert targets[b, p] == tokens[b, p + 1] == tokens[b, k]
            assert tokens[b, k - 1] == tokens[b, p]  # the key follows the earlier occurrence
        # every token occurs at most twice, and only the repeated segment twice
        counts = torch.bincount(tokens[b], minlength=32)
        assert counts.max() == 2
        assert int((counts == 2).sum()) == len(asked) + 1
        assert (targets[b] == IGNORE_INDEX).sum() == 24 - len(asked)


def test_no_fixed_offset_solves_the_repeated_sequence_task() -> None:
    batch = held_out(REPEATED, 500)
    asked = batch.expected_key >= 0
    offsets = (torch.arange(24) - batch.expected_key)[asked]
    assert len(torch.unique(offsets)) >= 5  # the answer lies 3 to 9 places back
    for offset in range(1, 24):
        best = (offsets == offset).float().mean()
        assert best < 0.5, f"offset {offset} answers {best:.2f} of the queries"


def test_lengths_and_starts_vary() -> None:
    batch = held_out(REPEATED, 500)
    asked = batch.expected_key >= 0
    lengths = asked.sum(dim=1) + 1
    starts = asked.float().argmax(dim=1) - lengths
    assert set(lengths.tolist()) == set(range(4, 11))
    assert len(set(starts.tolist())) >= 10


def test_tasks_are_reproducible_from_a_generator() -> None:
    a = REPEATED(4, torch.Generator().manual_seed(7))
    b = REPEATED(4, torch.Generator().manual_seed(7))
    assert torch.equal(a.tokens, b.tokens)
    assert torch.equal(a.targets, b.targets)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"offset": 16}, ValueError, "offset: expected less than num_tokens=16"),
        ({"offset": 0}, ValueError, "offset: expected a positive int"),
        ({"num_tokens": 2.0}, TypeError, "num_tokens: expected a positive int"),
    ],
)
def test_previous_token_task_rejects_bad_sizes(kwargs, error, match) -> None:
    args = {"num_tokens": 16, "vocab_size": 16, "offset": 1} | kwargs
    with pytest.raises(error, match=match):
        previous_token_task(2, **args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_length": 13}, r"num_tokens: expected at least 2 \* max_length=26"),
        ({"min_length": 1}, "min_length: expected at least 2"),
        ({"min_length": 8, "max_length": 5}, "max_length: expected at least min_length=8"),
        ({"vocab_size": 10}, "vocab_size: expected at least num_tokens - min_length=20"),
    ],
)
def test_repeated_sequence_task_rejects_bad_sizes(kwargs, match) -> None:
    args = {"num_tokens": 24, "vocab_size": 32, "min_length": 4, "max_length": 10} | kwargs
    with pytest.raises(ValueError, match=match):
        repeated_sequence_task(2, **args)


def test_tasks_reject_a_seed_for_a_generator() -> None:
    with pytest.raises(TypeError, match=r"generator: expected a torch\.Generator or None"):
        PREVIOUS(2, 0)


# --- the model ------------------------------------------------------------------------------


def test_model_computes_the_formula_with_pytorchs_attention() -> None:
    torch.manual_seed(0)
    model = AttentionOnlyModel(11, 12, context_length=9, num_layers=2, num_heads=3)
    tokens = torch.randint(11, (2, 7))
    with torch.no_grad():
        logits, weights = model(tokens, return_weights=True)
        x = model.token_embedding.weight[tokens] + model.position_embedding.weight[:7]
        for layer in model.layers:
            q, k, v = (
                proj(x).view(2, 7, 3, 4).transpose(1, 2)
                for proj in (layer.W_query, layer.W_key, layer.W_value)
            )
            context = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + layer.out_proj(context.transpose(1, 2).reshape(2, 7, 12))
        expected = x @ model.unembedding.weight.T + model.unembedding.bias
    assert_close(logits, expected)
    assert weights.shape == (2, 2, 3, 7, 7)
    assert_close(weights.sum(-1), torch.ones(2, 2, 3, 7))
    assert (weights.triu(1) == 0).all()  # causal


def test_model_without_positions_cannot_tell_repeated_tokens_apart() -> None:
    torch.manual_seed(0)
    model = AttentionOnlyModel(5, 8, context_length=6, num_layers=1, num_heads=1, positions=False)
    assert model.position_embedding is None
    with torch.no_grad():
        logits = model(torch.tensor([[3, 3, 3]]))
    # every position sees only copies of the same token: the same output everywhere
    assert_close(logits[0, 0], logits[0, 2])


@pytest.mark.parametrize(
    ("tokens", "error", "match"),
    [
        (torch.zeros(2, 3), TypeError, "tokens: expected an int64 or int32 tensor"),
        ([[1, 2]], TypeError, "tokens: expected a torch.Tensor"),
        (torch.zeros(3, dtype=torch.long), ValueError, r"tokens: expected a \(b, T\) tensor"),
        (torch.zeros(1, 7, dtype=torch.long), ValueError, "context_length=6"),
    ],
)
def test_model_rejects_bad_tokens(tokens, error, match) -> None:
    model = AttentionOnlyModel(5, 8, context_length=6, num_layers=1, num_heads=2)
    with pytest.raises(error, match=match):
        model(tokens)


def test_model_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="d_model: expected a multiple of num_heads=3"):
        AttentionOnlyModel(5, 8, context_length=6, num_layers=1, num_heads=3)
    with pytest.raises(TypeError, match="positions: expected True or False"):
        AttentionOnlyModel(5, 8, context_length=6, num_layers=1, num_heads=2, positions=1)
    with pytest.raises(ValueError, match="num_layers: expected a positive int"):
        AttentionOnlyModel(5, 8, context_length=6, num_layers=0, num_heads=2)


# --- accuracy and attention mass --------------------------------------------------------------


def test_accuracy_counts_only_positions_with_a_target() -> None:
    logits = torch.zeros(1, 4, 3)
    logits[0, torch.arange(4), torch.tensor([0, 1, 2, 0])] = 1.0  # predicts 0, 1, 2, 0
    targets = torch.tensor([[0, 2, IGNORE_INDEX, 0]])
    assert accuracy(logits, targets) == pytest.approx(2 / 3)


def test_accuracy_rejects_targets_of_another_shape() -> None:
    with pytest.raises(ValueError, match=r"targets: expected a tensor of shape \(1, 4\)"):
        accuracy(torch.zeros(1, 4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="targets: expected at least one position"):
        accuracy(torch.zeros(1, 2, 3), torch.full((1, 2), IGNORE_INDEX))


def test_attention_mass_is_the_mean_weight_on_the_expected_keys() -> None:
    torch.manual_seed(0)
    weights = torch.softmax(torch.randn(3, 2, 5, 5), dim=-1)  # (b, heads, T, T)
    key = torch.randint(-1, 5, (3, 5))
    key[0, 0] = 2  # at least one query with a key
    mass = attention_mass(weights, key)
    for h in range(2):
        picked = [weights[b, h, q, key[b, q]] for b in range(3) for q in range(5) if key[b, q] >= 0]
        assert_close(mass[h], torch.stack(picked).mean())
    assert_close(attention_mass(weights[:, 1], key), mass[1])


def test_attention_mass_rejects_bad_keys() -> None:
    weights = torch.full((1, 3, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"expected_key: expected a tensor of shape \(1, 3\)"):
        attention_mass(weights, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="expected_key: expected at least one query"):
        attention_mass(weights, torch.full((1, 3), -1))


# --- training: the chapter's invariants ---------------------------------------------------------


def test_training_restores_the_thread_count() -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    model = AttentionOnlyModel(8, 8, context_length=8, num_layers=1, num_heads=1)
    train(model, partial(previous_token_task, num_tokens=8, vocab_size=8), num_steps=2, lr=1e-3)
    assert torch.get_num_threads() == threads


def test_training_is_deterministic() -> None:
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = AttentionOnlyModel(16, 8, context_length=16, num_layers=1, num_heads=1)
        runs.append(train(model, PREVIOUS, num_steps=5, lr=1e-2))
    assert runs[0] == runs[1]


def test_train_rejects_bad_arguments() -> None:
    model = AttentionOnlyModel(8, 8, context_length=16, num_layers=1, num_heads=1)
    with pytest.raises(ValueError, match="lr: expected a positive learning rate"):
        train(model, PREVIOUS, num_steps=1, lr=0.0)
    with pytest.raises(TypeError, match="task: expected a callable"):
        train(model, "previous", num_steps=1, lr=1e-3)
    with pytest.raises(ValueError, match="num_steps: expected a positive int"):
        train(model, PREVIOUS, num_steps=0, lr=1e-3)


def evaluate(model: AttentionOnlyModel, task) -> tuple[float, torch.Tensor, torch.Tensor]:
    batch = held_out(task)
    with torch.no_grad():
        logits, weights = model(batch.tokens, return_weights=True)
    return accuracy(logits, batch.targets), weights, batch.expected_key


@pytest.mark.slow
def test_one_layer_learns_the_previous_token() -> None:
    """The chapter's first model, seed and schedule."""
    torch.manual_seed(0)
    model = AttentionOnlyModel(16, 32, context_length=16, num_layers=1, num_heads=1)
    _, untrained, key = evaluate(model, PREVIOUS)
    assert attention_mass(untrained[0], key) < 0.5  # the pattern is learned, not built in
    losses = train(model, PREVIOUS, num_steps=60, lr=1e-2)
    acc, weights, key = evaluate(model, PREVIOUS)
    assert acc >= 0.99
    assert attention_mass(weights[0], key) >= 0.9
    assert losses[-1] < losses[0] / 100


@pytest.mark.slow
def test_two_layers_learn_an_induction_head() -> None:
    """The chapter's copying model, seed and schedule (about 400 small Adam steps)."""
    torch.manual_seed(0)
    model = AttentionOnlyModel(32, 64, context_length=24, num_layers=2, num_heads=1)
    train(model, REPEATED, num_steps=400, lr=3e-3)
    acc, weights, key = evaluate(model, REPEATED)
    assert acc >= 0.99
    assert attention_mass(weights[1], key) >= 0.9  # layer 2: the induction head
    # layer 1 at each key that layer 2 reads looks at the token before it
    previous = torch.full_like(key, -1)
    rows, queries = (key >= 0).nonzero(as_tuple=True)
    previous[rows, key[rows, queries]] = key[rows, queries] - 1
    assert attention_mass(weights[0], previous) >= 0.9


def test_plot_loss_curve_draws_every_step() -> None:
    ax = plot_loss_curve([3.0, 1.0, 0.1, 0.01])
    assert ax.get_yscale() == "log"
    assert list(ax.lines[0].get_ydata()) == [3.0, 1.0, 0.1, 0.01]
    with pytest.raises(TypeError, match="losses: expected a non-empty sequence"):
        plot_loss_curve([])
