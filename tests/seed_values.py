"""The values the seed notebooks printed, read from ``tests/reference_outputs/*.toml``.

The unit tests compare with the seeds' numbers without retyping them: each
``[[output]]`` of a page's file holds the text a seed cell printed, and
:func:`seed_tensors` parses that text back into tensors, in the order printed.

A bracketed block (``tensor([[0.1, 0.2], ...])`` or NumPy's ``[[0.1 0.2] ...]``) is one
tensor of the nested shape its brackets give; a number outside brackets
(``tensor(6.5617)``, ``Sum: 1.0``) is a 0-d tensor. Digits that are part of a name
(``context_vec_2``, ``grad_fn=<MmBackward0>``, ``torch.float32``) are not values.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import torch

REFERENCE_DIR = Path(__file__).resolve().parent / "reference_outputs"

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
# a bracket, or a value that is not part of a longer name or number
_TOKEN = re.compile(rf"\[|\]|(?<![\w.<])(?:{_NUMBER}|True|False)(?![\w.])")
_KEYWORD = re.compile(r"\w+=\S*")  # requires_grad=True, dtype=torch.float16: not values


@cache
def _outputs(page: str) -> dict[str, str]:
    data = tomllib.loads((REFERENCE_DIR / f"{page}.toml").read_text(encoding="utf-8"))
    return {entry["cell"]: entry["expected"] for entry in data["output"]}


def _value(token: str) -> float | bool:
    if token in ("True", "False"):
        return token == "True"
    return float(token)


def parse_printed(text: str) -> list[Any]:
    """The values of a printed text: nested lists for bracketed blocks, else numbers."""
    text = _KEYWORD.sub(" ", text)
    values: list[Any] = []
    stack: list[list[Any]] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "[":
            stack.append([])
        elif token == "]":
            done = stack.pop()
            (stack[-1] if stack else values).append(done)
        else:
            (stack[-1] if stack else values).append(_value(token))
    if stack:
        raise ValueError(f"unbalanced brackets in the printed text {text!r}")
    return values


def seed_tensors(page: str, cell: str, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """Every tensor printed by the ``[[output]]`` of ``cell`` in ``<page>.toml``.

    Boolean masks come back as ``torch.bool``; numbers in ``dtype``.
    """
    try:
        text = _outputs(page)[cell]
    except KeyError:
        raise KeyError(f"{page}.toml: no [[output]] with cell = {cell!r}") from None
    tensors = []
    for value in parse_printed(text):
        flat = torch.tensor(value).flatten().tolist() if isinstance(value, list) else [value]
        is_bool = bool(flat) and all(isinstance(v, bool) for v in flat)
        tensors.append(torch.tensor(value, dtype=torch.bool if is_bool else dtype))
    return tensors


def seed_tensor(
    page: str, cell: str, index: int = 0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The ``index``-th tensor printed by ``cell`` of ``<page>.toml`` (see :func:`seed_tensors`)."""
    return seed_tensors(page, cell, dtype)[index]
