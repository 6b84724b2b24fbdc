#!/usr/bin/env python3
"""Run the Nu Html Checker (vnu.jar) on files or directories.

    python3 tools/vnu.py [vnu options] FILE-OR-DIRECTORY...
    python3 tools/vnu.py --print-jar        # fetch the checker if needed, print its path

The checker is the ``vnu-jar`` package of the npm registry at the version pinned below,
fetched with ``npm pack`` on first use into a cache directory (``BOOK_TOOLS_CACHE``, by
default ``~/.cache/attention-book``) and run with the machine's Java (11 or newer).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VNU_VERSION = "26.9.27"
JAR_IN_PACKAGE = "package/build/dist/vnu.jar"


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attention-book"
    return Path(os.environ.get("BOOK_TOOLS_CACHE", default))


def jar() -> Path:
    """The path of vnu.jar, fetched from the npm registry if it is not cached yet."""
    target = cache_dir() / f"vnu-jar-{VNU_VERSION}" / "vnu.jar"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "the Nu Html Checker is fetched with npm, which is not installed "
            "(Debian: apt-get install npm)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", f"vnu-jar@{VNU_VERSION}", "--pack-destination", tmp, "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(tmp).glob("vnu-jar-*.tgz")
        with tarfile.open(tarball) as archive:
            source = archive.extractfile(JAR_IN_PACKAGE)
            if source is None:
                raise RuntimeError(f"{tarball.name} holds no {JAR_IN_PACKAGE}")
            partial = target.with_suffix(".part")
            with source, partial.open("wb") as out:
                shutil.copyfileobj(source, out)
        partial.replace(target)  # atomic: a crash never leaves half a jar behind
    return target


def command(*args: str) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("the Nu Html Checker needs Java (Debian: apt-get install default-jre)")
    return [java, "-Xss1024k", "-jar", str(jar()), *args]


def main(argv: list[str]) -> int:
    if argv == ["--print-jar"]:
        print(jar())
        return 0
    return subprocess.run(command(*argv), check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
