"""Devices and dtypes: attention_examples.devices, and every module on every device and dtype.

Only the devices this machine has are exercised for real; the ``meta`` device (shapes
without values) checks that every tensor a module owns moves with ``.to(device)``.
"""

from __future__ import annotations

import types

import pytest
import torch
from torch.testing import assert_close

from attention_examples import (
    CausalAttention,
    FusedMultiHeadAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttentionV1,
    SelfAttentionV2,
    best_device,
    causal_mask,
    journey_batch,
    scaled_dot_product_attention,
)

# --- best_device ---------------------------------------------------------------------------


def test_best_device_is_usable_here() -> None:
    device = best_device()
    assert isinstance(device, torch.device)
    torch.ones(2, device=device).sum()  # a device that is really there
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device.type == "cpu"


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [
        (True, True, "cuda"),
        (True, False, "cuda"),
        (False, True, "mps"),
        (False, False, "cpu"),
    ],
)
def test_best_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert best_device() == torch.device(expected)


def test_best_device_without_an_mps_backend(monkeypatch) -> None:
    # PyTorch builds older than 1.12 have no torch.backends.mps at all.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch, "backends", types.SimpleNamespace())
    assert best_device() == torch.device("cpu")


# --- modules on devices ------------------------------------------------------------------------

AVAILABLE = ["cpu"]
if torch.cuda.is_available():
    AVAILABLE.append("cuda")
if torch.backends.mps.is_available():
    AVAILABLE.append("mps")


def make_modules() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "v1": SelfAttentionV1(3, 4),
        "v2": SelfAttentionV2(3, 4, qkv_bias=True),
        "causal": CausalAttention(3, 4, context_length=6, dropout=0.1),
        "wrapper": MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.1, num_heads=2),
        "mha": MultiHeadAttention(3, 4, context_length=6, dropout=0.1, num_heads=2),
        "fused": FusedMultiHeadAttention(3, 4, context_length=6, dropout=0.1, num_heads=2),
    }


MODULE_NAMES = list(make_modules())


def run(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return module.eval()(x)


@pytest.mark.parametrize("device", AVAILABLE)
@pytest.mark.parametrize("name", MODULE_NAMES)
def test_modules_move_with_to_and_give_the_cpu_result(name: str, device: str) -> None:
    module = make_modules()[name]
    expected = run(module, journey_batch())
    module = module.to(device)
    for tensor in [*module.parameters(), *module.buffers()]:
        assert tensor.device.type == device
    out = run(module, journey_batch().to(device))
    assert out.device.type == device
    assert_close(out.cpu(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_everything_moves_to_the_meta_device(name: str) -> None:
    # The causal masks are buffers, so .to() takes them along; a forward pass on meta
    # tensors (shapes only) then runs without touching any other device.
    module = make_modules()[name].to("meta")
    buffers = list(module.buffers())
    assert all(t.device.type == "meta" for t in [*module.parameters(), *buffers])
    if name in {"causal", "wrapper", "mha", "fused"}:
        assert buffers  # the mask is a buffer
    out = run(module, torch.empty(2, 6, 3, device="meta"))
    assert out.device.type == "meta"
    assert out.shape[:2] == (2, 6)


def test_masks_are_registered_buffers() -> None:
    modules = make_modules()
    for name in ("causal", "mha", "fused"):
        assert torch.equal(dict(modules[name].named_buffers())["mask"], causal_mask(6))
    wrapper_buffers = dict(modules["wrapper"].named_buffers())
    assert set(wrapper_buffers) == {"heads.0.mask", "heads.1.mask"}


# --- dtypes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULE_NAMES)
@pytest.mark.parametrize(
    ("dtype", "tolerance"),
    [
        (torch.float32, {"rtol": 0.0, "atol": 0.0}),
        (torch.float64, {"rtol": 1e-5, "atol": 1e-6}),
        (torch.bfloat16, {"rtol": 0.0, "atol": 3e-2}),  # bfloat16 keeps about 3 digits
    ],
)
def test_modules_work_in_each_float_dtype(name: str, dtype: torch.dtype, tolerance) -> None:
    module = make_modules()[name]
    reference = run(module, journey_batch())
    out = run(module.to(dtype), journey_batch(dtype=dtype))
    assert out.dtype == dtype
    assert_close(out.float(), reference, **tolerance)


@pytest.mark.parametrize(
    ("dtype", "atol"), [(torch.float32, 0.0), (torch.float64, 1e-6), (torch.bfloat16, 3e-2)]
)
def test_scaled_dot_product_attention_in_each_dtype(dtype: torch.dtype, atol: float) -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 5, 4, generator=g) for _ in range(3))
    mask = causal_mask(5)
    ref_context, ref_weights = scaled_dot_product_attention(q, k, v, mask)
    context, weights = scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), mask)
    assert context.dtype == weights.dtype == dtype
    assert_close(weights.float(), ref_weights, rtol=0.0, atol=atol)
    assert_close(context.float(), ref_context, rtol=0.0, atol=atol * 4)
    assert (weights[..., mask] == 0).all()


def test_a_float64_input_to_a_float32_module_says_what_to_do() -> None:
    module = make_modules()["mha"]
    with pytest.raises(
        TypeError,
        match=r"x: expected dtype torch.float32 like the module's weights, got torch.float64; "
        r"convert the input \(x.to\(torch.float32\)\) or the module \(module.to\(torch.float64\)\)",
    ):
        module(journey_batch(dtype=torch.float64))


def test_autocast_mixes_dtypes_on_purpose() -> None:
    module = make_modules()["causal"].eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = module(journey_batch())
        out_bf16_input = module(journey_batch(dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16
    assert_close(out.float(), module(journey_batch()), rtol=0.0, atol=3e-2)
    assert_close(out_bf16_input, out)


# --- devices that do not match ----------------------------------------------------------------


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_input_on_another_device_than_the_module(name: str) -> None:
    module = make_modules()[name].to("meta")
    with pytest.raises(
        ValueError,
        match=r"x: expected a tensor on meta like the module's weights, got one on cpu; "
        r"move one of them with .to\(device\)",
    ):
        module(journey_batch())


def test_key_padding_mask_on_another_device() -> None:
    module = make_modules()["causal"].to("meta")
    x = torch.empty(2, 6, 3, device="meta")
    with pytest.raises(
        ValueError, match=r"x, key_padding_mask: expected one device, got meta, cpu"
    ):
        module(x, torch.zeros(2, 6, dtype=torch.bool))


def test_scaled_dot_product_attention_on_mixed_devices() -> None:
    q = torch.ones(2, 3)
    with pytest.raises(
        ValueError, match=r"query, key, value: expected one device, got cpu, meta, cpu"
    ):
        scaled_dot_product_attention(q, q.to("meta"), q)
    with pytest.raises(ValueError, match=r"mask: expected a tensor on cpu, got one on meta"):
        scaled_dot_product_attention(q, q, q, causal_mask(2, device="meta"))
