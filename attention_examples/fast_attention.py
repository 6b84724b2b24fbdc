"""Fast attention: a fused kernel, a tiled online softmax and a key/value cache.

Chapter: *Fast attention* (``docs/fast_attention.md``). Three ways to do the
work of :class:`~attention_examples.MultiHeadAttention` with less time or memory:

- :class:`FusedMultiHeadAttention` hands the attention itself to PyTorch's fused
  ``torch.nn.functional.scaled_dot_product_attention``;
- :func:`tiled_attention` computes exact attention block by block with an online
  softmax (the idea behind FlashAttention), never holding the ``T x T`` scores;
- :class:`KVCache`, :func:`decode_step` and :func:`generate` produce a causal
  sequence token by token, reusing the keys and values of the earlier tokens.

:func:`load_benchmark_results` and :func:`plot_benchmark` read and draw the
measurements that ``nox -s bench`` stores in ``benchmarks/results.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from ._checks import (
    _is_int,
    check_bool,
    check_input_matches,
    check_positive_int,
    check_same_device,
    check_same_dtype,
    check_tensor,
    describe,
    module_weight,
)
from .causal_attention import _batch_inputs, combine_masks
from .multihead_attention import MultiHeadAttention
from .self_attention import scaled_dot_product_attention

__all__ = [
    "FusedMultiHeadAttention",
    "KVCache",
    "decode_step",
    "generate",
    "load_benchmark_results",
    "plot_benchmark",
    "tiled_attention",
]


class FusedMultiHeadAttention(MultiHeadAttention):
    """:class:`~attention_examples.MultiHeadAttention` with PyTorch's fused attention kernel.

    The parameters, their names and the checks are the parent's, so the weights of a
    trained :class:`~attention_examples.MultiHeadAttention` load unchanged
    (:meth:`from_module`). Only the step ``softmax(Q K^T / sqrt(d_k)) V`` differs: it
    is one call of ``torch.nn.functional.scaled_dot_product_attention``, which never
    returns the weights and, without a padding mask, is told ``is_causal=True`` so it
    can skip the blocks above the diagonal instead of computing and then hiding them.

    Args:
        d_in: size of each input embedding.
        d_out: total output size, split across the heads; divisible by num_heads.
        context_length: the longest sequence accepted.
        dropout: dropout probability on the attention weights (training mode only).
        num_heads: how many heads.
        qkv_bias: give the query, key and value projections a bias.

    Shape:
        ``x``: (b, T, d_in) -> (b, T, d_out); (T, d_in) -> (T, d_out).

    Example: the same weights give the same outputs as the didactic class.

    >>> from attention_examples import MultiHeadAttention, journey_batch
    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)
    >>> fused = FusedMultiHeadAttention.from_module(mha)
    >>> fused(journey_batch()).shape
    torch.Size([2, 6, 2])
    >>> torch.allclose(fused(journey_batch()), mha(journey_batch()), atol=1e-6)
    True
    """

    @classmethod
    def from_module(cls, module: MultiHeadAttention) -> FusedMultiHeadAttention:
        """A fused copy of ``module``: same sizes, dropout, and a copy of its weights.

        Args:
            module: a :class:`~attention_examples.MultiHeadAttention`.

        Returns:
            A new :class:`FusedMultiHeadAttention` on the same device, with the same
            dtype and in the same training mode.
        """
        if not isinstance(module, MultiHeadAttention):
            raise TypeError(f"module: expected a MultiHeadAttention, got {describe(module)}")
        fused = cls(
            module.d_in,
            module.d_out,
            module.context_length,
            module.dropout.p,
            module.num_heads,
            qkv_bias=module.W_query.bias is not None,
        )
        weight = module_weight(module)
        fused = fused.to(device=weight.device, dtype=weight.dtype)
        fused.load_state_dict(module.state_dict())
        return fused.train(module.training)

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Attend causally with every head at once, in the fused kernel.

        Args:
            x: (b, T, d_in) or (T, d_in) the token embeddings.
            key_padding_mask: optional (b, T) boolean, True at padding tokens.
            return_weights: the fused kernel never forms the weights; asking for
                them runs the parent's step-by-step computation instead.

        Returns:
            (b, T, d_out) the context vectors (and the weights if asked).
        """
        check_bool("return_weights", return_weights)
        if return_weights:
            return super().forward(x, key_padding_mask, return_weights=True)
        x, key_padding_mask, unbatched = _batch_inputs(x, key_padding_mask, self)
        b, num_tokens, _ = x.shape
        queries = self.split_heads(self.W_query(x))  # (b, T, d_in) -> (b, heads, T, head_dim)
        keys = self.split_heads(self.W_key(x))
        values = self.split_heads(self.W_value(x))
        dropout_p = self.dropout.p if self.training else 0.0
        if key_padding_mask is None:
            context = F.scaled_dot_product_attention(
                queries, keys, values, dropout_p=dropout_p, is_causal=True
            )
        else:
            hidden = combine_masks(
                self.mask[:num_tokens, :num_tokens], key_padding_mask, b, num_tokens
            )
            hidden = hidden[:, None]  # (b, T, T) -> (b, 1, T, T): the same for every head
            # torch's boolean attn_mask marks the keys that *take part*: the opposite.
            context = F.scaled_dot_product_attention(
                queries, keys, values, attn_mask=~hidden, dropout_p=dropout_p
            )
            # A query with every key hidden gets a zero context vector, as in the
            # parent; not every backend of the fused function guarantees that.
            context = context.masked_fill(hidden.all(dim=-1, keepdim=True), 0.0)
        context = context.transpose(1, 2)  # (b, heads, T, head_dim) -> (b, T, heads, head_dim)
        context = context.reshape(b, num_tokens, self.d_out)  # -> (b, T, d_out)
        context = self.out_proj(context)
        return context[0] if unbatched else context


def tiled_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    block_size: int = 128,
    causal: bool = False,
) -> Tensor:
    """Exact attention computed block by block with an online softmax.

    The queries are cut into blocks of ``block_size`` rows; each query block visits
    the keys and values ``block_size`` at a time and keeps, per query, a running
    maximum ``m`` of its scores, a running sum ``l`` of ``exp(score - m)`` and a
    running weighted sum of values. When a block raises the maximum, the old sums
    are rescaled by ``exp(m_old - m_new)``; at the end ``context = sum / l``. At no
    time is more than a ``block_size x block_size`` piece of the scores held, so
    the extra memory grows with ``T`` (the output), not ``T^2``.

    With ``causal=True`` key blocks that lie wholly in a query block's future are
    skipped, and only the diagonal blocks are masked.

    Args:
        query: (..., T_q, d_k) one query per row.
        key: (..., T_k, d_k) one key per row; same leading dimensions as ``query``.
        value: (..., T_k, d_v) one value per key.
        block_size: rows per query block and per key block.
        causal: query ``i`` sees only keys ``j <= i`` (needs ``T_q == T_k``).

    Returns:
        (..., T_q, d_v) the context vectors, equal to
        :func:`~attention_examples.scaled_dot_product_attention`'s up to rounding.
        The weights are never formed, so they are not returned.

    >>> _ = torch.manual_seed(0)
    >>> q, k, v = torch.randn(3, 2, 10, 4).unbind(0)  # (2, 10, 4) each
    >>> context = tiled_attention(q, k, v, block_size=3, causal=True)
    >>> context.shape
    torch.Size([2, 10, 4])
    >>> expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> torch.allclose(context, expected, atol=1e-6)
    True
    """
    query = check_tensor("query", query, ndim=range(2, 9))
    key = check_tensor("key", key, ndim=range(2, 9), last_dim=query.shape[-1], last_dim_name="d_k")
    value = check_tensor("value", value, ndim=range(2, 9))
    if key.shape[:-2] != query.shape[:-2] or value.shape[:-2] != query.shape[:-2]:
        raise ValueError(
            "query, key, value: expected the same leading dimensions, got shapes "
            f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(
            f"value: expected one value per key ({key.shape[-2]} rows), "
            f"got shape {tuple(value.shape)}"
        )
    check_same_dtype("query, key, value", query, key, value)
    check_same_device("query, key, value", query, key, value)
    block_size = check_positive_int("block_size", block_size)
    check_bool("causal", causal)
    num_queries, num_keys = query.shape[-2], key.shape[-2]
    if causal and num_queries != num_keys:
        raise ValueError(
            f"causal: needs as many queries as keys, got {num_queries} queries and {num_keys} keys"
        )

    scale = 1.0 / math.sqrt(query.shape[-1])
    output = query.new_empty(*query.shape[:-1], value.shape[-1])  # (..., T_q, d_v)
    for q_start in range(0, num_queries, block_size):
        q_end = min(q_start + block_size, num_queries)
        q_block = query[..., q_start:q_end, :] * scale  # (..., Bq, d_k), scaled once per block
        row_max = query.new_full((*q_block.shape[:-1], 1), -math.inf)  # m: (..., Bq, 1)
        row_sum = query.new_zeros(row_max.shape)  # l: (..., Bq, 1)
        acc = query.new_zeros(*q_block.shape[:-1], value.shape[-1])  # (..., Bq, d_v)
        k_stop = q_end if causal else num_keys  # keys at or after q_end are all future
        for k_start in range(0, k_stop, block_size):
            k_end = min(k_start + block_size, num_keys)
            # (..., Bq, d_k) @ (..., d_k, Bk) -> (..., Bq, Bk)
            scores = q_block @ key[..., k_start:k_end, :].transpose(-2, -1)
            if causal and k_end > q_start + 1:  # the block reaches past some query's diagonal
                rows = torch.arange(q_start, q_end, device=query.device)[:, None]
                cols = torch.arange(k_start, k_end, device=query.device)[None, :]
                scores = scores.masked_fill(cols > rows, -math.inf)
            new_max = torch.maximum(row_max, scores.amax(dim=-1, keepdim=True))
            # Every query sees key 0 in the first block, so new_max is finite from here on.
            rescale = torch.exp(row_max - new_max)  # exp(-inf) = 0 at the first block
            p = torch.exp(scores - new_max)  # (..., Bq, Bk), each at most 1
            row_sum = row_sum * rescale + p.sum(dim=-1, keepdim=True)
            acc = acc * rescale + p @ value[..., k_start:k_end, :]  # -> (..., Bq, d_v)
            row_max = new_max
        output[..., q_start:q_end, :] = acc / row_sum
    return output


class KVCache:
    """The keys and values of the tokens decoded so far, per layer, per head.

    Storage for ``max_tokens`` positions is allocated at the first
    :meth:`append`, so appending a token copies only that token's keys and values
    and never the history (``torch.cat`` would copy the whole cache every step).

    Args:
        max_tokens: the most positions the cache can hold (a module's context_length).

    >>> cache = KVCache(max_tokens=8)
    >>> keys, values = cache.append(torch.zeros(2, 4, 3, 5), torch.ones(2, 4, 3, 5))
    >>> keys, values = cache.append(torch.zeros(2, 4, 1, 5), torch.ones(2, 4, 1, 5))
    >>> len(cache), tuple(keys.shape)
    (4, (2, 4, 4, 5))
    """

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = check_positive_int("max_tokens", max_tokens)
        self._keys: Tensor | None = None
        self._values: Tensor | None = None
        self._length = 0

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return f"KVCache({self._length} of {self.max_tokens} positions)"

    @property
    def keys(self) -> Tensor:
        """(b, heads, t, head_dim) the cached keys (a view, not a copy)."""
        if self._keys is None:
            raise RuntimeError("KVCache: is empty; append keys and values first")
        return self._keys[:, :, : self._length]

    @property
    def values(self) -> Tensor:
        """(b, heads, t, head_dim_v) the cached values (a view, not a copy)."""
        if self._values is None:
            raise RuntimeError("KVCache: is empty; append keys and values first")
        return self._values[:, :, : self._length]

    def append(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Store the keys and values of ``n`` new positions after the cached ones.

        Args:
            keys: (b, heads, n, head_dim) the new positions' keys.
            values: (b, heads, n, head_dim_v) their values.

        Returns:
            ``(keys, values)`` of every cached position, (b, heads, t + n, ·) views.
        """
        keys = check_tensor("keys", keys, ndim=4)
        values = check_tensor("values", values, ndim=4)
        if values.shape[:3] != keys.shape[:3]:
            raise ValueError(
                f"values: expected (b, heads, n) = {tuple(keys.shape[:3])} like the keys, "
                f"got shape {tuple(values.shape)}"
            )
        n = keys.shape[2]
        if self._keys is None or self._values is None:
            b, heads, _, head_dim = keys.shape
            self._keys = keys.new_empty(b, heads, self.max_tokens, head_dim)
            self._values = values.new_empty(b, heads, self.max_tokens, values.shape[-1])
        for name, new, store in (("keys", keys, self._keys), ("values", values, self._values)):
            if (new.shape[:2], new.shape[3]) != (store.shape[:2], store.shape[3]):
                raise ValueError(
                    f"{name}: expected (b, heads, n, dim) with b, heads, dim = "
                    f"{store.shape[0]}, {store.shape[1]}, {store.shape[3]} like the cache, "
                    f"got shape {tuple(new.shape)}"
                )
            if new.dtype != store.dtype:
                raise TypeError(
                    f"{name}: expected dtype {store.dtype} like the cache, got {new.dtype}; "
                    "convert them, or start a new KVCache"
                )
            if new.device != store.device:
                raise ValueError(
                    f"{name}: expected a tensor on {store.device} like the cache, got one on "
                    f"{new.device}; move them with .to(device), or start a new KVCache"
                )
        if self._length + n > self.max_tokens:
            raise ValueError(
                f"keys: {n} new positions do not fit: the cache holds {self._length} "
                f"of max_tokens={self.max_tokens}"
            )
        self._keys[:, :, self._length : self._length + n] = keys
        self._values[:, :, self._length : self._length + n] = values
        self._length += n
        return self.keys, self.values

    def truncate(self, num_tokens: int) -> None:
        """Forget every position after the first ``num_tokens`` (to decode again from there).

        >>> cache = KVCache(max_tokens=4)
        >>> _ = cache.append(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
        >>> cache.truncate(1)
        >>> len(cache)
        1
        """
        if not _is_int(num_tokens):
            raise TypeError(f"num_tokens: expected an int, got {describe(num_tokens)}")
        if not 0 <= num_tokens <= self._length:
            raise ValueError(
                f"num_tokens: expected 0 to {self._length} (the cached positions), got {num_tokens}"
            )
        self._length = int(num_tokens)


def decode_step(module: MultiHeadAttention, x: Tensor, cache: KVCache) -> Tensor:
    """Attend from ``n`` new tokens to themselves and every cached token.

    Only the new tokens are projected; their keys and values join the cache, and
    their queries attend to all cached keys, so one step with ``n = 1`` costs
    ``O(t)`` for ``t`` cached tokens instead of the ``O(t^2)`` of recomputing the
    whole causal attention. Decoding is inference: no dropout is applied.

    Args:
        module: a :class:`~attention_examples.MultiHeadAttention` (or
            :class:`FusedMultiHeadAttention`) whose weights to use.
        x: (b, n, d_in) the embeddings of the next ``n`` tokens (``n = 1`` when
            generating; several for a prompt).
        cache: the :class:`KVCache` of the tokens before them; it is extended.

    Returns:
        (b, n, d_out) the new tokens' outputs, the same rows as
        ``module(all tokens so far)`` would give for them.

    >>> from attention_examples import MultiHeadAttention, journey_batch
    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)
    >>> x, cache = journey_batch(), KVCache(max_tokens=6)
    >>> rows = [decode_step(mha, x[:, t : t + 1], cache) for t in range(6)]
    >>> len(cache)
    6
    >>> torch.allclose(torch.cat(rows, dim=1), mha(x), atol=1e-6)
    True
    """
    if not isinstance(module, MultiHeadAttention):
        raise TypeError(f"module: expected a MultiHeadAttention, got {describe(module)}")
    if not isinstance(cache, KVCache):
        raise TypeError(f"cache: expected a KVCache, got {describe(cache)}")
    x = check_tensor("x", x, ndim=3, last_dim=module.d_in)
    check_input_matches("x", x, module_weight(module))
    b, n, _ = x.shape
    past = len(cache)
    if past + n > module.context_length:
        raise ValueError(
            f"x: {past} cached + {n} new tokens exceed context_length={module.context_length}"
        )
    queries = module.split_heads(module.W_query(x))  # (b, n, d_in) -> (b, heads, n, head_dim)
    new_keys = module.split_heads(module.W_key(x))
    new_values = module.split_heads(module.W_value(x))
    try:
        keys, values = cache.append(new_keys, new_values)  # -> (b, heads, past + n, head_dim)
    except (TypeError, ValueError) as err:
        # x and module are checked: a mismatch is the cache's (another batch, another
        # module, or filled before module.to(...)). append stores nothing when it raises.
        raise type(err)(f"cache: cannot take the keys and values of x and module: {err}") from err
    mask = None
    if n > 1:  # new token i (position past + i) must not see the new tokens after it
        mask = torch.ones(n, past + n, dtype=torch.bool, device=x.device).triu(past + 1)
    context, _ = scaled_dot_product_attention(queries, keys, values, mask)
    context = context.transpose(1, 2).reshape(b, n, module.d_out)  # -> (b, n, d_out)
    return module.out_proj(context)


def generate(
    module: MultiHeadAttention,
    prompt: Tensor,
    num_steps: int,
    next_input: Callable[[Tensor], Tensor] | None = None,
    use_cache: bool = True,
) -> Tensor:
    """Extend ``prompt`` autoregressively: each new input is made from the last output.

    Each step feeds the sequence so far through ``module`` and turns the output at
    the last position into the next input with ``next_input`` (in a language model:
    the next token's embedding). With ``use_cache`` the keys and values of earlier
    tokens come from a :class:`KVCache`; without it, every step recomputes the causal
    attention of the whole sequence. Both give the same sequence.

    Args:
        module: a :class:`~attention_examples.MultiHeadAttention`.
        prompt: (b, T0, d_in) the starting embeddings.
        num_steps: how many inputs to append; ``T0 + num_steps <= context_length``.
        next_input: maps the (b, 1, d_out) last output to the (b, 1, d_in) next
            input; default: the output itself (needs ``d_out == d_in``).
        use_cache: decode with a :class:`KVCache` (``O(t)`` per step) instead of
            recomputing (``O(t^2)`` per step).

    Returns:
        (b, T0 + num_steps, d_in) the prompt followed by the generated inputs.

    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttention(4, 4, context_length=10, dropout=0.0, num_heads=2).eval()
    >>> prompt = torch.randn(1, 3, 4)
    >>> fast, slow = (generate(mha, prompt, 7, use_cache=c) for c in (True, False))
    >>> fast.shape
    torch.Size([1, 10, 4])
    >>> torch.allclose(fast, slow, atol=1e-5)
    True
    """
    if not isinstance(module, MultiHeadAttention):
        raise TypeError(f"module: expected a MultiHeadAttention, got {describe(module)}")
    prompt = check_tensor("prompt", prompt, ndim=3, last_dim=module.d_in)
    weight = module_weight(module)
    check_input_matches("prompt", prompt, weight)
    check_positive_int("num_steps", num_steps)
    check_bool("use_cache", use_cache)
    if next_input is not None and not callable(next_input):
        raise TypeError(
            f"next_input: expected a function from outputs to inputs (or None), "
            f"got {describe(next_input)}"
        )
    if prompt.shape[1] + num_steps > module.context_length:
        raise ValueError(
            f"num_steps: {prompt.shape[1]} prompt tokens + {num_steps} steps exceed "
            f"context_length={module.context_length}"
        )
    if next_input is None:
        if module.d_out != module.d_in:
            raise ValueError(
                f"next_input: needed to map outputs of size d_out={module.d_out} to inputs "
                f"of size d_in={module.d_in}; the default (the output itself) needs d_out == d_in"
            )

        def next_input(output: Tensor) -> Tensor:
            return output

    sequence = prompt
    cache = KVCache(module.context_length) if use_cache else None
    new_tokens = prompt  # what the cache has not seen yet
    for _ in range(num_steps):
        if cache is not None:
            last = decode_step(module, new_tokens, cache)[:, -1:]  # (b, 1, d_out)
        else:
            last = module(sequence)[:, -1:]  # recompute everything, keep the last row
        new_tokens = next_input(last)
        if not isinstance(new_tokens, Tensor) or new_tokens.shape != (len(prompt), 1, module.d_in):
            raise ValueError(
                f"next_input: expected to return a tensor of shape "
                f"({prompt.shape[0]}, 1, {module.d_in}), got {describe(new_tokens)}"
            )
        if new_tokens.dtype != prompt.dtype and not torch.is_autocast_enabled(prompt.device.type):
            raise TypeError(
                f"next_input: expected to return dtype {prompt.dtype} like the prompt, "
                f"got {new_tokens.dtype}"
            )
        if new_tokens.device != prompt.device:
            raise ValueError(
                f"next_input: expected to return a tensor on {prompt.device} like the prompt, "
                f"got one on {new_tokens.device}"
            )
        sequence = torch.cat([sequence, new_tokens], dim=1)  # -> (b, t + 1, d_in)
    return sequence


BENCHMARK_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results.json"


def load_benchmark_results(path: str | Path | None = None) -> dict[str, Any]:
    """Read the results that ``nox -s bench`` wrote (the book never reruns it).

    Args:
        path: the results file; default ``benchmarks/results.json`` of the
            repository that holds this package (an editable install).

    Returns:
        The results: ``machine``, ``versions``, ``settings``, ``comparison``,
        ``time``, ``memory``, ``decode`` and ``ratios``.

    >>> results = load_benchmark_results()
    >>> {"machine", "versions", "settings", "ratios"} <= results.keys()
    True
    >>> load_benchmark_results("no/such/results.json")
    Traceback (most recent call last):
    ...
    FileNotFoundError: path: no benchmark results at no/such/results.json; ...
    """
    if path is not None and not isinstance(path, str | PathLike):
        raise TypeError(
            f"path: expected a file name (str or pathlib.Path) or None, got {describe(path)}"
        )
    path = BENCHMARK_RESULTS if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"path: no benchmark results at {path}; run `nox -s bench` in the repository, "
            "or install the package from a clone with `pip install -e .`"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"path: expected a JSON file of benchmark results at {path}, but it does not "
            f"parse: {err}"
        ) from err
    if not isinstance(results, dict):
        raise ValueError(
            f"path: expected a JSON object of benchmark results at {path}, "
            f"got a JSON {type(results).__name__}"
        )
    return results


_BENCHMARK_UNITS = {"time": ("s", 1.0), "memory": ("MiB", 2.0**-20), "decode": ("s", 1.0)}


def plot_benchmark(
    results: Mapping[str, Any],
    kind: Literal["time", "memory", "decode"],
    *,
    ax: Axes | None = None,
) -> Axes:
    """Draw one section of the benchmark results against the sequence length, log-log.

    Each series becomes a line (a missing measurement, ``None``, is left out); two
    grey guides, from a point below the lowest line, show the slopes of growth
    proportional to ``T`` and to ``T^2``, so a line parallel to a guide grows like it.
    The figure holds no words, only code names, symbols and numbers, so it serves
    both editions.

    Args:
        results: the contents of ``benchmarks/results.json``; ``results[kind]`` has
            ``"tokens"`` (the sequence lengths) and ``"series"`` (name -> one value
            per length: seconds for ``"time"`` and ``"decode"``, bytes for ``"memory"``),
            and optionally ``"dashed"``: the names to draw dashed (attention cores
            that receive the queries, keys and values already projected).
        kind: which section: the time of a forward pass, the peak extra memory, or
            the time of one decoding step.
        ax: the axes to draw on; a new 7.5 x 4 inch figure if None.

    Returns:
        The axes (x: T; y: seconds, or MiB for ``"memory"``).

    >>> results = {"memory": {"tokens": [1024, 2048], "series": {
    ...     "scaled_dot_product_attention": [2**22, 2**24], "tiled_attention": [2**20, 2**21]}}}
    >>> ax = plot_benchmark(results, "memory")
    >>> ax.get_xscale(), ax.get_yscale(), ax.get_ylabel()
    ('log', 'log', 'MiB')
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['scaled_dot_product_attention', 'tiled_attention']
    """
    if kind not in _BENCHMARK_UNITS:
        raise ValueError(f"kind: expected 'time', 'memory' or 'decode', got {describe(kind)}")
    if not isinstance(results, Mapping) or not isinstance(results.get(kind), Mapping):
        raise ValueError(
            f"results: expected a mapping with a {kind!r} section (benchmarks/results.json), "
            f"got {describe(results)[:80]}"
        )
    section = results[kind]
    for field, kinds in (("tokens", "a list of sequence lengths"), ("series", "a mapping")):
        if field not in section:
            raise ValueError(
                f"results: expected the {kind!r} section to have {field!r} ({kinds}), "
                f"got the keys {list(section)}"
            )
    if not isinstance(section["series"], Mapping):
        raise ValueError(
            f"results: expected {kind!r}['series'] to map names to values, "
            f"got {describe(section['series'])[:80]}"
        )
    tokens = list(section["tokens"])
    unit, scale = _BENCHMARK_UNITS[kind]
    dashed = set(section.get("dashed", ()))
    if ax is None:
        ax = Figure(figsize=(7.5, 4), layout="constrained").add_subplot()
    starts: list[float] = []  # each series' first value
    for name, values in section["series"].items():
        if len(values) != len(tokens):
            raise ValueError(
                f"results: series {name!r} of {kind!r} has {len(values)} values "
                f"for {len(tokens)} sequence lengths"
            )
        points = [(t, v * scale) for t, v in zip(tokens, values, strict=True) if v is not None]
        if points:
            style = "--" if name in dashed else "-"
            ax.plot(*zip(*points, strict=True), marker="o", linestyle=style, label=name)
            starts.append(points[0][1])
    if starts:
        # Both guides fan out from below the lowest first point, clear of the data.
        t0, t1, y0 = tokens[0], tokens[-1], min(starts) / 2
        for power, text in ((1, r"$\propto T$"), (2, r"$\propto T^2$")):
            ax.plot(
                [t0, t1],
                [y0, y0 * (t1 / t0) ** power],
                color="black",
                alpha=0.5,
                linewidth=1,
                linestyle=":" if power == 1 else "-.",
                label=text,
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(tokens, labels=[str(t) for t in tokens])
    ax.set_xlabel("$T$")
    ax.set_ylabel(unit)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
