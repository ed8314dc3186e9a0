"""``run_benchmarks.py --report``: a quick or partial run never overwrites the full results."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def runner() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("run_benchmarks", BENCH / "run_benchmarks.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("flags", [["--quick"], ["-k", "no-such-module"]])
def test_quick_or_partial_report_keeps_the_full_results(tmp_path: Path, flags: list[str]) -> None:
    (tmp_path / "latest.md").write_text("full run\n", encoding="utf-8")
    (tmp_path / "latest.json").write_text("{}\n", encoding="utf-8")
    mod = runner()
    # "-k no-such-module" selects nothing; "--quick" alone would run everything, so narrow it
    argv = ["--report", *flags] if "-k" in flags else ["--report", *flags, "-k", "no-such-module"]
    assert mod.main(argv, results_dir=tmp_path) == 0
    assert (tmp_path / "latest.md").read_text(encoding="utf-8") == "full run\n"
    assert (tmp_path / "latest.json").read_text(encoding="utf-8") == "{}\n"
    assert (tmp_path / "partial.md").exists() and (tmp_path / "partial.json").exists()


def test_a_full_report_writes_latest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = runner()
    monkeypatch.setattr(mod, "discover", lambda pattern: [])
    assert mod.main(["--report"], results_dir=tmp_path) == 0
    assert (tmp_path / "latest.md").exists() and not (tmp_path / "partial.md").exists()


def test_a_report_of_modules_that_ran_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = runner()
    fake = tmp_path / "bench_fake.py"
    fake.write_text(
        "from _harness import Result\n"
        "TITLE = 'Fake'\n"
        "def run(quick):\n"
        "    return [Result('a figure', 1.5, 'ms', '≤ 2 ms', True)]\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(mod, "discover", lambda pattern: [fake])
    monkeypatch.syspath_prepend(str(BENCH))
    out = tmp_path / "out"
    assert mod.main(["--report", "-k", "fake"], results_dir=out) == 0
    written = (out / "partial.md").read_text(encoding="utf-8")
    assert "## Fake" in written and "a figure" in written and "PASS" in written


def test_a_module_that_raises_is_a_failed_row_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = runner()
    broken, fine = tmp_path / "bench_broken.py", tmp_path / "bench_fine.py"
    broken.write_text("def run(quick):\n    raise AttributeError('install')\n", encoding="utf-8")
    fine.write_text(
        "from _harness import Result\n"
        "def run(quick):\n"
        "    return [Result('still measured', 1.0, 'ms')]\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(mod, "discover", lambda pattern: [broken, fine])
    monkeypatch.syspath_prepend(str(BENCH))
    out = tmp_path / "out"
    assert mod.main(["--report", "-k", "x"], results_dir=out) == 1  # a failed row
    written = (out / "partial.md").read_text(encoding="utf-8")
    assert "bench_broken did not run" in written and "AttributeError('install')" in written
    assert "FAIL" in written and "still measured" in written


def test_a_module_is_registered_while_it_loads(tmp_path: Path) -> None:
    """As an import would: string annotations of the module resolve through sys.modules
    (LangGraph reads the peers benchmark's state schema that way)."""
    mod = runner()
    fake = tmp_path / "bench_hints.py"
    fake.write_text(
        "from __future__ import annotations\n"
        "import sys, typing\n"
        "from typing import Annotated, TypedDict\n"
        "class State(TypedDict):\n"
        "    out: Annotated[dict[str, str], 'x']\n"
        "HINTS = typing.get_type_hints(State, include_extras=True)\n",
        encoding="utf-8",
    )
    try:
        module = mod.load(fake)
        assert "out" in module.HINTS  # type: ignore[attr-defined]
    finally:
        sys.modules.pop("bench_hints", None)


def _pid_module(path: Path) -> Path:
    path.write_text(
        "import os\n"
        "from _harness import Result\n"
        "def run(quick):\n"
        "    return [Result('pid', os.getpid(), '', detail='quick' if quick else 'full')]\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("same", [False, True])
def test_each_module_runs_in_a_process_of_its_own_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, same: bool
) -> None:
    """What one module imports and leaves behind must not weigh on the next one's figures."""
    import json
    import os

    mod = runner()
    first, second = _pid_module(tmp_path / "bench_a.py"), _pid_module(tmp_path / "bench_b.py")
    monkeypatch.setattr(mod, "discover", lambda pattern: [first, second])
    monkeypatch.syspath_prepend(str(BENCH))
    out = tmp_path / "out"
    argv = ["--report", "--quick", *(["--same-process"] if same else [])]
    assert mod.main(argv, results_dir=out) == 0
    sections = json.loads((out / "partial.json").read_text(encoding="utf-8"))["sections"]
    pids = [int(s["results"][0]["value"]) for s in sections]
    assert [s["results"][0]["detail"] for s in sections] == ["quick", "quick"]
    if same:
        assert pids == [os.getpid(), os.getpid()]
    else:
        assert os.getpid() not in pids and pids[0] != pids[1]


def test_a_module_whose_process_dies_is_a_failed_row_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = runner()
    dying = tmp_path / "bench_dying.py"
    dying.write_text("import os\ndef run(quick):\n    os._exit(3)\n", encoding="utf-8")
    fine = _pid_module(tmp_path / "bench_fine.py")
    monkeypatch.setattr(mod, "discover", lambda pattern: [dying, fine])
    monkeypatch.syspath_prepend(str(BENCH))
    out = tmp_path / "out"
    assert mod.main(["--report", "-k", "x"], results_dir=out) == 1
    written = (out / "partial.md").read_text(encoding="utf-8")
    assert "bench_dying did not run" in written and "exited with code 3" in written
    assert "| pid |" in written
