"""Every attention module of the package compiles with ``torch.compile(fullgraph=True)``.

``fullgraph=True`` fails on any graph break, such as a check that reads a tensor's
values with ``bool()``: the modules check shapes and types only, so they compile whole.
Graph capture and the backward graph are checked with the ``aot_eager`` backend, which
needs no compiler; one module also runs through the default backend (Inductor), which
generates C++ and is skipped where no C++ compiler is installed.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import attention_examples as ae

D_IN, D_OUT, CONTEXT, HEADS = 8, 8, 6, 2
MODULES = {
    "SelfAttentionV1": lambda: ae.SelfAttentionV1(D_IN, D_OUT),
    "SelfAttentionV2": lambda: ae.SelfAttentionV2(D_IN, D_OUT),
    "CausalAttention": lambda: ae.CausalAttention(D_IN, D_OUT, CONTEXT, 0.0),
    "MultiHeadAttentionWrapper": lambda: ae.MultiHeadAttentionWrapper(
        D_IN, D_OUT // HEADS, CONTEXT, 0.0, HEADS
    ),
    "MultiHeadAttention": lambda: ae.MultiHeadAttention(D_IN, D_OUT, CONTEXT, 0.0, HEADS),
    "FusedMultiHeadAttention": lambda: ae.FusedMultiHeadAttention(D_IN, D_OUT, CONTEXT, 0.0, HEADS),
    "GroupedQueryAttention": lambda: ae.GroupedQueryAttention(
        D_IN, D_OUT, CONTEXT, 0.0, HEADS, num_kv_heads=1
    ),
}
TAKES_PADDING = {name for name in MODULES if not name.startswith("SelfAttention")}


def make(name: str) -> nn.Module:
    torch.manual_seed(0)
    return MODULES[name]().eval()


@pytest.fixture(autouse=True)
def _fresh_compile_cache():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


# Modules whose inputs are not one sequence of embeddings, each compiled by a test below.
OTHER_INPUTS = {"CrossAttention", "AttentionOnlyModel"}


def test_every_attention_module_is_covered() -> None:
    modules = {
        name
        for name in ae.__all__
        if isinstance(getattr(ae, name), type) and issubclass(getattr(ae, name), nn.Module)
    }
    assert modules == set(MODULES) | OTHER_INPUTS


def test_cross_attention_compiles_whole() -> None:
    torch.manual_seed(0)
    module = ae.CrossAttention(D_IN, 6, D_OUT).eval()
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    x, memory, mask = torch.randn(2, 5, D_IN), torch.randn(2, 4, 6), ae.padding_mask([4, 2])
    assert_close(compiled(x, memory, mask), module(x, memory, mask))


def test_attention_only_model_compiles_whole() -> None:
    torch.manual_seed(0)
    model = ae.AttentionOnlyModel(10, 8, CONTEXT, num_layers=2, num_heads=HEADS).eval()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    tokens = torch.randint(0, 10, (2, 5))
    assert_close(compiled(tokens), model(tokens))


@pytest.mark.parametrize("name", MODULES)
def test_compiles_whole_and_computes_the_same(name: str) -> None:
    module = make(name)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    x = torch.randn(2, 5, D_IN, requires_grad=True)
    expected = module(x)
    actual = compiled(x)
    assert_close(actual, expected)
    (grad,) = torch.autograd.grad(actual.sum(), x)
    (expected_grad,) = torch.autograd.grad(expected.sum(), x)
    assert_close(grad, expected_grad)


@pytest.mark.parametrize("name", sorted(TAKES_PADDING))
def test_compiles_whole_with_a_padding_mask_and_weights(name: str) -> None:
    module = make(name)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    x = torch.randn(2, 5, D_IN)
    mask = ae.padding_mask([5, 3])
    context, weights = compiled(x, mask, return_weights=True)
    expected_context, expected_weights = module(x, mask, return_weights=True)
    assert_close(context, expected_context)
    assert_close(weights, expected_weights)


# Inductor itself still calls a deprecated TorchScript API while it compiles (torch 2.13).
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="Inductor, torch.compile's default backend, needs a C++ compiler on the CPU",
)
def test_compiles_with_the_default_backend() -> None:
    module = make("MultiHeadAttention")
    compiled = torch.compile(module, fullgraph=True)
    x = torch.randn(2, 5, D_IN)
    with torch.no_grad():
        assert_close(compiled(x), module(x))
