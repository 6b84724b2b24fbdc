"""Schematic figures drawn from real shapes: head reshapes, projections, tiles, caches.

Chapters: *Multi-head attention* and *Fast attention*. Each figure is computed from
the sizes it is given, so it cannot disagree with the shapes the text prints. The
figures carry only code names, shapes, numbers and units, so one executed figure
serves both editions; captions and alt texts are translated. Every drawn block is a
Matplotlib ``Rectangle`` whose ``gid`` says what it stands for, so a test can count
them. Matplotlib is imported when a figure is drawn, not with the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._checks import check_bool, check_positive_int
from .fast_attention import block_kind
from .plotting import axes_to_draw_on

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "draw_kv_cache",
    "draw_memory_hierarchy",
    "draw_multihead_reshape",
    "draw_projections",
    "draw_tiling_grid",
]

_HEAD_COLOURS = "tab10"


def _new_axes(width: float, height: float, ax: Axes | None) -> Axes:
    """Draw on ``ax``, or on a new figure, without axis lines and at equal scales."""
    ax = axes_to_draw_on(ax, width, height)
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax


def _head_colour(head: int) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    return colormaps[_HEAD_COLOURS](head % 10)


def _cell(ax: Axes, x: float, y: float, colour: object, gid: str, **style: Any) -> None:
    """One unit square with its lower left corner at (x, y)."""
    from matplotlib.patches import Rectangle

    square = Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="white", linewidth=0.5, **style)
    square.set_gid(gid)
    ax.add_patch(square)


def draw_multihead_reshape(
    batch: int = 2,
    num_tokens: int = 4,
    num_heads: int = 3,
    head_dim: int = 2,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Draw the six reshapes of multi-head attention as blocks, one colour per head.

    Seven tensors of one batch element, left to right, joined by the operation
    between them: ``(b, T, d_out)`` ``.view`` -> ``(b, T, H, d_h)``
    ``.transpose(1, 2)`` -> ``(b, H, T, d_h)`` ``q @ k.T`` -> the scores
    ``(b, H, T, T)`` ``w @ v`` -> the context ``(b, H, T, d_h)``
    ``.transpose(1, 2)`` -> ``(b, T, H, d_h)`` ``.view`` -> ``(b, T, d_out)``.
    A tensor laid out by token (``T`` before ``H``) is drawn as ``T`` rows with the
    heads side by side; one laid out by head is drawn as ``H`` stacked matrices.

    Args:
        batch: ``b``, written in the shapes.
        num_tokens: ``T``, rows per matrix.
        num_heads: ``H``.
        head_dim: ``d_h``; ``d_out = H * d_h``.
        ax: the axes to draw on; a new figure if None.

    Returns:
        The axes. Each cell is a ``Rectangle`` with ``gid`` ``"step<i>/head<h>"``
        (``i`` = 0 .. 6, the tensor; ``h``, the head it belongs to); the shapes are
        the texts that start with ``(``.

    >>> ax = draw_multihead_reshape(batch=2, num_tokens=4, num_heads=3, head_dim=2)
    >>> for text in ax.texts:
    ...     if text.get_text().startswith("("):
    ...         print(text.get_text(), end=" ")
    (2, 4, 6) (2, 4, 3, 2) (2, 3, 4, 2) (2, 3, 4, 4) (2, 3, 4, 2) (2, 4, 3, 2) (2, 4, 6)
    >>> sum(p.get_gid() == "step3/head1" for p in ax.patches)  # head 1's 4 x 4 scores
    16
    """
    b = check_positive_int("batch", batch)
    t = check_positive_int("num_tokens", num_tokens)
    h = check_positive_int("num_heads", num_heads)
    d = check_positive_int("head_dim", head_dim)
    fresh = ax is None
    ax = _new_axes(8, 3, ax)
    gap = 0.6  # between heads
    x = 0.0
    height = max(t, h * t + (h - 1) * gap)
    tensors = [
        ("token", d, f"({b}, {t}, {h * d})", "x", False),
        ("token", d, f"({b}, {t}, {h}, {d})", ".view", True),
        ("head", d, f"({b}, {h}, {t}, {d})", ".transpose(1, 2)", True),
        ("head", t, f"({b}, {h}, {t}, {t})", "q @ k.T", True),
        ("head", d, f"({b}, {h}, {t}, {d})", "w @ v", True),
        ("token", d, f"({b}, {t}, {h}, {d})", ".transpose(1, 2)", True),
        ("token", d, f"({b}, {t}, {h * d})", ".view", False),
    ]
    for step, (layout, width, shape, operation, split) in enumerate(tensors):
        if layout == "token":  # T rows, the heads side by side
            bottom = (height - t) / 2
            for head in range(h):
                left = x + head * (d + (gap if split else 0))
                for row in range(t):
                    for col in range(d):
                        _cell(ax, left + col, bottom + t - 1 - row, _head_colour(head),
                              f"step{step}/head{head}")  # fmt: skip
            span = h * d + (h - 1) * gap * split
        else:  # one (T, width) matrix per head, stacked
            for head in range(h):
                top = height - head * (t + gap)
                for row in range(t):
                    for col in range(width):
                        _cell(ax, x + col, top - 1 - row, _head_colour(head),
                              f"step{step}/head{head}")  # fmt: skip
            span = width
        ax.text(x + span / 2, -0.8, shape, ha="center", va="top", fontsize=8)
        if step > 0:
            ax.annotate(
                "",
                xy=(x - 0.3, height / 2),
                xytext=(x - 2.2, height / 2),
                arrowprops={"arrowstyle": "->", "color": "0.3"},
            )
            ax.text(x - 1.25, height / 2 + 0.4, operation, ha="center", va="bottom",
                    fontsize=7, family="monospace", rotation=90)  # fmt: skip
        else:
            ax.text(x + span / 2, height + 0.5, operation, ha="center", va="bottom",
                    fontsize=8, family="monospace")  # fmt: skip
        x += span + 2.5
    ax.set_xlim(-0.5, x - 2.0)
    ax.set_ylim(-2.0, height + 1.5)
    if fresh:  # a figure as wide as the drawing, a quarter inch per cell
        size = (min(0.22 * (x - 1.5), 14), 0.22 * (height + 3.5) + 0.3)
        ax.figure.set_size_inches(*size)  # type: ignore[union-attr]
    return ax


def draw_projections(
    num_heads: int = 4,
    num_kv_heads: int = 2,
    head_dim: int = 2,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Draw the query, key and value projections, and which key/value head each query head uses.

    ``W_query`` maps ``d_in`` to ``num_heads * head_dim`` columns, one coloured
    group per query head; ``W_key`` and ``W_value`` map to ``num_kv_heads * head_dim``.
    Query head ``h`` reads key/value head ``h // (num_heads // num_kv_heads)``, drawn
    as a line. ``num_kv_heads == num_heads`` is plain multi-head attention (one line
    per head, straight down); ``num_kv_heads == 1`` is multi-query attention.

    Args:
        num_heads: query heads ``H``.
        num_kv_heads: key/value heads; divides ``num_heads``.
        head_dim: ``d_h``, columns per head.
        ax: the axes to draw on; a new figure if None.

    Returns:
        The axes. Columns of the projections are ``Rectangle`` s with ``gid``
        ``"W_query/head<h>"``, ``"W_key/head<g>"`` and ``"W_value/head<g>"``; each
        line from a query head to its key/value head has the ``gid``
        ``"q<h>->kv<g>"``.

    >>> ax = draw_projections(num_heads=4, num_kv_heads=2, head_dim=2)
    >>> sorted(line.get_gid() for line in ax.lines)
    ['q0->kv0', 'q1->kv0', 'q2->kv1', 'q3->kv1']
    >>> sum(p.get_gid().startswith("W_key") for p in ax.patches)  # 2 heads x 2 columns x 3 rows
    12
    """
    h = check_positive_int("num_heads", num_heads)
    g = check_positive_int("num_kv_heads", num_kv_heads)
    d = check_positive_int("head_dim", head_dim)
    if h % g:
        raise ValueError(f"num_kv_heads: expected a divisor of num_heads={h}, got num_kv_heads={g}")
    group = h // g
    ax = _new_axes(1.0 + 0.45 * (h * d + 2 * g * d + 6), 3.2, ax)
    rows = 3  # d_in, drawn short: the figure is about the columns
    gap = 2.0
    lefts = {"W_query": 0.0, "W_key": h * d + gap, "W_value": h * d + g * d + 2 * gap}
    centres: dict[str, list[float]] = {}
    for name, left in lefts.items():
        heads = h if name == "W_query" else g
        centres[name] = []
        for head in range(heads):
            colour = _head_colour(head if name == "W_query" else head * group)
            for col in range(d):
                for row in range(rows):
                    _cell(ax, left + head * d + col, 4 + row, colour, f"{name}/head{head}")
            centres[name].append(left + head * d + d / 2)
        width = heads * d
        ax.text(left + width / 2, 4 + rows + 0.4, name, ha="center", va="bottom",
                fontsize=8, family="monospace")  # fmt: skip
        ax.text(left + width / 2, 3.6, f"({rows}→{heads}·{d})".replace(f"{rows}→", "d_in→"),
                ha="center", va="top", fontsize=7)  # fmt: skip
    # Query heads at the bottom left, the shared key/value heads at the bottom right.
    for head in range(h):
        q_x = centres["W_query"][head]
        kv = head // group
        kv_x = (centres["W_key"][kv] + centres["W_value"][kv]) / 2
        (line,) = ax.plot([q_x, kv_x], [2.4, 0.6], color=_head_colour(kv * group), lw=1.2)
        line.set_gid(f"q{head}->kv{kv}")
        ax.text(q_x, 2.5, f"q{head}", ha="center", va="bottom", fontsize=7, family="monospace")
    for kv in range(g):
        kv_x = (centres["W_key"][kv] + centres["W_value"][kv]) / 2
        ax.text(kv_x, 0.5, f"k{kv}, v{kv}", ha="center", va="top", fontsize=7,
                family="monospace")  # fmt: skip
    ax.set_xlim(-0.5, lefts["W_value"] + g * d + 0.5)
    ax.set_ylim(-0.5, 4 + rows + 1.4)
    return ax


def draw_tiling_grid(
    num_queries: int = 8,
    num_keys: int = 8,
    block_size: int = 2,
    causal: bool = True,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Draw the ``(T_q, T_k)`` score matrix cut into blocks as a tiled kernel visits them.

    Each block is one ``block_size x block_size`` piece of the scores (smaller at
    the edges). Without ``causal`` every block is computed. With ``causal`` the
    alignment is bottom right, as in :func:`~attention_examples.tiled_attention`:
    query ``i`` sees key ``j`` when ``j <= i + T_k - T_q``. A block wholly in the
    future of its queries is skipped (grey), a block that the boundary crosses is
    computed and masked (hatched), the rest are computed in full (blue). The rule
    is the kernel's own (:func:`attention_examples.fast_attention.block_kind`).

    Args:
        num_queries: ``T_q``, rows.
        num_keys: ``T_k``, columns; at least ``T_q`` when causal.
        block_size: rows and columns per block.
        causal: shade what a causal kernel skips and masks.
        ax: the axes to draw on; a new figure if None.

    Returns:
        The axes: one ``Rectangle`` per block, with ``gid`` ``"computed"``,
        ``"masked"`` or ``"skipped"``; row ``i`` of the figure is query ``i``.

    >>> ax = draw_tiling_grid(8, 8, block_size=2, causal=True)
    >>> [sum(p.get_gid() == kind for p in ax.patches) for kind in ("computed", "masked", "skipped")]
    [6, 4, 6]
    >>> ax = draw_tiling_grid(2, 8, block_size=2, causal=True)  # a chunk of the 2 last queries
    >>> [p.get_gid() for p in ax.patches]
    ['computed', 'computed', 'computed', 'masked']
    """
    from matplotlib.patches import Rectangle

    t_q = check_positive_int("num_queries", num_queries)
    t_k = check_positive_int("num_keys", num_keys)
    size = check_positive_int("block_size", block_size)
    check_bool("causal", causal)
    if causal and t_q > t_k:
        raise ValueError(
            "num_queries: expected at most num_keys when causal (query i sees the keys "
            f"up to i + T_k - T_q), got num_queries={t_q} and num_keys={t_k}"
        )
    styles: dict[str, dict[str, Any]] = {
        "computed": {"facecolor": "tab:blue", "alpha": 0.55},
        "masked": {"facecolor": "tab:blue", "alpha": 0.3, "hatch": "///"},
        "skipped": {"facecolor": "0.85"},
    }
    ax = _new_axes(1.5 + 3.5 * t_k / max(t_q, t_k), 1.0 + 3.5 * t_q / max(t_q, t_k), ax)
    ax.set_axis_on()
    for q_start in range(0, t_q, size):
        q_end = min(q_start + size, t_q)
        for k_start in range(0, t_k, size):
            k_end = min(k_start + size, t_k)
            kind = block_kind(q_start, q_end, k_start, k_end, t_k - t_q) if causal else "computed"
            block = Rectangle((k_start, q_start), k_end - k_start, q_end - q_start,
                              edgecolor="black", linewidth=1.0, **styles[kind])  # fmt: skip
            block.set_gid(kind)
            ax.add_patch(block)
    ax.set_xlim(0, t_k)
    ax.set_ylim(t_q, 0)  # query 0 at the top, as in a matrix
    ax.set_xticks(range(0, t_k + 1, size) if t_k % size == 0 else [*range(0, t_k, size), t_k])
    ax.set_yticks(range(0, t_q + 1, size) if t_q % size == 0 else [*range(0, t_q, size), t_q])
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(f"key (T_k = {t_k})", family="monospace", fontsize=8)
    ax.set_ylabel(f"query (T_q = {t_q})", family="monospace", fontsize=8)
    ax.tick_params(labelsize=7)
    return ax


def draw_kv_cache(
    num_tokens: int = 6,
    window: int | None = None,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Draw a key/value cache token by token: one row per decoding step.

    Row ``t`` shows the cache after token ``t`` was stored; each filled slot shows
    the position of the token whose key and value it holds, the slot just written
    darker. Without ``window`` the cache grows by one slot per step. With ``window``
    it is a ring buffer of ``window`` slots: position ``p`` goes to slot
    ``p % window``, overwriting the token ``window`` positions older, so the cache
    stops growing, as under sliding-window attention.

    Args:
        num_tokens: decoding steps drawn.
        window: the number of slots of a ring buffer; None for a growing cache.
        ax: the axes to draw on; a new figure if None.

    Returns:
        The axes. Each filled slot is a ``Rectangle`` with ``gid`` ``"t<t>/slot<s>"``
        and, in its middle, the text of the position it holds.

    >>> ax = draw_kv_cache(5, window=3)
    >>> last_row = {(0.5, -4.5), (1.5, -4.5), (2.5, -4.5)}  # the middles of its slots
    >>> [t.get_text() for t in ax.texts if t.get_position() in last_row]
    ['3', '4', '2']
    >>> sum(p.get_gid().startswith("t4/") for p in ax.patches)  # a full ring: 3 slots
    3
    """
    n = check_positive_int("num_tokens", num_tokens)
    if window is not None:
        window = check_positive_int("window", window)
    slots = n if window is None else min(window, n)
    ax = _new_axes(1.2 + 0.5 * slots, 0.8 + 0.4 * n, ax)
    from matplotlib.patches import Rectangle

    held: dict[int, int] = {}  # slot -> position
    for step in range(n):
        slot = step if window is None else step % window
        held[slot] = step
        for s, position in held.items():
            newest = s == slot
            box = Rectangle((s, -step - 1), 1, 1, edgecolor="white", linewidth=1.0,
                            facecolor="tab:orange" if newest else "navajowhite")  # fmt: skip
            box.set_gid(f"t{step}/slot{s}")
            ax.add_patch(box)
            ax.text(s + 0.5, -step - 0.5, str(position), ha="center", va="center", fontsize=8)
        ax.text(-0.3, -step - 0.5, f"t={step}", ha="right", va="center", fontsize=7,
                family="monospace")  # fmt: skip
    for s in range(slots):
        ax.text(s + 0.5, 0.2, str(s), ha="center", va="bottom", fontsize=7, color="0.4")
    label = "slot = position" if window is None else f"slot = position % {window}"
    ax.text(slots / 2, 0.9, label, ha="center", va="bottom", fontsize=8, family="monospace")
    ax.set_xlim(-1.6, slots + 0.2)
    ax.set_ylim(-n - 0.2, 1.6)
    return ax


# Figure 1 of Dao et al. (2022): bandwidth and size of each level of the memory
# hierarchy of an NVIDIA A100 GPU and of its host's main memory.
_MEMORY_HIERARCHY = (
    ("GPU SRAM", "19 TB/s", "20 MB"),
    ("GPU HBM", "1.5 TB/s", "40 GB"),
    ("CPU DRAM", "12.8 GB/s", "> 1 TB"),
)


def draw_memory_hierarchy(*, ax: Axes | None = None) -> Axes:
    """Draw the memory hierarchy of Dao et al. (2022) as a pyramid, fastest and smallest on top.

    The three levels, with the numbers of the paper's
    figure 1 (an A100 GPU): on-chip SRAM, the GPU's high-bandwidth memory, the
    CPU's main memory. Beside them, the same pattern on a CPU: its caches
    (``L1``, ``L2``, ``L3``, on chip) above its ``DRAM``. A kernel is fast when it
    reads and writes the slow level as little as possible.

    Args:
        ax: the axes to draw on; a new figure if None.

    Returns:
        The axes: one ``Rectangle`` per level, with the level's name as ``gid``,
        and texts with the names, bandwidths and sizes.

    >>> ax = draw_memory_hierarchy()
    >>> [p.get_gid() for p in ax.patches]
    ['GPU SRAM', 'GPU HBM', 'CPU DRAM', 'L1', 'L2', 'L3', 'DRAM']
    >>> "19 TB/s (20 MB)" in [t.get_text() for t in ax.texts]
    True
    """
    from matplotlib.patches import Rectangle

    ax = _new_axes(6.5, 3.0, ax)
    ax.set_aspect("auto")
    levels = len(_MEMORY_HIERARCHY)
    for level, (name, bandwidth, size) in enumerate(_MEMORY_HIERARCHY):
        width = 2.0 + 2.0 * level  # slower levels are larger
        bottom = levels - 1 - level
        box = Rectangle((3.0 - width / 2, bottom + 0.05), width, 0.9,
                        facecolor=("tab:green", "tab:blue", "tab:gray")[level], alpha=0.6,
                        edgecolor="black")  # fmt: skip
        box.set_gid(name)
        ax.add_patch(box)
        ax.text(3.0, bottom + 0.5, name, ha="center", va="center", fontsize=9,
                family="monospace")  # fmt: skip
        ax.text(3.0 + width / 2 + 0.2, bottom + 0.5, f"{bandwidth} ({size})", ha="left",
                va="center", fontsize=8)  # fmt: skip
    # The CPU's own hierarchy: three cache levels on chip above main memory.
    for i, name in enumerate(("L1", "L2", "L3")):
        box = Rectangle((9.6 + 0.7 * i, 1.6), 0.6, 0.8 + 0.25 * i, facecolor="tab:green",
                        alpha=0.3 + 0.15 * i, edgecolor="black")  # fmt: skip
        box.set_gid(name)
        ax.add_patch(box)
        ax.text(9.9 + 0.7 * i, 1.5, name, ha="center", va="top", fontsize=8, family="monospace")
    dram = Rectangle((9.4, 0.05), 2.4, 0.9, facecolor="tab:gray", alpha=0.6, edgecolor="black")
    dram.set_gid("DRAM")
    ax.add_patch(dram)
    ax.text(10.6, 0.5, "DRAM", ha="center", va="center", fontsize=9, family="monospace")
    ax.text(10.6, 2.95, "CPU", ha="center", va="bottom", fontsize=9, family="monospace")
    ax.annotate("", xy=(10.6, 0.95), xytext=(10.6, 1.2),
                arrowprops={"arrowstyle": "<->", "color": "0.3"})  # fmt: skip
    ax.set_xlim(-0.5, 12.2)
    ax.set_ylim(-0.1, levels + 0.3)
    return ax
