"""The layout's rules, checked on the code itself: the data flows one way, and the public API is complete."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import streaming

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "streaming"
# A layer may import itself and the ones listed; nothing else of the package.
ALLOWED = {
    "core": {"core", "errors", "version"},
    "store": {"store", "core", "errors", "version"},
    "analysis": {"analysis", "core", "errors", "version"},
    "bench": {"bench", "core", "store", "analysis", "server", "errors", "version"},
    "demo": {"demo", "core", "store", "errors", "version"},
    "server": {"server", "core", "errors", "version"},
}


def imports_of(path: Path) -> set[str]:
    """The streaming subpackages a module imports (at any depth of the file)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streaming"):
            parts = node.module.split(".")
            out.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("streaming."))
    return out


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_is_below_it(layer: str) -> None:
    bad = {}
    for f in sorted((PKG / layer).rglob("*.py")):
        extra = imports_of(f) - ALLOWED[layer]
        if extra:
            bad[str(f.relative_to(ROOT))] = sorted(extra)
    assert not bad, bad


def test_nothing_in_the_package_imports_streamlit_and_the_core_starts_no_process() -> None:
    for f in PKG.rglob("*.py"):
        text = f.read_text()
        assert "import streamlit" not in text, f
    for layer in ("core", "store", "analysis", "demo"):
        for f in (PKG / layer).rglob("*.py"):
            text = f.read_text()
            assert "subprocess" not in text and "launcher" not in text, f


def test_public_api_is_complete_and_importable() -> None:
    for name in streaming.__all__:
        assert getattr(streaming, name) is not None, name
    for name in ("Store", "load_requests", "BenchConfig", "run_benchmark", "ensure_server", "StreamRecord", "Attempt"):
        assert name in streaming.__all__
    ns: dict[str, object] = {}
    exec("from streaming import *", ns)  # noqa: S102
    assert set(streaming.__all__) <= set(ns)


def test_import_streaming_stays_light() -> None:
    """The server's subprocesses import the package: the results database (pandas) must not load with it."""
    code = "import sys, streaming; print('pandas' in sys.modules, 'streaming.store' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    assert out == ["False", "False"]


MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    """A hard limit, no exception clause: the package, the pages, the entry file and the UI package."""
    files = [*PKG.rglob("*.py"), *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py"), ROOT / "app.py"]
    long = {str(f.relative_to(ROOT)): n for f in files if (n := f.read_text().count("\n")) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_the_ui_package_is_for_pages_only_and_app_py_is_navigation() -> None:
    """``ui/`` imports streamlit and is imported by app.py and pages; ``streaming/`` never imports it."""
    for f in PKG.rglob("*.py"):
        tree = ast.parse(f.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m == "ui" or m.startswith("ui.") for m in names), f
    assert (ROOT / "app.py").read_text().count("\n") < 120


def test_every_module_imports() -> None:
    for f in sorted(PKG.rglob("*.py")):
        mod = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if mod != "streaming.__main__":
            importlib.import_module(mod)


def test_readme_python_api_example_runs(server, tmp_path, monkeypatch) -> None:
    """The README's Python API block, run as written (in a temp dir, against the session's server)."""
    import re

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102
    assert ns["rec"].ok and len(ns["df"]) == 4 and (tmp_path / "results.db").exists()


def test_readme_setup_names_python_and_a_virtual_environment_before_installing() -> None:
    text = (ROOT / "README.md").read_text()
    setup = text[text.index("## Setup"):text.index("Tests:", text.index("## Setup"))]
    block = setup[setup.index("```bash"):]
    assert "Python 3.11" in setup[:setup.index("```bash")]  # said before the commands
    venv = block.index("python -m venv .venv && . .venv/bin/activate")
    assert venv < block.index("pip install -r requirements.txt") < block.index("streamlit run app.py")


def test_no_test_module_imports_another() -> None:
    """Shared test code lives in helper modules (conftest, metrics_frames, …): a test file importing another test file
    fails whenever that file's folder is not yet on the path (the importer run alone)."""
    tests = Path(__file__).resolve().parents[1]
    offenders = []
    for f in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{f.relative_to(tests)} imports {n}" for n in names if n.split(".")[0].startswith("test_")]
    assert offenders == []


HTTPX_CALLS = {"get", "post", "put", "delete", "request", "stream", "Client", "AsyncClient"}


def test_tests_make_http_calls_on_the_shared_tls_context() -> None:
    """``httpx2.get`` and the rest build a TLS context per call (about 50 ms of CPU): tests call conftest's ``http_*``
    helpers, or pass ``verify=`` (a context of their own, e.g. the TLS tests' CA)."""
    tests = Path(__file__).resolve().parents[1]
    offenders = []
    for f in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "httpx2" and node.func.attr in HTTPX_CALLS and not any(k.arg == "verify" for k in node.keywords)):  # fmt: skip
                offenders.append(f"{f.relative_to(tests)}:{node.lineno} httpx2.{node.func.attr}")
    assert offenders == []
