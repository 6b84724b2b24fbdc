"""Tests of the checker of reference outputs (``reference_check.py``) on synthetic data.

The checker must find what it is meant to find: every case that must fail is here,
next to the cases that must pass. The synthetic page ``toy`` has the references of
``fixtures/reference_outputs/toy.toml`` (the seeds' printed values); its notebooks are
built with nbformat, their outputs printed by PyTorch and NumPy in the test. The last
test builds a tiny book with Sphinx and myst-nb, as ``nox -s docs`` does.
"""

from __future__ import annotations

import doctest
import json
import shutil
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

# The checker is a tool of its own (the book's build reads it too): tools/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import reference_check as rc

FIXTURES = Path(__file__).parent / "fixtures" / "reference_outputs"
JOURNEY = [
    [0.43, 0.15, 0.89],  # Your
    [0.55, 0.87, 0.66],  # journey
    [0.57, 0.85, 0.64],  # starts
    [0.22, 0.58, 0.33],  # with
    [0.77, 0.25, 0.10],  # one
    [0.05, 0.80, 0.55],  # step
]


def texts(text: str) -> list[str]:
    return [token.text for token in rc.tokenize(text)]


# --- the tokenizer ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("tensor([0.9544, 1.4950, 1.4754])", ["0.9544", "1.4950", "1.4754"]),
        ("torch.Size([2, 6, 3])", ["2", "6", "3"]),
        ("tensor([[0.2996, 0.8053]], grad_fn=<MmBackward0>)", ["0.2996", "0.8053"]),
        ("array([[ 1.7640524 , -0.9772779 ]], dtype=float32)", ["1.7640524", "-0.9772779"]),
        ("context_vec_2: tensor([0.4419, 0.6515])", ["0.4419", "0.6515"]),
        ("attn_score_2[i] = 3", ["3"]),
        ("In [21]:\ntensor(1.)", ["1."]),
        ("Out[7]: array([7.5, 2.5])", ["7.5", "2.5"]),
        ("[ 3.e+00 -1.e+09 -2.e+00]", ["3.e+00", "-1.e+09", "-2.e+00"]),
        ("[-0.2327,    -inf,    -inf] nan NaN", ["-0.2327", "-inf", "-inf", "nan", "NaN"]),
        ("1e-3 .5 -0. +2 1.5E+06", ["1e-3", ".5", "-0.", "+2", "1.5E+06"]),
        ("tensor([[False,  True]])", ["False", "True"]),
        ("Parameter containing: tensor([1.], requires_grad=True)", ["1."]),
        ("<object at 0x7f3a2c> float16 W_q2 x1", []),
        ("Matplotlib v3.11.2, torch 2.13.0", []),
        ("<Figure size 640x480 with 1 Axes>", ["1"]),
        ("information, infinity, nano, Infer", []),
        ("打分 scores : [ 1.   0.7 -1. ]", ["1.", "0.7", "-1."]),
        ("query.shape: torch.Size([3])\nRow 2 sum: 1.0", ["3", "2", "1.0"]),
        ("matmul: Input operand 1 has a mismatch (size 3 is different from 2)", ["1", "3", "2"]),
    ],
)
def test_tokenize_finds_values_and_skips_identifiers(text: str, tokens: list[str]) -> None:
    assert texts(text) == tokens


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("0.9544", "0.0001"),
        ("7.5", "0.1"),
        ("0.53300543", "1E-8"),
        ("1.0000e+00", "0.0001"),
        ("1.5e+06", "1E+5"),
        ("-1.e+09", "0"),
        ("2.", "0"),
        ("42", "0"),
        ("-inf", "0"),
    ],
)
def test_unit_is_one_in_the_last_printed_decimal(text: str, unit: str) -> None:
    (token,) = rc.tokenize(text)
    assert token.unit == Decimal(unit)


@pytest.mark.parametrize(
    ("expected", "actual", "rtol", "matches"),
    [
        ("0.9544", "0.9544", 0, True),
        ("0.9544", "0.9545", 0, True),
        ("0.9544", "0.9543", 0, True),
        ("0.9544", "0.9546", 0, False),  # a wrong digit
        ("0.9544", "0.95440001", 0, True),
        ("0.9544", "1.9544", 0, False),
        ("0.53300543", "0.53300545", 0, False),
        ("0.53300543", "0.53300545", 1e-7, True),
        ("7.5", "7.6", 0, True),
        ("7.5", "7.7", 0, False),
        ("2.", "2.0000", 0, True),
        ("2.", "1.", 0, False),  # integral values match exactly
        ("3", "2", 0, False),
        ("-1.e+09", "-1000000000.", 0, True),
        ("-1.e+09", "-2.e+09", 0, False),
        ("1.0000e+00", "1.0001", 0, True),
        ("-0.0000", "0.0000", 0, True),
        ("nan", "nan", 0, True),
        ("nan", "0.", 0, False),
        ("0.", "nan", 0, False),
        ("inf", "inf", 0, True),
        ("-inf", "-inf", 0, True),
        ("-inf", "inf", 0, False),
        ("inf", "1.e+308", 0, False),
        ("True", "True", 0, True),
        ("True", "False", 0, False),
        ("True", "1.", 0, False),
        ("0.", "False", 0, False),
    ],
)
def test_token_matches(expected: str, actual: str, rtol: float, matches: bool) -> None:
    (e,), (a,) = rc.tokenize(expected), rc.tokenize(actual)
    assert rc.token_matches(e, a, rtol=rtol) is matches


def test_compare_tokens_reports_each_wrong_value_and_a_wrong_count() -> None:
    expected = rc.tokenize("tensor([0.9544, 1.4950, 1.4754])")
    assert rc.compare_tokens(expected, rc.tokenize("[0.9544, 1.4950, 1.4754]")) == []
    assert rc.compare_tokens(expected, rc.tokenize("[0.9544, 1.4960, 1.4755]")) == [
        "#2: expected 1.4950 (± 0.0001), printed 1.4960"
    ]
    assert rc.compare_tokens(expected, rc.tokenize("[0.9544, 1.4950]")) == [
        "expected 3 values, printed 2"
    ]
    assert rc.compare_tokens(rc.tokenize("[3 4]"), rc.tokenize("[3 5]")) == [
        "#2: expected 4 (± 0), printed 5"
    ]


@pytest.mark.parametrize(
    ("actual", "original", "problem"),
    [
        ("[2.0000, 0.0000, 0.7181, 0.]", "[1.0000, 0.4400, 0.3590, 0.]", None),
        ("[2., 0., 2., 0.]", None, None),  # dropout of ones
        ("[2.0000, 0.0000, 0.7000, 0.]", "[1.0000, 0.4400, 0.3590, 0.]", "#3: printed 0.7000"),
        ("[1.0000, 0.0000, 0.7181, 0.]", "[1.0000, 0.4400, 0.3590, 0.]", "#1: printed 1.0000"),
        ("[2.0000, 0.0000, 0.7181, 0.1]", "[1.0000, 0.4400, 0.3590, 0.]", "#4: printed 0.1"),
        ("[2., 2., 2.]", None, "kept 3 and dropped 0"),
        ("[0., 0., 0.]", None, "kept 0 and dropped 3"),
        ("[0., 0., 0.]", "[0., 0., 0.]", "kept 0 and dropped 0"),
        ("[2., 0.]", "[1., 1., 1.]", "the original printed 3 values, the dropout 2"),
        ("[2., nan]", "[1., 1.]", "#2: printed nan"),
    ],
)
def test_check_dropout(actual: str, original: str | None, problem: str | None) -> None:
    problems = rc.check_dropout(
        rc.tokenize(actual), None if original is None else rc.tokenize(original), 0.5
    )
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


def test_check_dropout_scales_by_one_over_one_minus_p() -> None:
    original = rc.tokenize("[0.9000, 0.3000, 0.1234]")
    assert rc.check_dropout(rc.tokenize("[1.0000, 0.0000, 0.1371]"), original, 0.1) == []
    assert rc.check_dropout(rc.tokenize("[1.8000, 0.0000, 0.2468]"), original, 0.1) != []


# --- the reference data -------------------------------------------------------------


def test_the_fixture_data_is_valid() -> None:
    references, errors = rc.load_reference_file(FIXTURES / "toy.toml")
    assert errors == []
    assert [ref.cell for ref in references] == [
        "journey-scores",
        "padding-mask",
        "batch-shape",
        "causal-mask",
        "causal-weights",
        "dropout-weights",
        "dropout-ones",
    ]
    dropout = references[5]
    assert (dropout.page, dropout.kind, dropout.p, dropout.of) == (
        "toy",
        "dropout",
        0.5,
        "causal-weights",
    )
    assert dropout.expected.startswith("tensor([[2.0000,")
    assert len(dropout.expected_tokens) == 36


GOOD_ENTRY = """
[[output]]
cell = "scores"
seed = "002"
seed_cell = "In [21]"
what = "scores"
expected = "tensor([0.9544, 1.4950])"
"""


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ("[[output]\n", "cannot read the TOML file"),
        ("", "expected at least one [[output]] table"),
        (GOOD_ENTRY + "[extra]\nx = 1\n", "unknown top-level key(s) extra"),
        (GOOD_ENTRY.replace('seed = "002"\n', ""), "seed must be a non-empty string, got nothing"),
        (GOOD_ENTRY.replace('what = "scores"', 'what = ""'), "what must be a non-empty string"),
        (GOOD_ENTRY + "rtols = 1e-6\n", "unknown key(s) rtols"),
        (GOOD_ENTRY.replace('"scores"', '"ref-scores"', 1), "cell is the tag without 'ref-'"),
        (GOOD_ENTRY.replace('cell = "scores"', 'cell = "a b"'), "cell must be lowercase letters"),
        (GOOD_ENTRY.replace('cell = "scores"', 'cell = "Scores_2"'), "got 'Scores_2'"),
        (GOOD_ENTRY.replace('"002"', '"2"'), 'seed must be a seed number such as "002"'),
        (GOOD_ENTRY + "rtol = -1.0\n", "rtol must be a number >= 0, got -1.0"),
        (GOOD_ENTRY + 'kind = "mask"\n', "kind must be one of values, dropout, got 'mask'"),
        (GOOD_ENTRY + "p = 0.5\n", 'p is only meaningful with kind = "dropout"'),
        (GOOD_ENTRY + 'kind = "dropout"\n', "a dropout needs p, a number with 0 < p < 1"),
        (GOOD_ENTRY + 'kind = "dropout"\np = 1.0\n', "a dropout needs p"),
        (
            GOOD_ENTRY.replace("tensor([0.9544, 1.4950])", "device(type='cpu')"),
            "expected contains no numbers to compare",
        ),
        (GOOD_ENTRY + GOOD_ENTRY, "cell 'scores' has two [[output]] tables"),
        (
            GOOD_ENTRY.replace("scores", "drop").replace("0.9544, 1.4950", "2., 0.")
            + 'kind = "dropout"\np = 0.5\nof = "weights"\n',
            "of = 'weights' must name another [[output]] of this file",
        ),
        (
            GOOD_ENTRY
            + GOOD_ENTRY.replace('"scores"', '"drop"', 1).replace("0.9544, 1.4950", "1.9000, 0.")
            + 'kind = "dropout"\np = 0.5\nof = "scores"\n',
            "is not a dropout with p = 0.5 of the expected text of 'scores': #1: printed 1.9000",
        ),
        (
            GOOD_ENTRY.replace("0.9544, 1.4950", "2., 1.") + 'kind = "dropout"\np = 0.5\n',
            "is not a dropout with p = 0.5 of a tensor of ones",
        ),
    ],
)
def test_invalid_data_is_reported(tmp_path: Path, toml: str, error: str) -> None:
    path = tmp_path / "page.toml"
    path.write_text(toml, encoding="utf-8")
    _, errors = rc.load_reference_file(path)
    assert any(error in message for message in errors), errors


def test_load_references_reads_every_file_and_keeps_errors_by_page(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "toy.toml", tmp_path)
    (tmp_path / "broken.toml").write_text("[[output]]\ncell = 1\n", encoding="utf-8")
    data = rc.load_references(tmp_path)
    assert data.pages == ["broken", "toy"]
    assert len(data.references["toy"]) == 7
    assert list(data.errors) == ["broken"]


# --- synthetic executed notebooks ---------------------------------------------------


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def printed_outputs() -> dict[str, str]:
    """What a correct page ``toy`` prints, computed here with PyTorch and NumPy."""
    inputs = torch.tensor(JOURNEY)
    scores = np.array([3.0, 1.0, -2.0], dtype=np.float32)
    masked = scores.copy()
    masked[1] = -1e9
    weights_text = next(
        ref.expected
        for ref in rc.load_reference_file(FIXTURES / "toy.toml")[0]
        if ref.cell == "causal-weights"
    )
    weights = torch.tensor(
        [float(t.value) for t in rc.tokenize(weights_text)], dtype=torch.float32
    ).reshape(6, 6)
    torch.manual_seed(123)
    dropped = torch.nn.functional.dropout(weights, p=0.5, training=True)
    torch.manual_seed(123)
    dropped_ones = torch.nn.Dropout(0.5)(torch.ones(6, 6))
    return {
        "journey-scores": f"{inputs @ inputs[1]}\n",
        "padding-mask": f"masked: {masked} -> softmax {softmax(masked)}\n",
        "batch-shape": f"{torch.stack((inputs, inputs)).shape}\n",
        "causal-mask": f"{torch.triu(torch.ones(6, 6), diagonal=1).bool()}\n",
        "causal-weights": weights_text + "\n",
        "dropout-weights": f"{dropped}\n",
        "dropout-ones": f"{dropped_ones}\n",
    }


def stdout(text: str) -> nbformat.NotebookNode:
    return new_output("stream", name="stdout", text=text)


def cell(tag: str | None, *outputs: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tags = [tag] if tag else []
    return new_code_cell("print(...)", metadata={"tags": tags}, outputs=list(outputs))


def write_notebook(directory: Path, page: str, cells: list[nbformat.NotebookNode]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{page}.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Toy"), *cells]), path)
    return path


def toy_cells(printed: dict[str, str] | None = None) -> list[nbformat.NotebookNode]:
    printed = printed_outputs() if printed is None else printed
    cells = [cell(None, stdout("setup, nothing tagged: 1 2 3\n"))]
    cells += [cell(f"ref-{cell_id}", stdout(text)) for cell_id, text in printed.items()]
    return cells


@pytest.fixture
def data() -> rc.ReferenceData:
    return rc.load_references(FIXTURES)


def check(tmp_path: Path, data: rc.ReferenceData, cells: list) -> list[rc.Failure]:
    notebooks = tmp_path / "en" / "jupyter_execute"
    write_notebook(notebooks, "toy", cells)
    return rc.check_page("toy", "en", data, ["toy"], notebooks)


def test_a_correct_page_passes(tmp_path: Path, data: rc.ReferenceData) -> None:
    assert check(tmp_path, data, toy_cells()) == []


def test_the_synthetic_outputs_differ_from_the_seeds_where_the_platform_decides() -> None:
    """Guard: the dropout masks drawn here are not the seed's, so the invariants matter."""
    printed = printed_outputs()
    references = {ref.cell: ref for ref in rc.load_reference_file(FIXTURES / "toy.toml")[0]}
    for cell_id in ("dropout-weights", "dropout-ones"):
        expected = references[cell_id].expected_tokens
        assert rc.compare_tokens(expected, rc.tokenize(printed[cell_id])) != []


def test_a_wrong_digit_fails_with_page_cell_seed_expected_and_actual(
    tmp_path: Path, data: rc.ReferenceData
) -> None:
    printed = printed_outputs()
    assert "1.4950" in printed["journey-scores"]
    printed["journey-scores"] = printed["journey-scores"].replace("1.4950", "1.4952")
    (failure,) = check(tmp_path, data, toy_cells(printed))
    report = str(failure)
    assert report.startswith("toy [en], cell ref-journey-scores (seed 002, In [21]):")
    assert "#2: expected 1.4950 (± 0.0001), printed 1.4952" in report
    assert "expected values: [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865]" in report
    assert "printed values:  [0.9544, 1.4952, 1.4754, 0.8434, 0.7070, 1.0865]" in report
    assert "expected text:\n        tensor([0.9544, 1.4950," in report
    assert "printed text:\n        tensor([0.9544, 1.4952," in report


def test_a_missing_number_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    printed = printed_outputs()
    printed["batch-shape"] = "torch.Size([2, 6])\n"
    (failure,) = check(tmp_path, data, toy_cells(printed))
    assert failure.reference is not None
    assert failure.reference.cell == "batch-shape"
    assert failure.details == ["expected 3 values, printed 2"]


def test_a_wrong_boolean_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    printed = printed_outputs()
    printed["causal-mask"] = printed["causal-mask"].replace("True", "False", 1)
    (failure,) = check(tmp_path, data, toy_cells(printed))
    assert failure.details == ["#2: expected True, printed False"]


def test_a_missing_tag_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    cells = toy_cells()
    cells[1].metadata.tags = ["hide-input"]  # was ref-journey-scores
    (failure,) = check(tmp_path, data, cells)
    assert failure.message == "no code cell is tagged ref-journey-scores"
    assert "seed 002, In [21]" in str(failure)


def test_a_cell_tagged_twice_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    cells = toy_cells()
    cells[0].metadata.tags = ["ref-batch-shape"]
    (failure,) = check(tmp_path, data, cells)
    assert failure.message == "2 code cells are tagged ref-batch-shape (#1, #4)"


def test_a_cell_with_two_reference_tags_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    cells = toy_cells()
    cells[3].metadata.tags.append("ref-other")
    messages = [failure.message for failure in check(tmp_path, data, cells)]
    assert "code cell #4 has several reference tags: ref-batch-shape, ref-other" in messages
    assert any("tagged ref-other, but" in message for message in messages)


def test_an_untracked_tag_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    cells = toy_cells()
    cells[0].metadata.tags = ["ref-forgotten"]
    (failure,) = check(tmp_path, data, cells)
    assert failure.message == (
        "code cell #1 is tagged ref-forgotten, but reference_outputs/toy.toml "
        "has no [[output]] with cell = 'forgotten'"
    )


def test_a_wrong_dropout_value_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    printed = printed_outputs()
    # every value of the causal weights is kept: the 2.0000 of the first row must be there
    assert "2.0000" in printed["dropout-weights"]
    printed["dropout-weights"] = printed["dropout-weights"].replace("2.0000", "1.0000", 1)
    (failure,) = check(tmp_path, data, toy_cells(printed))
    assert failure.message == (
        "the printed values are not a dropout with p = 0.5 of the values printed by "
        "ref-causal-weights"
    )
    assert failure.details == ["#1: printed 1.0000, expected 0 or 1.0000 × 2 = 2.0000"]


def test_a_dropout_that_drops_nothing_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    printed = printed_outputs()
    printed["dropout-ones"] = f"{torch.ones(6, 6) * 2}\n"
    (failure,) = check(tmp_path, data, toy_cells(printed))
    assert failure.details == [
        "dropout kept 36 and dropped 0 of the nonzero values: expected at least one of each"
    ]


def test_a_dropout_of_a_missing_cell_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    cells = [c for c in toy_cells() if c.metadata.tags != ["ref-causal-weights"]]
    messages = sorted(failure.message for failure in check(tmp_path, data, cells))
    assert messages == [
        "cannot check the dropout: no single code cell is tagged ref-causal-weights",
        "no code cell is tagged ref-causal-weights",
    ]


def test_every_failure_is_reported_at_once(tmp_path: Path, data: rc.ReferenceData) -> None:
    printed = printed_outputs()
    printed["journey-scores"] = "tensor([0.])\n"
    printed["padding-mask"] = printed["padding-mask"].replace("-1.e+09", "-1.e+08")
    cells = toy_cells(printed)
    cells[0].metadata.tags = ["ref-forgotten"]
    cells[3].metadata.tags = []  # batch-shape
    failures = check(tmp_path, data, cells)
    assert [(f.reference.cell if f.reference else None) for f in failures] == [
        "journey-scores",
        "padding-mask",
        "batch-shape",
        None,
    ]


def test_an_invalid_entry_is_reported_once(tmp_path: Path) -> None:
    references = tmp_path / "refs"
    references.mkdir()
    toml = (FIXTURES / "toy.toml").read_text(encoding="utf-8")
    (references / "toy.toml").write_text(toml.replace('seed = "004"', 'seed = "4"', 1), "utf-8")
    data = rc.load_references(references)
    failures = check(tmp_path, data, toy_cells())
    assert [failure.message for failure in failures] == [
        "toy.toml: [[output]] cell = 'batch-shape': seed must be a seed number "
        'such as "002" or "book", got \'4\''
    ]


def test_a_reference_to_a_page_that_does_not_exist_fails(
    tmp_path: Path, data: rc.ReferenceData
) -> None:
    failures = rc.check_page("toy", "en", data, ["softmax"], tmp_path)
    assert [f.message for f in failures] == [
        "reference_outputs/toy.toml names page 'toy', but there is no such page"
    ]


def test_a_page_that_was_not_built_fails(tmp_path: Path, data: rc.ReferenceData) -> None:
    (failure,) = rc.check_page("toy", "zh_CN", data, ["toy"], tmp_path / "nothing")
    assert failure.message.startswith("no executed notebook ")
    assert "nox -s docs" in failure.message


def test_a_page_without_references_fails_only_on_tags(tmp_path: Path) -> None:
    empty = rc.ReferenceData()
    write_notebook(tmp_path, "plain", [cell(None, stdout("1 2 3\n"))])
    assert rc.check_page("plain", "en", empty, ["plain"], tmp_path) == []
    write_notebook(tmp_path, "plain", [cell("ref-new", stdout("1 2 3\n"))])
    (failure,) = rc.check_page("plain", "en", empty, ["plain"], tmp_path)
    assert "is tagged ref-new, but reference_outputs/plain.toml has no [[output]]" in str(failure)


def test_printed_text_is_stdout_and_results_in_order() -> None:
    svg = "<svg><text>0.5</text></svg>"
    code = cell(
        "ref-x",
        stdout("a: 1\n"),
        new_output("stream", name="stderr", text="Warning at line 12\n"),
        new_output("execute_result", data={"text/plain": "array([2.5])"}, execution_count=1),
        new_output("display_data", data={"text/plain": "<Figure 2>", "image/svg+xml": svg}),
        new_output(
            "display_data",
            data={"text/plain": "glued 7"},
            metadata={"scrapbook": {"name": "fig"}},
        ),
        stdout("b: 3\n"),
    )
    assert rc.printed_text(code) == "a: 1\narray([2.5])\nb: 3\n"


# --- comparing the editions ---------------------------------------------------------


def svg_figure(value: str, salt: str) -> str:
    return (
        f"<svg><metadata><dc:date>2026-01-0{salt}</dc:date></metadata>"
        f'<clipPath id="p{salt}abc"/><g clip-path="url(#p{salt}abc)"><text>{value}</text></g>'
        "</svg>"
    )


def edition_cells(value: str = "0.5", salt: str = "1") -> list[nbformat.NotebookNode]:
    figure = new_output(
        "display_data", data={"image/svg+xml": svg_figure(value, salt), "text/plain": "<Figure>"}
    )
    return [*toy_cells(), cell(None, figure)]


def write_editions(tmp_path: Path, en: list, zh: list) -> list[Path]:
    dirs = [tmp_path / "en" / "jupyter_execute", tmp_path / "zh_CN" / "jupyter_execute"]
    write_notebook(dirs[0], "toy", en)
    write_notebook(dirs[1], "toy", zh)
    return dirs


def test_identical_editions_pass(tmp_path: Path) -> None:
    dirs = write_editions(tmp_path, edition_cells(), edition_cells(salt="2"))
    assert rc.compare_editions("toy", rc.EDITIONS, dirs) == []


def test_editions_with_different_text_fail(tmp_path: Path) -> None:
    zh = edition_cells()
    zh[1].outputs[0].text = zh[1].outputs[0].text.replace("1.4950", "1.4951")
    dirs = write_editions(tmp_path, edition_cells(), zh)
    problems = rc.compare_editions("toy", rc.EDITIONS, dirs)
    assert problems[0] == (
        "code cell #2 [ref-journey-scores] (print(...)): the outputs differ between en and zh_CN"
    )
    assert any("1.4951" in line for line in problems)


def test_editions_with_different_images_fail(tmp_path: Path) -> None:
    dirs = write_editions(tmp_path, edition_cells(), edition_cells(value="0.6"))
    (problem, *diff) = rc.compare_editions("toy", rc.EDITIONS, dirs)
    assert problem.startswith("code cell #9 (print(...)): the outputs differ")
    assert diff


def test_editions_with_a_missing_cell_or_notebook_fail(tmp_path: Path) -> None:
    dirs = write_editions(tmp_path, edition_cells(), edition_cells()[:-1])
    assert rc.compare_editions("toy", rc.EDITIONS, dirs) == ["en has 9 code cells, zh_CN has 8"]
    (dirs[1] / "toy.ipynb").unlink()
    (problem,) = rc.compare_editions("toy", rc.EDITIONS, dirs)
    assert problem.startswith("no executed notebook ")
    assert "zh_CN" in problem


def test_editions_with_different_glued_figures_fail(tmp_path: Path) -> None:
    dirs = write_editions(tmp_path, edition_cells(), edition_cells())
    for directory, value in zip(dirs, ("0.5", "0.7"), strict=True):
        glued = {
            "fig-weights": {
                "output_type": "display_data",
                "metadata": {"scrapbook": {"name": "fig-weights"}},
                "data": {"image/svg+xml": svg_figure(value, "1")},
            }
        }
        (directory / "toy.glue.json").write_text(json.dumps(glued), encoding="utf-8")
    (problem, *_) = rc.compare_editions("toy", rc.EDITIONS, dirs)
    assert problem == "glued output 'fig-weights' differs between en and zh_CN"


def test_normalise_svg_keeps_what_is_drawn() -> None:
    a, b = svg_figure("0.5", "1"), svg_figure("0.5", "2")
    assert a != b
    assert rc.normalise_svg(a) == rc.normalise_svg(b)
    assert rc.normalise_svg(a) != rc.normalise_svg(svg_figure("0.6", "1"))
    assert "#ffffff" in rc.normalise_svg('<path style="fill: #ffffff" id="a"/>')


# --- the command line ---------------------------------------------------------------


def test_the_command_line_reports_failures_and_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "toy.md").write_text("---\nfile_format: mystnb\n---\n# Toy\n", encoding="utf-8")
    (docs / "notes.md").write_text("# Not a notebook\n", encoding="utf-8")
    build = tmp_path / "_build"
    args = ["--build", str(build), "--references", str(FIXTURES), "--docs", str(docs)]
    for edition in rc.EDITIONS:
        write_notebook(rc.executed_notebooks(edition, build), "toy", toy_cells())
    assert rc.main(args) == 0
    assert "7 reference outputs on 1 pages match in en, zh_CN" in capsys.readouterr().out

    printed = printed_outputs()
    printed["journey-scores"] = printed["journey-scores"].replace("0.9544", "0.9554")
    write_notebook(rc.executed_notebooks("zh_CN", build), "toy", toy_cells(printed))
    assert rc.main(args) == 1
    out = capsys.readouterr().out
    assert "toy [zh_CN], cell ref-journey-scores (seed 002, In [21])" in out
    assert "toy: code cell #2 [ref-journey-scores]" in out
    assert "2 failure(s)" in out
    assert rc.main([*args, "--edition", "en"]) == 0


def test_source_pages_are_the_notebook_pages(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nfile_format: mystnb\n---\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\nkernelspec:\n  name: python3\n---\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("# plain page\n", encoding="utf-8")
    (tmp_path / "d.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "_ext").mkdir()
    (tmp_path / "_ext" / "e.ipynb").write_text("{}", encoding="utf-8")
    assert list(rc.source_pages(tmp_path)) == ["a", "b", "d"]


def test_the_checker_examples_pass() -> None:
    """The examples in the checker's docstrings (it lives in tools/, outside pytest's paths)."""
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(rc):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, "the checker's docstrings lost their examples"
    assert results.failed == 0, "".join(report)


# --- end to end: a tiny book built with Sphinx and myst-nb ---------------------------

TOY_PAGE = """\
---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---

# Toy

```{code-cell} ipython3
:tags: [ref-weighted-average]
import numpy as np

V = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
w = np.array([0.7, 0.2, 0.1])
print("the weighted average of the rows of V:")  # two prints: two stream outputs
print((w[:, None] * V).sum(axis=0))
```

```{code-cell} ipython3
:tags: [ref-padding-mask]
scores = np.array([3.0, 1.0, -2.0], dtype=np.float32)
scores[1] = -1e9
e = np.exp(scores - scores.max())
print("masked:", scores, "-> softmax", e / e.sum())
```
"""

TOY_TOML = """\
[[output]]
cell = "weighted-average"
seed = "000"
seed_cell = "In [6]"
what = "a weighted average of `V`"
expected = "[7.5 2.5]"

[[output]]
cell = "padding-mask"
seed = "000"
seed_cell = "In [14]"
what = "scores with the second position masked"
expected = "打掩码: [ 3.e+00 -1.e+09 -2.e+00] -> softmax [0.9933072  0.         0.00669285]"
"""


def sphinx_build(source: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going", "-n", *options]
    return subprocess.run(
        [*command, str(source), str(out)], capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_end_to_end_with_sphinx(tmp_path: Path) -> None:
    """Build a tiny book in two editions as ``nox -s docs`` does, then check it."""
    pytest.importorskip("myst_nb")
    docs, refs, build = tmp_path / "docs", tmp_path / "refs", tmp_path / "_build"
    docs.mkdir()
    refs.mkdir()
    extension = Path(__file__).resolve().parent.parent / "docs" / "_ext"
    (docs / "conf.py").write_text(
        textwrap.dedent(f"""\
            import sys
            sys.path.insert(0, {str(extension)!r})

            # as the book's build does: executed notebooks hold the outputs the page
            # shows, also when they come from the cache (the second edition)
            extensions = ["myst_nb", "reference_outputs", "executed_notebooks"]
            exclude_patterns = ["_build"]
            nb_execution_mode = "cache"
            nb_execution_cache_path = {str(tmp_path / "cache")!r}
            nb_execution_raise_on_error = True
            nb_merge_streams = True
            reference_outputs_dir = {str(refs)!r}
            reference_outputs_checker = {str(Path(rc.__file__).resolve())!r}
            """),
        encoding="utf-8",
    )
    (docs / "index.md").write_text("# Book\n\n```{toctree}\ntoy\nrefs\n```\n", encoding="utf-8")
    (docs / "toy.md").write_text(TOY_PAGE, encoding="utf-8")
    (docs / "refs.md").write_text("# References\n\n```{reference-outputs}\n```\n", "utf-8")
    (refs / "toy.toml").write_text(TOY_TOML, encoding="utf-8")

    for edition in rc.EDITIONS:
        result = sphinx_build(docs, build / edition / "html", "-D", f"language={edition}")
        assert result.returncode == 0, result.stderr

    # the executed notebooks are where the checker looks for them
    data = rc.load_references(refs)
    pages = rc.source_pages(docs)
    assert list(pages) == ["toy"]
    for edition in rc.EDITIONS:
        notebooks = rc.executed_notebooks(edition, build)
        assert (notebooks / "toy.ipynb").is_file()
        assert rc.check_page("toy", edition, data, pages, notebooks) == []
    dirs = [rc.executed_notebooks(edition, build) for edition in rc.EDITIONS]
    assert rc.compare_editions("toy", rc.EDITIONS, dirs) == []

    # ... and the checker fails on them when the reference is wrong
    (refs / "toy.toml").write_text(TOY_TOML.replace("[7.5 2.5]", "[7.5 2.7]"), "utf-8")
    (failure,) = rc.check_page("toy", "en", rc.load_references(refs), pages, dirs[0])
    assert failure.details == ["#2: expected 2.7 (± 0.1), printed 2.5"]

    # the reference page lists every output, with a link to its cell, which has the anchor
    html = (build / "en" / "html" / "refs.html").read_text(encoding="utf-8")
    assert 'href="toy.html#ref-weighted-average"' in html
    assert 'href="toy.html#ref-padding-mask"' in html
    assert "打掩码: [ 3.e+00 -1.e+09 -2.e+00]" in html
    assert '<span class="pre">V</span></code>' in html  # `what` is parsed as MyST
    toy = (build / "en" / "html" / "toy.html").read_text(encoding="utf-8")
    assert 'id="ref-weighted-average"' in toy

    # a reference to a cell the page does not tag fails the build
    (refs / "toy.toml").write_text(TOY_TOML.replace('"padding-mask"', '"masked"', 1), "utf-8")
    result = sphinx_build(docs, build / "broken" / "html", "-b", "dummy")
    assert result.returncode != 0
    assert "ref-masked of page 'toy': no code cell of that page carries the tag" in result.stderr
