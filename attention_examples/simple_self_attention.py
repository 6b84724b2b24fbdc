"""Self-attention without trainable weights: every token is query, key and value.

Chapter: *Self-attention without weights* (``docs/simple_self_attention.md``).
The loop versions spell out each dot product; the matrix versions compute the same
numbers in one product and are what real code uses.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._checks import as_float_array, check_same_kind, check_tensor
from .softmax import softmax

__all__ = [
    "attention_scores",
    "attention_scores_loop",
    "context_vector_loop",
    "dot_product_loop",
    "scores_for_query_loop",
    "self_attention_minimal",
    "simple_self_attention",
]


def dot_product_loop(a: Tensor, b: Tensor) -> Tensor:
    """The dot product ``sum_k a[k] * b[k]``, one multiplication at a time.

    Args:
        a: (d,) a vector.
        b: (d,) a vector of the same length.

    Returns:
        () the dot product; equal to ``torch.dot(a, b)``.

    Example (seed 003: "journey" with itself):

    >>> from attention_examples import journey_inputs
    >>> x = journey_inputs()
    >>> dot_product_loop(x[1], x[1])
    tensor(1.4950)
    """
    a = check_tensor("a", a, ndim=1)
    b = check_tensor("b", b, ndim=1, last_dim=a.shape[0], last_dim_name="len(a)")
    check_same_kind("a, b", a, b)
    total = torch.zeros((), dtype=a.dtype, device=a.device)
    for a_k, b_k in zip(a, b, strict=True):
        total = total + a_k * b_k
    return total


def scores_for_query_loop(inputs: Tensor, query: Tensor) -> Tensor:
    """Score every input against one query, one ``torch.dot`` per token.

    Args:
        inputs: (T, d) one embedding per token.
        query: (d,) the query vector.

    Returns:
        (T,) ``scores[i] = inputs[i] · query``.

    Example (seeds 002-004: the query is "journey"):

    >>> from attention_examples import journey_inputs
    >>> x = journey_inputs()
    >>> scores_for_query_loop(x, x[1])
    tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])
    """
    inputs = check_tensor("inputs", inputs, ndim=2)
    query = check_tensor("query", query, ndim=1, last_dim=inputs.shape[1], last_dim_name="d")
    check_same_kind("inputs, query", inputs, query)
    scores = torch.empty(inputs.shape[0], dtype=inputs.dtype, device=inputs.device)
    for i, x_i in enumerate(inputs):
        scores[i] = torch.dot(x_i, query)
    return scores


def attention_scores_loop(inputs: Tensor) -> Tensor:
    """All pairwise scores with two nested loops: ``scores[i, j] = inputs[i] · inputs[j]``.

    Args:
        inputs: (T, d) one embedding per token.

    Returns:
        (T, T) the score matrix; equal to :func:`attention_scores`.

    >>> from attention_examples import journey_inputs
    >>> attention_scores_loop(journey_inputs())[0]
    tensor([0.9995, 0.9544, 0.9422, 0.4753, 0.4576, 0.6310])
    """
    inputs = check_tensor("inputs", inputs, ndim=2)
    num_tokens = inputs.shape[0]
    scores = torch.empty(num_tokens, num_tokens, dtype=inputs.dtype, device=inputs.device)
    for i, x_i in enumerate(inputs):
        for j, x_j in enumerate(inputs):
            scores[i, j] = torch.dot(x_i, x_j)
    return scores


def attention_scores(inputs: Tensor) -> Tensor:
    """All pairwise scores in one matrix product: ``inputs @ inputs.T``.

    Args:
        inputs: (T, d) one embedding per token.

    Returns:
        (T, T) ``scores[i, j] = inputs[i] · inputs[j]``.

    Example (seeds 002-004):

    >>> from attention_examples import journey_inputs
    >>> attention_scores(journey_inputs())
    tensor([[0.9995, 0.9544, 0.9422, 0.4753, 0.4576, 0.6310],
            [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865],
            [0.9422, 1.4754, 1.4570, 0.8296, 0.7154, 1.0605],
            [0.4753, 0.8434, 0.8296, 0.4937, 0.3474, 0.6565],
            [0.4576, 0.7070, 0.7154, 0.3474, 0.6654, 0.2935],
            [0.6310, 1.0865, 1.0605, 0.6565, 0.2935, 0.9450]])
    """
    inputs = check_tensor("inputs", inputs, ndim=2)
    return inputs @ inputs.T  # (T, d) @ (d, T) -> (T, T)


def context_vector_loop(inputs: Tensor, weights: Tensor) -> Tensor:
    """One context vector as an explicit sum: ``sum_i weights[i] * inputs[i]``.

    Args:
        inputs: (T, d) the vectors to mix.
        weights: (T,) one attention weight per vector.

    Returns:
        (d,) the context vector; equal to ``weights @ inputs``.

    Example (seeds 002-004: the context vector of "journey"):

    >>> from attention_examples import journey_inputs
    >>> x = journey_inputs()
    >>> w = torch.softmax(x @ x[1], dim=0)
    >>> context_vector_loop(x, w)
    tensor([0.4419, 0.6515, 0.5683])
    """
    inputs = check_tensor("inputs", inputs, ndim=2)
    weights = check_tensor("weights", weights, ndim=1, last_dim=inputs.shape[0], last_dim_name="T")
    check_same_kind("inputs, weights", inputs, weights)
    context = torch.zeros(inputs.shape[1], dtype=inputs.dtype, device=inputs.device)
    for w_i, x_i in zip(weights, inputs, strict=True):
        context += w_i * x_i
    return context


def simple_self_attention(inputs: Tensor) -> tuple[Tensor, Tensor]:
    """Self-attention with queries, keys and values all equal to the inputs.

    Args:
        inputs: (T, d) one embedding per token.

    Returns:
        ``(context, weights)``: context (T, d), one context vector per token;
        weights (T, T), row ``i`` is how much token ``i`` attends to each token.

    Example (seeds 002-004):

    >>> from attention_examples import journey_inputs
    >>> context, weights = simple_self_attention(journey_inputs())
    >>> weights.sum(dim=-1)
    tensor([1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000])
    >>> context
    tensor([[0.4421, 0.5931, 0.5790],
            [0.4419, 0.6515, 0.5683],
            [0.4431, 0.6496, 0.5671],
            [0.4304, 0.6298, 0.5510],
            [0.4671, 0.5910, 0.5266],
            [0.4177, 0.6503, 0.5645]])
    """
    scores = attention_scores(inputs)  # (T, T)
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1
    return weights @ inputs, weights  # (T, T) @ (T, d) -> (T, d)


def self_attention_minimal(X: np.ndarray) -> np.ndarray:
    """Seed 000's minimal self-attention in NumPy, with Q = K = V = X.

    Args:
        X: (T, D) one sequence of T vectors.

    Returns:
        (T, D) row ``i`` is the softmax(X @ X[i])-weighted average of the rows of X,
        in the dtype of ``X``.

    Example (seed 000; float32 sums may differ in the eighth digit across machines,
    so four decimals are shown):

    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(4, 3).astype(np.float32)
    >>> with np.printoptions(precision=4):
    ...     print(self_attention_minimal(X))
    [[ 1.7975  0.8591  0.3104]
     [ 2.2385  1.8616 -0.9703]
     [ 1.7369  0.9578 -0.0557]
     [ 1.0923  0.3013  1.0671]]
    """
    X = as_float_array("X", X, ndim=2)
    weights = softmax(X @ X.T, axis=-1)  # (T, D) @ (D, T) -> (T, T), rows sum to 1
    context: np.ndarray = weights @ X  # (T, T) @ (T, D) -> (T, D)
    return context
