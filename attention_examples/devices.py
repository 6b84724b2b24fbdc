"""Choosing a device without hard-coding one.

Seed 000 writes ``torch.device("mps")``, which fails on every machine that is not a
recent Mac. The book's pages all run on the CPU so that their printed numbers are
the same everywhere; your own models can use :func:`best_device`.
"""

from __future__ import annotations

import torch

__all__ = ["best_device"]


def best_device() -> torch.device:
    """The fastest device available here: CUDA, then Apple's MPS, then the CPU.

    Returns:
        A ``torch.device``; ``cpu`` on a machine with neither accelerator.

    >>> best_device().type in {"cuda", "mps", "cpu"}
    True
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
