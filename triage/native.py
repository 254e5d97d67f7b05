"""The triage hot path compiled with mypyc, used only while it matches the sources.

:func:`build` (run by ``make native``) compiles the modules each report
passes through (:data:`COMPILED`) into ``triage/_native/``, with a digest of
every source file of the package. At import, :func:`prefer_compiled` puts that
folder first on the package's path only if the digest still matches, so an
edited ``engine.py`` is never shadowed by a stale build; without a C compiler,
or with a stale build, the same code runs as plain Python. Same sources, same
verdicts: the test suite runs against whichever is in use.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import MutableSequence, Sequence
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
FOLDER = PACKAGE / "_native"
MANIFEST = FOLDER / "SOURCES.json"
COMPILED = ("engine", "facts", "detect", "normalize")
# Names the one shared library of the build, so it lives inside the package.
_GROUP = "triage._compiled"


def source_digest(package: Path = PACKAGE) -> str:
    """Digest of every module of the package and of the interpreter's version."""
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def is_fresh(folder: Path = FOLDER, package: Path = PACKAGE) -> bool:
    """Whether ``folder`` holds a build of exactly the package's current sources."""
    try:
        manifest = json.loads((folder / MANIFEST.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("digest") == source_digest(package)


def prefer_compiled(package_path: MutableSequence[str], folder: Path = FOLDER) -> bool:
    """Look for the package's modules in ``folder`` first, if its build is fresh."""
    if not is_fresh(folder):
        return False
    package_path.insert(0, str(folder))
    return True


def run_plain(code: str, stdin: str, args: Sequence[str] = (), also: Sequence[Path] = ()) -> str:
    """Standard output of ``python -c code`` in a fresh interpreter that imports a copy
    of this package's sources without the build (``also``: more import paths, after it).

    For comparing plain Python with the build in use: benchmarks and tests.
    """
    with tempfile.TemporaryDirectory(prefix="sajag-plain-") as copy:
        shutil.copytree(PACKAGE, Path(copy) / "triage", ignore=shutil.ignore_patterns(FOLDER.name))
        done = subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", code, *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            cwd=copy,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([copy, *map(str, also)])},
        )
    return done.stdout


def build() -> None:
    """Compile :data:`COMPILED` with mypyc into :data:`FOLDER` (needs a C compiler)."""
    # Build-time tools, not needed (nor always installed) to run triage.
    from mypyc.build import mypycify
    from setuptools import setup

    digest = source_digest()
    shutil.rmtree(FOLDER, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="sajag-native-") as scratch:
        work = Path(scratch)
        (work / "triage").mkdir()
        # The modules without the package's start-up (which imports this build script).
        for path in PACKAGE.glob("*.py"):
            if path.name not in {"__init__.py", "native.py"}:
                shutil.copy2(path, work / "triage" / path.name)
        (work / "triage" / "__init__.py").touch()
        if source_digest() != digest:
            raise SystemExit("triage/*.py changed while copying; run `make native` again")
        # mypy reads its configuration from the working directory: build in the copy.
        here = Path.cwd()
        os.chdir(work)
        try:
            setup(
                name="sajag-triage-native",
                ext_modules=mypycify(
                    [f"triage/{name}.py" for name in COMPILED],
                    group_name=_GROUP,
                    target_dir="build",
                ),
                script_args=["-q", "build_ext", "--build-lib", "lib"],
            )
        finally:
            os.chdir(here)
        FOLDER.mkdir()
        for library in (work / "lib" / "triage").iterdir():
            shutil.copy2(library, FOLDER / library.name)
    MANIFEST.write_text(json.dumps({"digest": digest, "modules": list(COMPILED)}), "utf-8")
