"""What the type checker sees of ``return_weights`` (checked by mypy in ``nox -s typecheck``).

Not a pytest module: ``assert_type`` fails the type check, not a run, when an overload
of a ``forward`` gives another type than the one written here.
"""

from __future__ import annotations

from typing import assert_type

import torch
from torch import Tensor

from attention_examples import (
    AttentionOnlyModel,
    CausalAttention,
    CrossAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttentionV2,
)

x = torch.randn(2, 4, 3)
self_attention = SelfAttentionV2(3, 2)
assert_type(self_attention.forward(x), Tensor)
assert_type(self_attention.forward(x, return_weights=True), tuple[Tensor, Tensor])

for module in (
    CausalAttention(3, 2, 4, 0.0),
    MultiHeadAttention(3, 2, 4, 0.0, num_heads=2),
    MultiHeadAttentionWrapper(3, 2, 4, 0.0, num_heads=2),
):
    assert_type(module.forward(x), Tensor)
    assert_type(module.forward(x, None, False), Tensor)
    assert_type(module.forward(x, return_weights=True), tuple[Tensor, Tensor])

cross = CrossAttention(3, 5, 2)
memory = torch.randn(2, 6, 5)
assert_type(cross.forward(x, memory), Tensor)
assert_type(cross.forward(x, memory, return_weights=True), tuple[Tensor, Tensor])

model = AttentionOnlyModel(vocab_size=8, d_model=4, context_length=4, num_layers=1, num_heads=2)
tokens = torch.zeros(2, 4, dtype=torch.long)
assert_type(model.forward(tokens), Tensor)
assert_type(model.forward(tokens, return_weights=True), tuple[Tensor, Tensor])
