"""Tests of attention_examples.plotting: the heatmap and the benchmark curves."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from numpy.testing import assert_allclose, assert_array_equal

import attention_examples
from attention_examples import (
    JOURNEY_TOKENS,
    journey_inputs,
    plot_attention_heatmap,
    plot_benchmark,
    simple_self_attention,
)


def journey_weights() -> torch.Tensor:
    return simple_self_attention(journey_inputs())[1]


def test_draws_the_weights_with_token_labels() -> None:
    weights = journey_weights()
    ax = plot_attention_heatmap(weights, JOURNEY_TOKENS)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(JOURNEY_TOKENS)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(JOURNEY_TOKENS)
    (image,) = ax.get_images()
    assert_allclose(image.get_array(), weights.numpy())
    # one annotation per cell, row by row, with two decimals
    expected = [f"{w:.2f}" for w in weights.flatten().tolist()]
    assert [t.get_text() for t in ax.texts] == expected
    assert image.get_clim() == (0.0, pytest.approx(weights.max().item()))


def test_rectangular_weights_with_separate_labels() -> None:
    weights = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    ax = plot_attention_heatmap(weights, ["q1", "q2"], ["k1", "k2", "k3"], annotate=False)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["k1", "k2", "k3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["q1", "q2"]
    assert len(ax.texts) == 0


def test_default_labels_are_positions() -> None:
    ax = plot_attention_heatmap(np.eye(3))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]


def test_draws_on_a_given_axes_and_honours_vmax() -> None:
    ax = Figure().add_subplot()
    assert plot_attention_heatmap(np.eye(2), ax=ax, vmax=0.5) is ax
    assert ax.get_images()[0].get_clim() == (0.0, 0.5)


def test_accepts_tensors_that_need_grad_or_are_bfloat16() -> None:
    weights = journey_weights().requires_grad_()
    ax = plot_attention_heatmap(weights.to(torch.bfloat16))
    assert_allclose(ax.get_images()[0].get_array(), weights.detach().numpy(), atol=4e-3)
    plot_attention_heatmap(weights)


def test_all_zero_weights_still_get_a_colour_scale() -> None:
    ax = plot_attention_heatmap(np.zeros((2, 2)))
    assert ax.get_images()[0].get_clim() == (0.0, 1.0)


@pytest.mark.parametrize(
    ("weights", "kwargs", "error", "match"),
    [
        (
            torch.ones(2, 3, 3),
            {},
            ValueError,
            r"weights: expected a 2-D \(T_q, T_k\) matrix, got shape \(2, 3, 3\); pick one matrix",
        ),
        (np.ones(3), {}, ValueError, r"weights: expected a 2-D \(T_q, T_k\) matrix, got shape"),
        ([[0.5, 0.5]], {}, TypeError, r"weights: expected a tensor or array, got list"),
        (
            torch.eye(2).long(),
            {},
            TypeError,
            r"weights: expected a floating tensor, got a torch.int",
        ),
        (np.full((2, 2), np.nan), {}, ValueError, r"weights: expected finite numbers, got NaN"),
        (np.zeros((0, 3)), {}, ValueError, r"weights: expected at least one element"),
        (np.eye(2), {"query_labels": ["a"]}, ValueError, r"query_labels: expected 2 labels, got 1"),
        (
            np.ones((2, 3)),
            {"query_labels": ["a", "b"], "key_labels": ["x"]},
            ValueError,
            r"key_labels: expected 3 labels, got 1",
        ),
        (np.eye(2), {"query_labels": "ab"}, TypeError, r"query_labels: expected a sequence of 2"),
        (np.eye(2), {"query_labels": 2}, TypeError, r"query_labels: expected a sequence.*int 2"),
        (np.eye(2), {"ax": "axes"}, TypeError, r"ax: expected a matplotlib Axes or None, got str"),
        (np.eye(2), {"vmax": "1"}, TypeError, r"vmax: expected a finite number or None, got str"),
        (np.eye(2), {"vmax": float("inf")}, TypeError, r"vmax: expected a finite number"),
    ],
)
def test_rejects(weights, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        plot_attention_heatmap(weights, **kwargs)


def test_non_square_without_key_labels_uses_positions() -> None:
    ax = plot_attention_heatmap(np.ones((2, 3)), ["a", "b"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert_array_equal([t.get_text() for t in ax.get_yticklabels()], ["a", "b"])


# --- benchmark curves -----------------------------------------------------------------

RESULTS = Path(__file__).parents[1] / "benchmarks" / "results.json"


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["time", "memory", "decode"])
def test_plot_benchmark_draws_every_series(results, kind) -> None:
    ax = plot_benchmark(results, kind)
    names = list(results[kind]["series"])
    assert [line.get_label() for line in ax.get_lines()][: len(names)] == names
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")


def test_plot_benchmark_errors() -> None:
    with pytest.raises(ValueError, match="kind: expected"):
        plot_benchmark({}, "speed")
    with pytest.raises(ValueError, match="results: expected a mapping with a 'time' section"):
        plot_benchmark({}, "time")
    bad = {"time": {"tokens": [1, 2], "series": {"a": [1.0]}}}
    with pytest.raises(ValueError, match="series 'a' of 'time' has 1 values"):
        plot_benchmark(bad, "time")


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"series": {"a": [1.0]}}, r"results: expected the 'time' section to have 'tokens'"),
        ({"tokens": [1, 2]}, r"results: expected the 'time' section to have 'series'"),
        (
            {"tokens": [1, 2], "series": [1.0, 2.0]},
            r"results: expected 'time'\['series'\] to map names to values, got list",
        ),
    ],
)
def test_plot_benchmark_names_results_for_a_malformed_section(section, match) -> None:
    with pytest.raises(ValueError, match=match):
        plot_benchmark({"time": section}, "time")


# Valid arguments for every public function that draws, so that only ``ax`` is wrong.
DRAWING_ARGUMENTS = {
    "plot_attention_heatmap": (np.eye(2),),
    "plot_benchmark": ({"time": {"tokens": [1, 2], "series": {"a": [1.0, 2.0]}}}, "time"),
    "plot_loss_curve": ([2.0, 1.0],),
    "plot_position_encoding": (torch.zeros(4, 2),),
    "plot_scores_by_distance": (torch.eye(3), [0]),
    "plot_ring_buffer": (4, 2),
    "draw_multihead_reshape": (),
    "draw_projections": (),
    "draw_tiling_grid": (),
    "draw_kv_cache": (),
    "draw_memory_hierarchy": (),
}


def test_every_drawing_function_is_listed() -> None:
    takes_axes = {
        name
        for name in attention_examples.__all__
        if callable(function := getattr(attention_examples, name))
        and not isinstance(function, type)
        and "ax" in inspect.signature(function).parameters
    }
    assert takes_axes == set(DRAWING_ARGUMENTS)


@pytest.mark.parametrize("name", DRAWING_ARGUMENTS)
def test_every_drawing_function_draws_on_the_given_axes_or_refuses_them(name) -> None:
    function = getattr(attention_examples, name)
    given = Figure().add_subplot()
    assert function(*DRAWING_ARGUMENTS[name], ax=given) is given
    assert function(*DRAWING_ARGUMENTS[name]) is not given  # a new figure of its own
    with pytest.raises(TypeError, match=r"ax: expected a matplotlib Axes or None, got str"):
        function(*DRAWING_ARGUMENTS[name], ax="axes")
