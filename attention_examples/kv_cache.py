"""Decoding token by token with a key/value cache.

Chapter: *Fast attention* (``docs/fast_attention.md``), its last section. A causal
sequence is produced one token at a time; :class:`KVCache` keeps the keys and values of
the tokens already decoded, so that :func:`decode_step` projects only the new token and
:func:`generate` never recomputes the attention of the whole sequence.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._checks import (
    check_bool,
    check_callable,
    check_input_matches,
    check_positive_int,
    check_tensor,
    describe,
    is_int,
)
from .multihead_attention import MultiHeadAttention
from .self_attention import attend

__all__ = ["KVCache", "decode_step", "generate"]


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
        if values.dtype != keys.dtype:
            raise TypeError(
                f"values: expected dtype {keys.dtype} like the keys, got {values.dtype}"
            )
        if values.device != keys.device:
            raise ValueError(
                f"values: expected a tensor on {keys.device} like the keys, "
                f"got one on {values.device}"
            )
        b, heads, n, head_dim = keys.shape
        self.check_fits(b, heads, head_dim, keys, values.shape[-1], n)
        return self.store(keys, values)

    def check_fits(
        self,
        batch: int,
        heads: int,
        head_dim: int,
        like: Tensor,
        value_dim: int | None = None,
        num_new: int | None = None,
    ) -> None:
        """Refuse keys and values that do not fit the cache (after its first append).

        Args:
            batch, heads, head_dim: the sizes of the new keys.
            like: a tensor of the new keys' dtype and device.
            value_dim: the values' last size (default: head_dim).
            num_new: how many positions are to be added (default: the size of ``like``'s
                second-to-last dimension).
        """
        num_new = like.shape[-2] if num_new is None else num_new
        if self._length + num_new > self.max_tokens:
            raise ValueError(
                f"keys: {num_new} new positions do not fit: the cache holds {self._length} "
                f"of max_tokens={self.max_tokens}"
            )
        if self._keys is None or self._values is None:
            return
        value_dim = head_dim if value_dim is None else value_dim
        stored = (*self._keys.shape[:2], self._keys.shape[3], self._values.shape[3])
        if (batch, heads, head_dim, value_dim) != stored:
            raise ValueError(
                f"keys: expected (b, heads, head_dim, head_dim_v) = {stored} like the cache, "
                f"got {(batch, heads, head_dim, value_dim)}"
            )
        if like.dtype != self._keys.dtype:
            raise TypeError(
                f"keys: expected dtype {self._keys.dtype} like the cache, got {like.dtype}; "
                "convert them, or start a new KVCache"
            )
        if like.device != self._keys.device:
            raise ValueError(
                f"keys: expected a tensor on {self._keys.device} like the cache, got one on "
                f"{like.device}; move them with .to(device), or start a new KVCache"
            )

    def store(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`append` without its checks."""
        if self._keys is None or self._values is None:  # the first append allocates
            b, heads, _, head_dim = keys.shape
            self._keys = keys.new_empty(b, heads, self.max_tokens, head_dim)
            self._values = values.new_empty(b, heads, self.max_tokens, values.shape[-1])
        end = self._length + keys.shape[2]
        self._keys[:, :, self._length : end] = keys  # copy the new positions only
        self._values[:, :, self._length : end] = values
        self._length = end
        return self.keys, self.values

    def truncate(self, num_tokens: int) -> None:
        """Forget every position after the first ``num_tokens`` (to decode again from there).

        >>> cache = KVCache(max_tokens=4)
        >>> _ = cache.append(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
        >>> cache.truncate(1)
        >>> len(cache)
        1
        """
        if not is_int(num_tokens):
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
    check_input_matches("x", x, module.W_query.weight)
    past, n = len(cache), x.shape[1]
    if past + n > module.context_length:
        raise ValueError(
            f"x: {past} cached + {n} new tokens exceed context_length={module.context_length}"
        )
    try:
        cache.check_fits(x.shape[0], module.num_heads, module.head_dim, x)
    except (TypeError, ValueError) as err:  # another batch, another module, another dtype
        raise type(err)(f"cache: cannot take the keys and values of x and module: {err}") from err
    return _decode(module, x, cache)


def _decode(module: MultiHeadAttention, x: Tensor, cache: KVCache) -> Tensor:
    """:func:`decode_step` without its checks."""
    past, n = len(cache), x.shape[1]
    queries, new_keys, new_values = module.project(x)  # 3 x (b, heads, n, head_dim)
    keys, values = cache.store(new_keys, new_values)  # 2 x (b, heads, past + n, head_dim)
    mask = None
    if n > 1:  # new token i (position past + i) must not see the new tokens after it
        mask = torch.ones(n, past + n, dtype=torch.bool, device=x.device).triu(past + 1)
    context, _ = attend(queries, keys, values, mask, None)  # (b, heads, n, head_dim)
    return module.merge(context)  # (b, n, d_out)


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
            input, of the prompt's dtype and device (what it returns is not checked);
            default: the output itself (needs ``d_out == d_in``).
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
    check_input_matches("prompt", prompt, module.W_query.weight)
    check_positive_int("num_steps", num_steps)
    check_bool("use_cache", use_cache)
    check_callable("next_input", next_input, "a function from outputs to inputs")
    if prompt.shape[1] + num_steps > module.context_length:
        raise ValueError(
            f"num_steps: {prompt.shape[1]} prompt tokens + {num_steps} steps exceed "
            f"context_length={module.context_length}"
        )
    if next_input is None and module.d_out != module.d_in:
        raise ValueError(
            f"next_input: needed to map outputs of size d_out={module.d_out} to inputs "
            f"of size d_in={module.d_in}; the default (the output itself) needs d_out == d_in"
        )
    step = next_input or (lambda output: output)
    sequence = prompt  # (b, T0, d_in)
    cache = KVCache(module.context_length) if use_cache else None
    new_tokens = prompt  # what the cache has not seen yet
    for _ in range(num_steps):
        if cache is not None:
            last = _decode(module, new_tokens, cache)[:, -1:]  # (b, 1, d_out)
        else:
            last = module(sequence)[:, -1:]  # recompute everything, keep the last row
        new_tokens = step(last)  # (b, 1, d_in)
        sequence = torch.cat([sequence, new_tokens], dim=1)  # -> (b, t + 1, d_in)
    return sequence
