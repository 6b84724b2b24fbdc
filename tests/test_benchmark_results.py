"""Tests of the committed benchmark results (``benchmarks/results.json``, written by
``nox -s bench`` and read by the chapter *Fast attention*): complete and consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).parents[1] / "benchmarks" / "results.json"


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def test_benchmark_results_describe_the_machine_and_the_setting(results) -> None:
    for key in ("cpu", "cores", "os"):
        assert results["machine"][key]
    for key in ("python", "torch", "numpy", "attention_examples"):
        assert results["versions"][key]
    settings = results["settings"]
    assert (settings["batch"], settings["num_tokens"]) == (8, 1024)
    assert (settings["d_model"], settings["num_heads"], settings["dropout"]) == (768, 12, 0.0)
    assert (settings["dtype"], settings["device"]) == ("float32", "cpu")
    assert results["memory"]["tokens"] == [1024, 2048, 4096, 8192]


def test_benchmark_ratios_follow_from_the_stored_times(results) -> None:
    ratios, rounds = results["ratios"], results["comparison"]["rounds"]

    def paired(numerator, denominator):
        pairs = zip(rounds[numerator], rounds[denominator], strict=True)
        ratios_per_round = sorted(a / b for a, b in pairs)
        n = len(ratios_per_round)
        return (ratios_per_round[(n - 1) // 2] + ratios_per_round[n // 2]) / 2

    for ratio in ratios.values():
        if ratio["kind"] == "time":
            expected = paired(ratio["numerator"], ratio["denominator"])
        elif ratio["kind"] == "decode":
            decode = results["decode"]["series"]
            expected = decode[ratio["numerator"]][-1] / decode[ratio["denominator"]][-1]
        else:  # peak memory: of a forward pass, or of a forward and backward pass
            memory = results["training_memory" if ratio["kind"] == "training_memory" else "memory"]
            column = memory["tokens"].index(ratio["tokens"])
            expected = (
                memory["series"][ratio["numerator"]][column]
                / memory["series"][ratio["denominator"]][column]
            )
        assert ratio["value"] == pytest.approx(expected, rel=1e-9)
        if ratio.get("target") is not None:
            assert ratio["met"] == (ratio["value"] <= ratio["target"])
    assert {
        "fused_vs_torch_mha",
        "fused_vs_fused_function",
        "tiled_vs_naive_memory",
        "tiled_vs_naive_training_memory",
    } <= set(ratios)
    assert ratios["tiled_vs_naive_training_memory"]["kind"] == "training_memory"


def test_grouped_section_records_the_cache_each_head_count_keeps(results) -> None:
    grouped = results["grouped"]
    b, heads, head_dim = grouped["batch"], grouped["num_heads"], grouped["head_dim"]
    assert grouped["dtype"] == "float32"
    for name, sizes in grouped["cache_bytes"].items():
        kv_heads = int(name.removeprefix("num_kv_heads="))
        assert heads % kv_heads == 0
        # keys and values of t positions, 4 bytes each
        assert sizes == [2 * b * kv_heads * t * head_dim * 4 for t in grouped["tokens"]]
        assert len(grouped["seconds"][name]) == len(grouped["tokens"])
        assert all(s > 0 for s in grouped["seconds"][name])


def test_committed_figures_are_drawn_from_the_committed_results(results, tmp_path) -> None:
    """``nox -s bench -- --replot`` on the stored results gives the committed SVGs, byte
    for byte: a results file changed by hand or a figure not redrawn shows here."""
    import importlib.util

    path = RESULTS.parent / "run_benchmark.py"
    spec = importlib.util.spec_from_file_location("run_benchmark", path)
    assert spec is not None
    assert spec.loader is not None
    run_benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_benchmark)
    drawn = run_benchmark.draw_figures(results, tmp_path)
    assert drawn
    for figure in drawn:
        committed = RESULTS.parent / "figures" / figure.name
        assert figure.read_bytes() == committed.read_bytes(), f"{committed} is not redrawn"
