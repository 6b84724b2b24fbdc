"""What calling a module of the package returns, for type checkers.

``module(x)`` runs ``module.forward(x)`` through ``nn.Module.__call__``, which PyTorch
types as returning ``Any``. A module states its call once, as a class annotation such as
``__call__: SelfAttentionCall``: the context vectors, or with ``return_weights=True`` the
pair (context vectors, weights). The annotation has no value, so at run time the call is
``nn.Module``'s; ``tests/test_call_types.py`` checks that each protocol matches the
``forward`` it stands for.
"""

from __future__ import annotations

from typing import Literal, Protocol, overload

from torch import Tensor

__all__ = ["CrossAttentionCall", "OneInputCall", "SelfAttentionCall"]


class SelfAttentionCall(Protocol):
    """``module(x, key_padding_mask=None, return_weights=False)``: causal and multi-head."""

    @overload
    def __call__(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        return_weights: Literal[False] = False,
    ) -> Tensor: ...
    @overload
    def __call__(
        self, x: Tensor, key_padding_mask: Tensor | None = None, *, return_weights: Literal[True]
    ) -> tuple[Tensor, Tensor]: ...


class CrossAttentionCall(Protocol):
    """``module(x, memory, key_padding_mask=None, return_weights=False)``."""

    @overload
    def __call__(
        self,
        x: Tensor,
        memory: Tensor,
        key_padding_mask: Tensor | None = None,
        return_weights: Literal[False] = False,
    ) -> Tensor: ...
    @overload
    def __call__(
        self,
        x: Tensor,
        memory: Tensor,
        key_padding_mask: Tensor | None = None,
        *,
        return_weights: Literal[True],
    ) -> tuple[Tensor, Tensor]: ...


class OneInputCall(Protocol):
    """``module(inputs, return_weights=False)``: the self-attention classes, the model."""

    @overload
    def __call__(self, inputs: Tensor, /, return_weights: Literal[False] = False) -> Tensor: ...
    @overload
    def __call__(
        self, inputs: Tensor, /, return_weights: Literal[True]
    ) -> tuple[Tensor, Tensor]: ...
