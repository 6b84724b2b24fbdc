"""Watching attention learn: small attention-only models trained on synthetic tasks.

Chapter: *Watching attention learn* (``docs/learning.md``). Each task knows in advance
which key position a query must attend to, so the trained heads can be checked: the
previous-token task (one layer) and the repeated-sequence task, solved by an induction
head (two layers; Olsson et al., 2022).

A batch marks the positions with nothing to predict by ``IGNORE_INDEX`` in its targets
(the value ``torch.nn.functional.cross_entropy`` skips) and by -1 in its expected keys:

>>> batch = previous_token_task(1, num_tokens=5, vocab_size=10, offset=2)
>>> IGNORE_INDEX
-100
>>> (batch.targets == IGNORE_INDEX).tolist(), batch.expected_key.tolist()
([[True, True, False, False, False]], [[-1, -1, 0, 1, 2]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._call_types import OneInputCall
from ._checks import check_bool, check_positive_int, describe
from .multihead_attention import MultiHeadAttention
from .plotting import axes_to_draw_on

if TYPE_CHECKING:  # only the figures need Matplotlib
    from matplotlib.axes import Axes

__all__ = [
    "IGNORE_INDEX",
    "AttentionOnlyModel",
    "TaskBatch",
    "accuracy",
    "attention_mass",
    "plot_loss_curve",
    "previous_token_task",
    "repeated_sequence_task",
    "train",
]

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TaskBatch:
    """A batch of a synthetic task whose correct attention pattern is known.

    Attributes:
        tokens: (b, T) int64 token ids, the model's input.
        targets: (b, T) int64, the token to predict after each position, or
            ``IGNORE_INDEX`` where there is nothing to predict.
        expected_key: (b, T) int64, the key position a query must attend to in
            order to answer, or -1 where there is nothing to predict.

    >>> batch = previous_token_task(2, num_tokens=4, vocab_size=10)
    >>> batch.tokens.shape, batch.targets.shape, batch.expected_key.shape
    (torch.Size([2, 4]), torch.Size([2, 4]), torch.Size([2, 4]))
    """

    tokens: Tensor
    targets: Tensor
    expected_key: Tensor


def _check_generator(generator: object) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {describe(generator)}")
    return generator


def previous_token_task(
    batch_size: int,
    generator: torch.Generator | None = None,
    *,
    num_tokens: int,
    vocab_size: int,
    offset: int = 1,
) -> TaskBatch:
    """Random tokens; the answer at position t is the token ``offset`` places back.

    Args:
        batch_size: b, the number of sequences.
        generator: the random generator to draw from; None uses PyTorch's global one.
        num_tokens: T, the length of each sequence; more than ``offset``.
        vocab_size: the number of distinct tokens.
        offset: how far back the answer lies.

    Returns:
        A :class:`TaskBatch` of (b, T) tensors: targets ``tokens[:, t - offset]`` and
        expected key ``t - offset`` for every ``t >= offset``.

    >>> g = torch.Generator().manual_seed(0)
    >>> batch = previous_token_task(1, g, num_tokens=6, vocab_size=10)
    >>> torch.equal(batch.targets[0, 1:], batch.tokens[0, :-1])
    True
    >>> batch.expected_key
    tensor([[-1,  0,  1,  2,  3,  4]])
    """
    batch_size = check_positive_int("batch_size", batch_size)
    num_tokens = check_positive_int("num_tokens", num_tokens)
    vocab_size = check_positive_int("vocab_size", vocab_size)
    offset = check_positive_int("offset", offset)
    if offset >= num_tokens:
        raise ValueError(
            f"offset: expected less than num_tokens={num_tokens}, so that some position "
            f"has a token {offset} places back, got {offset}"
        )
    generator = _check_generator(generator)
    tokens = torch.randint(vocab_size, (batch_size, num_tokens), generator=generator)  # (b, T)
    position = torch.arange(num_tokens)  # (T,)
    answerable = position >= offset  # (T,)
    targets = torch.where(answerable, tokens.roll(offset, dims=1), IGNORE_INDEX)  # (b, T)
    expected_key = torch.where(answerable, position - offset, -1).expand(batch_size, -1)  # (b, T)
    return TaskBatch(tokens, targets, expected_key)


def repeated_sequence_task(
    batch_size: int,
    generator: torch.Generator | None = None,
    *,
    num_tokens: int,
    vocab_size: int,
    min_length: int,
    max_length: int,
) -> TaskBatch:
    """Distinct random tokens in which a segment is repeated; predict the repeat.

    Each sequence draws a segment length L in [min_length, max_length] and a start
    s, then writes distinct random tokens with the segment ``tokens[s : s + L]``
    repeated right after itself, at ``s + L``. Inside the repeat, at position p, the
    next token is the one that followed the current token's earlier occurrence, at
    ``p - L + 1``: that is the expected key. As L and s vary, no fixed offset finds it.

    Args:
        batch_size: b, the number of sequences.
        generator: the random generator to draw from; None uses PyTorch's global one.
        num_tokens: T, the length of each sequence; at least ``2 * max_length``.
        vocab_size: the number of distinct tokens; at least ``T - min_length``, so
            that the tokens outside the repeat are all different.
        min_length: the shortest repeated segment; at least 2.
        max_length: the longest repeated segment.

    Returns:
        A :class:`TaskBatch` of (b, T) tensors: targets ``tokens[:, p + 1]`` and
        expected key ``p - L + 1`` for ``s + L <= p < s + 2L - 1``.

    >>> g = torch.Generator().manual_seed(0)
    >>> batch = repeated_sequence_task(
    ...     1, g, num_tokens=10, vocab_size=10, min_length=3, max_length=3)
    >>> tokens, key = batch.tokens[0], batch.expected_key[0]
    >>> asked = key >= 0
    >>> int(asked.sum())  # L - 1 answers in the repeat
    2
    >>> torch.equal(tokens[key[asked]], batch.targets[0, asked])
    True
    """
    batch_size = check_positive_int("batch_size", batch_size)
    num_tokens = check_positive_int("num_tokens", num_tokens)
    vocab_size = check_positive_int("vocab_size", vocab_size)
    min_length = check_positive_int("min_length", min_length)
    max_length = check_positive_int("max_length", max_length)
    if min_length < 2:
        raise ValueError("min_length: expected at least 2 (a repeat with a next token), got 1")
    if max_length < min_length:
        raise ValueError(f"max_length: expected at least min_length={min_length}, got {max_length}")
    if 2 * max_length > num_tokens:
        raise ValueError(
            f"num_tokens: expected at least 2 * max_length={2 * max_length} to hold a "
            f"segment and its repeat, got {num_tokens}"
        )
    if vocab_size < num_tokens - min_length:
        raise ValueError(
            f"vocab_size: expected at least num_tokens - min_length={num_tokens - min_length} "
            f"distinct tokens, got {vocab_size}"
        )
    generator = _check_generator(generator)
    b = batch_size
    length = torch.randint(min_length, max_length + 1, (b, 1), generator=generator)  # (b, 1)
    start = (torch.rand(b, 1, generator=generator) * (num_tokens - 2 * length + 1)).long()
    distinct = torch.rand(b, vocab_size, generator=generator).argsort(dim=-1)  # (b, vocab)
    position = torch.arange(num_tokens)  # (T,)
    source = position - length * (position >= start + length)  # (b, T): skip back L in the repeat
    tokens = distinct.gather(1, source)  # (b, T)
    answerable = (position >= start + length) & (position < start + 2 * length - 1)  # (b, T)
    targets = torch.where(answerable, tokens.roll(-1, dims=1), IGNORE_INDEX)  # (b, T)
    expected_key = torch.where(answerable, position - length + 1, -1)  # (b, T)
    return TaskBatch(tokens, targets, expected_key)


class AttentionOnlyModel(nn.Module):
    """Token embedding + learned positions + causal attention layers + unembedding.

    Every layer is a :class:`MultiHeadAttention` whose output is added to its input
    (a residual connection), so later layers see both the tokens and what earlier
    layers moved between them. There is no MLP and no layer norm: the tasks only
    move tokens between positions.

    Args:
        vocab_size: the number of distinct tokens.
        d_model: the width of the embeddings and of every layer.
        context_length: the longest sequence accepted (the number of positions).
        num_layers: how many attention layers.
        num_heads: heads per layer; ``d_model`` must be divisible by it.
        positions: add a learned position embedding; False leaves the model with
            nothing but the causal mask to tell positions apart.

    >>> _ = torch.manual_seed(0)
    >>> model = AttentionOnlyModel(10, 8, context_length=6, num_layers=2, num_heads=2)
    >>> logits, weights = model(torch.tensor([[1, 2, 3, 4]]), return_weights=True)
    >>> logits.shape  # (b, T, vocab_size)
    torch.Size([1, 4, 10])
    >>> weights.shape  # (num_layers, b, num_heads, T, T)
    torch.Size([2, 1, 2, 4, 4])
    """

    __call__: OneInputCall  # for type checkers: model(tokens) gives a Tensor (_call_types)

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        context_length: int,
        num_layers: int,
        num_heads: int,
        positions: bool = True,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size = check_positive_int("vocab_size", vocab_size)
        d_model = check_positive_int("d_model", d_model)
        self.context_length = check_positive_int("context_length", context_length)
        num_layers = check_positive_int("num_layers", num_layers)
        num_heads = check_positive_int("num_heads", num_heads)
        if d_model % num_heads:
            raise ValueError(
                f"d_model: expected a multiple of num_heads={num_heads}, to split it into "
                f"heads, got {d_model}"
            )
        check_bool("positions", positions)
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(context_length, d_model) if positions else None
        self.layers = nn.ModuleList(
            MultiHeadAttention(d_model, d_model, context_length, dropout=0.0, num_heads=num_heads)
            for _ in range(num_layers)
        )
        self.unembedding = nn.Linear(d_model, vocab_size)

    def forward(
        self, tokens: Tensor, return_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Predict, at every position, the token that comes next.

        Args:
            tokens: (b, T) integer token ids in [0, vocab_size), T <= context_length.
            return_weights: also return every layer's attention weights.

        Returns:
            (b, T, vocab_size) logits, and if asked the
            (num_layers, b, num_heads, T, T) attention weights.
        """
        check_bool("return_weights", return_weights)
        if not isinstance(tokens, Tensor):
            raise TypeError(f"tokens: expected a torch.Tensor of token ids, got {describe(tokens)}")
        if tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(
                f"tokens: expected an int64 or int32 tensor of ids, got {describe(tokens)}"
            )
        if tokens.ndim != 2 or not 0 < tokens.shape[1] <= self.context_length:
            raise ValueError(
                f"tokens: expected a (b, T) tensor with 1 <= T <= context_length="
                f"{self.context_length}, got shape {tuple(tokens.shape)}"
            )
        num_tokens = tokens.shape[1]
        x = self.token_embedding(tokens)  # (b, T) -> (b, T, d_model)
        if self.position_embedding is not None:
            x = x + self.position_embedding(torch.arange(num_tokens, device=tokens.device))
        weights = []
        for layer in self.layers:
            context, w = layer(x, return_weights=True)  # (b, T, d_model), (b, heads, T, T)
            x = x + context  # residual: each layer adds to what every position holds
            weights.append(w)
        logits = self.unembedding(x)  # (b, T, d_model) -> (b, T, vocab_size)
        return (logits, torch.stack(weights)) if return_weights else logits


def train(
    model: AttentionOnlyModel,
    task: Callable[[int, torch.Generator], TaskBatch],
    num_steps: int,
    *,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` with Adam on fresh batches of ``task``; return the losses.

    The batches come from a generator seeded with ``seed``; the model's initial
    weights come from wherever it was created (seed PyTorch before creating it).
    Training runs on one thread, so that the result does not depend on how many
    cores the machine has, and restores the previous thread count.

    Args:
        model: the model to train, in place.
        task: called as ``task(batch_size, generator)``, returns a :class:`TaskBatch`.
        num_steps: the number of Adam steps, one fresh batch each.
        lr: Adam's learning rate.
        batch_size: b, sequences per batch.
        seed: seeds the batches.

    Returns:
        The cross-entropy loss of every step, over the positions with a target.

    >>> from functools import partial
    >>> _ = torch.manual_seed(0)
    >>> model = AttentionOnlyModel(8, 16, context_length=8, num_layers=1, num_heads=1)
    >>> task = partial(previous_token_task, num_tokens=8, vocab_size=8)
    >>> losses = train(model, task, num_steps=60, lr=1e-2)
    >>> len(losses), losses[-1] < losses[0] / 10
    (60, True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {describe(model)}")
    if not callable(task):
        raise TypeError(
            f"task: expected a callable task(batch_size, generator), got {describe(task)}"
        )
    num_steps = check_positive_int("num_steps", num_steps)
    batch_size = check_positive_int("batch_size", batch_size)
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"lr: expected a positive learning rate, got {describe(lr)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {describe(seed)}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    losses = []
    try:
        model.train()
        for _ in range(num_steps):
            batch = task(batch_size, generator)
            logits = model(batch.tokens)  # (b, T, vocab_size)
            loss = F.cross_entropy(
                logits.flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE_INDEX
            )  # (b * T, vocab_size) against (b * T,)
            optimizer.zero_grad()
            torch.autograd.backward(loss)  # the same as loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
        model.eval()
    return losses


def accuracy(logits: Tensor, targets: Tensor) -> float:
    """The fraction of positions with a target where the largest logit is the target.

    Args:
        logits: (b, T, vocab_size) the model's predictions.
        targets: (b, T) token ids, ``IGNORE_INDEX`` where there is nothing to predict.

    Returns:
        The accuracy, a float in [0, 1].

    >>> logits = torch.tensor([[[0.0, 2.0], [3.0, 1.0], [0.0, 1.0]]])  # (1, 3, 2)
    >>> accuracy(logits, torch.tensor([[1, 1, IGNORE_INDEX]]))
    0.5
    """
    if not isinstance(logits, Tensor) or logits.ndim != 3:
        raise ValueError(f"logits: expected a (b, T, vocab_size) tensor, got {describe(logits)}")
    if not isinstance(targets, Tensor) or tuple(targets.shape) != tuple(logits.shape[:2]):
        raise ValueError(
            f"targets: expected a tensor of shape {tuple(logits.shape[:2])} (b, T), "
            f"got {describe(targets)}"
        )
    asked = targets != IGNORE_INDEX  # (b, T)
    if not asked.any():
        raise ValueError("targets: expected at least one position with a target, got none")
    correct = logits.argmax(dim=-1) == targets  # (b, T)
    return correct[asked].float().mean().item()


def attention_mass(weights: Tensor, expected_key: Tensor) -> Tensor:
    """The average weight each head puts on the key it is expected to attend to.

    Args:
        weights: (b, num_heads, T, T) attention weights of one layer, or (b, T, T)
            for one head.
        expected_key: (b, T) the expected key position of every query, -1 where
            there is none (those queries are left out of the average).

    Returns:
        (num_heads,) the mass per head, or a 0-d tensor for (b, T, T) weights.

    >>> w = torch.tensor([[[1.0, 0.0], [0.75, 0.25]]])  # (b=1, T=2, T=2)
    >>> attention_mass(w, torch.tensor([[-1, 0]]))  # the query at 1 should look at 0
    tensor(0.7500)
    """
    if not isinstance(weights, Tensor) or weights.ndim not in (3, 4):
        raise ValueError(
            f"weights: expected a (b, num_heads, T, T) or (b, T, T) tensor, got {describe(weights)}"
        )
    b, num_tokens = weights.shape[0], weights.shape[-1]
    if not isinstance(expected_key, Tensor) or tuple(expected_key.shape) != (b, num_tokens):
        raise ValueError(
            f"expected_key: expected a tensor of shape {(b, num_tokens)} (b, T), "
            f"got {describe(expected_key)}"
        )
    asked = expected_key >= 0  # (b, T)
    if not asked.any():
        raise ValueError("expected_key: expected at least one query with a key, got only -1")
    heads = weights if weights.ndim == 4 else weights[:, None]  # (b, heads, T, T)
    index = expected_key.clamp(min=0)[:, None, :, None].expand(-1, heads.shape[1], -1, 1)
    on_key = heads.gather(-1, index)[..., 0]  # (b, heads, T): weight on the expected key
    mass = on_key.transpose(0, 1)[:, asked].mean(dim=-1)  # (heads,)
    return mass if weights.ndim == 4 else mass[0]


def plot_loss_curve(losses: Sequence[float], ax: Axes | None = None) -> Axes:
    """Draw the training loss against the step, on a logarithmic loss axis.

    Args:
        losses: the loss of every step, as :func:`train` returns them.
        ax: the Matplotlib axes to draw on; a new 5 x 3 inch figure if None.

    Returns:
        The axes, labelled ``step`` and ``loss``.

    >>> ax = plot_loss_curve([2.0, 1.0, 0.5])
    >>> ax.get_xlabel(), ax.get_ylabel(), len(ax.lines[0].get_xdata())
    ('step', 'loss', 3)
    """
    if isinstance(losses, str | bytes) or not isinstance(losses, Sequence) or not losses:
        raise TypeError(f"losses: expected a non-empty sequence of numbers, got {describe(losses)}")
    ax = axes_to_draw_on(ax, 5, 3)
    ax.plot(range(len(losses)), losses, linewidth=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.3)
    return ax
