"""What the type checker sees of ``return_weights`` (checked by mypy in ``nox -s typecheck``).

Not a pytest module: ``assert_type`` fails the type check, not a run, when calling a
module gives another type than the one written here. The calls are typed by each
class's ``__call__`` annotation (``attention_examples/_call_types.py``);
``tests/test_call_types.py`` checks that those match the ``forward`` methods.
"""

from __future__ import annotations

from typing import assert_type

import torch
from torch import Tensor

from attention_examples import (
    AttentionOnlyModel,
    CausalAttention,
    CrossAttention,
    FusedMultiHeadAttention,
    GroupedQueryAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttentionV1,
    SelfAttentionV2,
)

x = torch.randn(2, 4, 3)
for one_input in (SelfAttentionV1(3, 2), SelfAttentionV2(3, 2)):
    assert_type(one_input(x), Tensor)
    assert_type(one_input(x, return_weights=True), tuple[Tensor, Tensor])

for module in (
    CausalAttention(3, 2, 4, 0.0),
    MultiHeadAttention(3, 2, 4, 0.0, num_heads=2),
    MultiHeadAttentionWrapper(3, 2, 4, 0.0, num_heads=2),
    GroupedQueryAttention(3, 4, 4, 0.0, num_heads=2, num_kv_heads=1),
    FusedMultiHeadAttention(3, 2, 4, 0.0, num_heads=2),
):
    assert_type(module(x), Tensor)
    assert_type(module(x, None, False), Tensor)
    assert_type(module(x, key_padding_mask=None), Tensor)
    assert_type(module(x, return_weights=True), tuple[Tensor, Tensor])

cross = CrossAttention(3, 5, 2)
memory = torch.randn(2, 6, 5)
assert_type(cross(x, memory), Tensor)
assert_type(cross(x, memory, return_weights=True), tuple[Tensor, Tensor])

model = AttentionOnlyModel(vocab_size=8, d_model=4, context_length=4, num_layers=1, num_heads=2)
tokens = torch.zeros(2, 4, dtype=torch.long)
assert_type(model(tokens), Tensor)
assert_type(model(tokens, return_weights=True), tuple[Tensor, Tensor])
