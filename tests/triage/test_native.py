"""The mypyc build is used only while it matches the sources, and changes no verdict."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import triage
from triage import assess, native

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV = REPO_ROOT.parent / "shared" / "triage" / "dev.jsonl"
PROBES = sorted(Path(__file__).parent.glob("probe*.jsonl"))


def _package(tmp_path: Path) -> Path:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "engine.py").write_text("RULES = 1\n")
    (package / "facts.py").write_text("FACTS = 1\n")
    return package


def _stamp(folder: Path, package: Path) -> None:
    folder.mkdir(exist_ok=True)
    manifest = {"digest": native.source_digest(package), "modules": ["engine"]}
    (folder / "SOURCES.json").write_text(json.dumps(manifest))


def test_a_build_of_the_current_sources_is_fresh(tmp_path: Path) -> None:
    package = _package(tmp_path)
    _stamp(tmp_path / "_native", package)
    assert native.is_fresh(tmp_path / "_native", package)


def test_editing_any_module_makes_the_build_stale(tmp_path: Path) -> None:
    package = _package(tmp_path)
    _stamp(tmp_path / "_native", package)
    (package / "facts.py").write_text("FACTS = 2\n")
    assert not native.is_fresh(tmp_path / "_native", package)
    (package / "facts.py").write_text("FACTS = 1\n")
    (package / "lexicon.py").write_text("NEW = 1\n")
    assert not native.is_fresh(tmp_path / "_native", package)


def test_no_build_or_a_broken_manifest_is_not_fresh(tmp_path: Path) -> None:
    package = _package(tmp_path)
    assert not native.is_fresh(tmp_path / "_native", package)
    (tmp_path / "_native").mkdir()
    (tmp_path / "_native" / "SOURCES.json").write_text("{not json")
    assert not native.is_fresh(tmp_path / "_native", package)
    (tmp_path / "_native" / "SOURCES.json").write_text("[1, 2]")
    assert not native.is_fresh(tmp_path / "_native", package)


def test_a_stale_build_leaves_the_package_path_alone(tmp_path: Path) -> None:
    path = [str(native.PACKAGE)]
    assert not native.prefer_compiled(path, tmp_path / "missing")
    assert path == [str(native.PACKAGE)]


def test_the_build_in_use_is_the_fresh_one() -> None:
    """``make test`` builds first, so with a C compiler the suite runs the compiled code."""
    engine_file = Path(sys.modules["triage.engine"].__file__ or "")
    assert native.is_fresh() == triage.COMPILED
    assert (engine_file.parent == native.FOLDER) == triage.COMPILED
    assert engine_file.suffix == (".so" if triage.COMPILED else ".py")


def _records() -> list[dict[str, str]]:
    records = []
    for path in (DEV, *PROBES):
        with path.open(encoding="utf-8") as lines:
            records += [json.loads(line) for line in lines if line.strip()]
    return records


_PLAIN_VERDICTS = """
import json, sys
import triage
assert not triage.COMPILED
for text in json.loads(sys.stdin.read()):
    print(json.dumps(triage.assess(text).to_dict(), ensure_ascii=False, sort_keys=True))
"""


def test_plain_python_gives_the_same_verdicts() -> None:
    """Every dev and probe report, assessed here and by the sources without the build."""
    texts = [record["text"] for record in _records()]
    plain = native.run_plain(_PLAIN_VERDICTS, json.dumps(texts)).splitlines()
    here = [json.dumps(assess(t).to_dict(), ensure_ascii=False, sort_keys=True) for t in texts]
    assert len(plain) == len(texts) > 1000
    assert plain == here
