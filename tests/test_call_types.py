"""Each module's typed call (``__call__: SomeCall``, ``attention_examples/_call_types.py``)
stands for its ``forward``: the same parameters, and at run time the types it promises.

mypy reads the protocols (``tests/typing_returns.py``), never ``forward``; these tests keep
the two from drifting apart.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import attention_examples as ae
from attention_examples import _call_types

x = torch.randn(2, 4, 6)
tokens = torch.tensor([[1, 2, 3, 0], [3, 2, 1, 0]])
memory = torch.randn(2, 5, 3)

# Each module with the inputs of one call.
MODULES: dict[str, tuple[Callable[[], nn.Module], tuple[Tensor, ...]]] = {
    "SelfAttentionV1": (lambda: ae.SelfAttentionV1(6, 2), (x,)),
    "SelfAttentionV2": (lambda: ae.SelfAttentionV2(6, 2), (x,)),
    "CausalAttention": (lambda: ae.CausalAttention(6, 2, 4, 0.0), (x,)),
    "MultiHeadAttentionWrapper": (
        lambda: ae.MultiHeadAttentionWrapper(6, 2, 4, 0.0, num_heads=2),
        (x,),
    ),
    "MultiHeadAttention": (lambda: ae.MultiHeadAttention(6, 4, 4, 0.0, num_heads=2), (x,)),
    "GroupedQueryAttention": (
        lambda: ae.GroupedQueryAttention(6, 4, 4, 0.0, num_heads=2, num_kv_heads=1),
        (x,),
    ),
    "FusedMultiHeadAttention": (
        lambda: ae.FusedMultiHeadAttention(6, 4, 4, 0.0, num_heads=2),
        (x,),
    ),
    "CrossAttention": (lambda: ae.CrossAttention(6, 3, 2), (x, memory)),
    "AttentionOnlyModel": (
        lambda: ae.AttentionOnlyModel(4, 4, context_length=4, num_layers=1, num_heads=2),
        (tokens,),
    ),
}


def declared_call(cls: type) -> type:
    """The protocol named by the nearest ``__call__`` annotation among the package's
    classes in the MRO (``nn.Module`` annotates its own ``__call__`` as returning Any)."""
    for klass in cls.__mro__[: cls.__mro__.index(nn.Module)]:
        name = inspect.get_annotations(klass).get("__call__")
        if name is not None:
            return typing.cast(type, getattr(_call_types, name))
    raise AssertionError(f"{cls.__name__} declares no __call__ type")


def test_every_module_with_return_weights_is_listed():
    """A new module whose forward takes return_weights must be added here."""
    with_weights = {
        name
        for name in ae.__all__
        if isinstance(cls := getattr(ae, name), type)
        and issubclass(cls, nn.Module)
        and "return_weights" in inspect.signature(cls.forward).parameters
    }
    assert with_weights == set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_the_typed_call_has_the_parameters_of_forward(name):
    cls = getattr(ae, name)
    forward = list(inspect.signature(cls.forward).parameters.values())[1:]
    protocol = declared_call(cls)
    # The name __call__ of a protocol holds typing's placeholder for overloads, not a
    # stub; get_overloads finds the stubs by module and qualified name.
    key = types.SimpleNamespace(
        __module__=protocol.__module__, __qualname__=f"{protocol.__qualname__}.__call__"
    )
    overloads = typing.get_overloads(key)
    assert len(overloads) == 2, "one overload without the weights, one with them"
    for stub in overloads:
        declared = list(inspect.signature(stub).parameters.values())[1:]
        assert len(declared) == len(forward), stub
        for real, typed in zip(forward, declared, strict=True):
            if typed.kind is not inspect.Parameter.POSITIONAL_ONLY:
                assert typed.name == real.name
            # the overload with the weights makes return_weights required
            if typed.default is not inspect.Parameter.empty:
                assert typed.default == real.default, typed.name


@pytest.mark.parametrize("name", MODULES)
def test_the_call_returns_what_its_type_says(name):
    make, inputs = MODULES[name]
    torch.manual_seed(0)
    module = make()
    output = module(*inputs)
    assert isinstance(output, Tensor)
    pair = module(*inputs, return_weights=True)
    assert isinstance(pair, tuple)
    assert len(pair) == 2
    assert all(isinstance(t, Tensor) for t in pair)
    torch.testing.assert_close(pair[0], output)
