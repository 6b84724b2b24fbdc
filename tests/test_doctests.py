"""Every public name of attention_examples carries a doctest, and the doctests pass.

The rule, precisely:

- every name in ``attention_examples.__all__`` is defined in exactly one submodule and
  listed in that submodule's ``__all__`` (and every submodule's ``__all__`` is re-exported);
- a public function or class has at least one ``>>>`` example in its *own* docstring
  (not only in its methods');
- a public constant (anything that is neither a function nor a class) is shown in a
  ``>>>`` example of the docstring of the module that defines it: some example's source
  mentions the constant by name.

pytest runs the examples themselves (``--doctest-modules`` and ``attention_examples`` in
the settings of ``pyproject.toml``): every docstring's, one test each, with the flags
NORMALIZE_WHITESPACE and ELLIPSIS. This file makes sure a new public name cannot arrive
without one, and that pytest still collects them.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import attention_examples

SUBMODULES: dict[str, ModuleType] = {
    info.name: importlib.import_module(f"attention_examples.{info.name}")
    for info in pkgutil.iter_modules(attention_examples.__path__)
}
PUBLIC_SUBMODULES = {name: m for name, m in SUBMODULES.items() if not name.startswith("_")}


def defining_module(name: str) -> ModuleType:
    owners = [m for m in PUBLIC_SUBMODULES.values() if name in getattr(m, "__all__", ())]
    assert len(owners) == 1, f"{name}: listed in the __all__ of {len(owners)} submodules"
    return owners[0]


def test_every_submodule_export_is_public() -> None:
    exported = set(attention_examples.__all__)
    for module_name, module in PUBLIC_SUBMODULES.items():
        assert hasattr(module, "__all__"), f"attention_examples.{module_name} has no __all__"
        missing = set(module.__all__) - exported
        assert not missing, f"{module_name}.__all__ names {missing}, not in the package's __all__"


def test_all_has_no_duplicates() -> None:
    names = attention_examples.__all__
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", attention_examples.__all__)
def test_public_name_has_a_doctest(name: str) -> None:
    obj = getattr(attention_examples, name)
    module = defining_module(name)
    assert getattr(module, name) is obj
    finder = doctest.DocTestFinder(recurse=False)
    if inspect.isfunction(obj) or inspect.isclass(obj):
        tests = finder.find(obj, name, module=module, globs=dict(vars(module)))
        examples = [e for t in tests for e in t.examples]
        assert examples, f"{name}: its docstring has no >>> example"
    else:
        tests = finder.find(module, module.__name__, globs=dict(vars(module)))
        examples = [e for t in tests for e in t.examples]
        assert any(name in e.source for e in examples), (
            f"{name}: no >>> example in the docstring of {module.__name__} mentions it"
        )


def test_pytest_runs_the_package_doctests(pytestconfig: pytest.Config) -> None:
    """The examples run as pytest's doctests: the settings must keep collecting them."""
    assert pytestconfig.getoption("doctestmodules"), "pytest runs without --doctest-modules"
    testpaths = pytestconfig.getini("testpaths")
    assert "attention_examples" in testpaths, f"testpaths {testpaths} leave out the package"
    flags = set(pytestconfig.getini("doctest_optionflags"))
    assert {"NORMALIZE_WHITESPACE", "ELLIPSIS"} <= flags, flags


def test_the_rule_catches_a_name_without_a_doctest() -> None:
    def undocumented() -> None:
        """Says what it does, but shows no example."""

    tests = doctest.DocTestFinder(recurse=False).find(undocumented, "undocumented")
    assert not [e for t in tests for e in t.examples]
