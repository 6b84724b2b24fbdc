"""Tests of attention_examples.diagrams: the schematic figures follow the shapes they are given."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from matplotlib.figure import Figure

from attention_examples import (
    MultiHeadAttention,
    draw_kv_cache,
    draw_memory_hierarchy,
    draw_multihead_reshape,
    draw_projections,
    draw_tiling_grid,
)


def gids(ax) -> Counter[str]:
    return Counter(p.get_gid() for p in ax.patches)


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize(("b", "t", "h", "d"), [(1, 1, 1, 1), (2, 4, 3, 2), (3, 5, 2, 4)])
def test_reshape_draws_the_shapes_the_module_produces(b: int, t: int, h: int, d: int) -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(3, h * d, context_length=t, dropout=0.0, num_heads=h)
    x = torch.randn(b, t, 3)
    queries, keys, values = mha.project(x)  # (b, H, T, d_h) each
    context, weights = mha.attention(queries, keys, values, None, True)
    merged = context.transpose(1, 2)  # (b, T, H, d_h)
    expected_shapes = [
        (b, t, h * d),
        (b, t, h, d),
        tuple(queries.shape),
        tuple(weights.shape),
        tuple(context.shape),
        tuple(merged.shape),
        (b, t, h * d),
    ]
    ax = draw_multihead_reshape(b, t, h, d)
    shapes = [s for s in texts(ax) if s.startswith("(") and s.endswith(")")]
    assert shapes == [str(s) if len(s) > 1 else f"({s[0]},)" for s in expected_shapes]
    counts = gids(ax)
    for step, shape in enumerate(expected_shapes):
        per_head = math.prod(shape[1:]) // h  # one batch element, split evenly by head
        for head in range(h):
            assert counts[f"step{step}/head{head}"] == per_head


def test_reshape_colours_each_head_alike_in_every_step() -> None:
    ax = draw_multihead_reshape(2, 3, 4, 2)
    colours: dict[str, set[tuple[float, ...]]] = {}
    for patch in ax.patches:
        head = patch.get_gid().split("/")[1]
        colours.setdefault(head, set()).add(tuple(patch.get_facecolor()))
    assert len(colours) == 4
    assert all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == 4


@pytest.mark.parametrize(("h", "g"), [(4, 4), (4, 2), (6, 3), (8, 1)])
def test_projections_link_each_query_head_to_its_group(h: int, g: int) -> None:
    ax = draw_projections(h, g, head_dim=3)
    links = sorted(line.get_gid() for line in ax.lines)
    # the grouping of F.scaled_dot_product_attention(enable_gqa=True): repeat_interleave
    groups = torch.arange(g).repeat_interleave(h // g).tolist()
    assert links == sorted(f"q{q}->kv{kv}" for q, kv in enumerate(groups))
    counts = gids(ax)
    assert sum(n for k, n in counts.items() if k.startswith("W_query/")) == h * 3 * 3
    assert sum(n for k, n in counts.items() if k.startswith("W_key/")) == g * 3 * 3
    assert sum(n for k, n in counts.items() if k.startswith("W_value/")) == g * 3 * 3
    assert {"W_query", "W_key", "W_value"} <= set(texts(ax))


def test_projections_refuse_a_grouping_that_does_not_divide() -> None:
    with pytest.raises(ValueError, match="num_kv_heads: expected a divisor of num_heads=4, got"):
        draw_projections(4, 3)


def visible(t_q: int, t_k: int) -> torch.Tensor:
    """(T_q, T_k) True where query i sees key j, bottom-right aligned: j <= i + T_k - T_q."""
    return torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=t_k - t_q)


@pytest.mark.parametrize(
    ("t_q", "t_k", "size"), [(8, 8, 2), (8, 8, 3), (5, 13, 4), (1, 9, 4), (7, 7, 7), (6, 6, 1)]
)
def test_tiling_grid_shades_what_the_mask_says(t_q: int, t_k: int, size: int) -> None:
    ax = draw_tiling_grid(t_q, t_k, size, causal=True)
    seen = visible(t_q, t_k)
    assert len(ax.patches) == math.ceil(t_q / size) * math.ceil(t_k / size)
    for block in ax.patches:
        (k0, q0), w, h = block.get_xy(), block.get_width(), block.get_height()
        piece = seen[int(q0) : int(q0 + h), int(k0) : int(k0 + w)]
        expected = "skipped" if not piece.any() else "computed" if piece.all() else "masked"
        assert block.get_gid() == expected, (q0, k0)


def test_tiling_grid_without_causal_computes_every_block() -> None:
    ax = draw_tiling_grid(6, 10, 4, causal=False)
    assert gids(ax) == Counter({"computed": 2 * 3})


def test_tiling_grid_refuses_more_queries_than_keys_when_causal() -> None:
    with pytest.raises(ValueError, match="num_queries: expected at most num_keys when causal"):
        draw_tiling_grid(9, 8, 2)


@pytest.mark.parametrize(("n", "window"), [(6, None), (7, 3), (4, 4), (5, 1), (3, 8)])
def test_kv_cache_holds_the_positions_of_a_ring_buffer(n: int, window: int | None) -> None:
    ax = draw_kv_cache(n, window)
    slots = n if window is None else window
    for step in range(n):
        # independent rule: the cache holds the last `slots` positions, p at p % slots
        held = {p % slots: p for p in range(max(0, step - slots + 1), step + 1)}
        row = {
            int(p.get_gid().split("slot")[1]): p
            for p in ax.patches
            if p.get_gid().startswith(f"t{step}/")
        }
        assert set(row) == set(held)
        labels = {
            int(t.get_position()[0]): t.get_text()
            for t in ax.texts
            if t.get_position()[1] == -step - 0.5 and t.get_position()[0] > 0
        }
        assert labels == {s: str(p) for s, p in held.items()}


def test_memory_hierarchy_carries_the_numbers_of_the_paper() -> None:
    ax = draw_memory_hierarchy()
    labels = texts(ax)
    for numbers in ("19 TB/s (20 MB)", "1.5 TB/s (40 GB)", "12.8 GB/s (> 1 TB)"):
        assert numbers in labels
    assert [p.get_gid() for p in ax.patches][:3] == ["GPU SRAM", "GPU HBM", "CPU DRAM"]
    widths = [p.get_width() for p in ax.patches[:3]]
    assert widths == sorted(widths)  # slower levels drawn larger


@pytest.mark.parametrize(
    "draw",
    [draw_multihead_reshape, draw_projections, draw_tiling_grid, draw_kv_cache],
)
def test_draws_on_a_given_axes_and_refuses_other_things(draw) -> None:
    ax = Figure().add_subplot()
    assert draw(ax=ax) is ax
    with pytest.raises(TypeError, match="ax: expected a matplotlib Axes or None, got str"):
        draw(ax="axes")


@pytest.mark.parametrize(
    ("draw", "kwargs", "error", "match"),
    [
        (
            draw_multihead_reshape,
            {"num_heads": 0},
            ValueError,
            "num_heads: expected a positive int",
        ),
        (draw_multihead_reshape, {"batch": 1.5}, TypeError, "batch: expected a positive int"),
        (draw_projections, {"head_dim": True}, TypeError, "head_dim: expected a positive int"),
        (draw_tiling_grid, {"causal": 1}, TypeError, "causal: expected True or False"),
        (draw_tiling_grid, {"block_size": 0}, ValueError, "block_size: expected a positive int"),
        (draw_kv_cache, {"window": 0}, ValueError, "window: expected a positive int"),
    ],
)
def test_bad_arguments_name_themselves(draw, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        draw(**kwargs)


def test_figures_hold_no_words_of_their_own() -> None:
    """Labels are code names, shapes, numbers and units: one figure serves both editions."""
    allowed = {
        "x", ".view", ".transpose(1, 2)", "q @ k.T", "w @ v", "W_query", "W_key", "W_value",
        "GPU SRAM", "GPU HBM", "CPU DRAM", "CPU", "DRAM", "L1", "L2", "L3",
    }  # fmt: skip
    axes = [
        draw_multihead_reshape(),
        draw_projections(),
        draw_tiling_grid(),
        draw_kv_cache(window=2),
        draw_memory_hierarchy(),
    ]
    for ax in axes:
        for label in [*texts(ax), ax.get_xlabel(), ax.get_ylabel()]:
            words = [w for w in label.replace(",", " ").split() if w.isalpha()]
            assert label in allowed or all(
                w in {"query", "key", "slot", "position", "k0", "v0"} for w in words
            ), label
