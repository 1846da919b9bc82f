"""Refresh the intersphinx inventories in ``docs/_inventories/``.

The docs link to Python's, Flask's, Werkzeug's, Jinja's, Click's and trio's documentation
through intersphinx, which needs each project's ``objects.inv`` (the list of documented
names and the page and anchor of each). Sphinx would fetch them on every build; the files
are kept in the repository instead, so that a build never needs the network (CI may have
none). Run this now and then, from the repository root::

    python docs/update_inventories.py            # all of them
    python docs/update_inventories.py flask trio # some

For each project the published ``objects.inv`` is downloaded when its documentation site
can be reached. Where it cannot (a machine that reaches package registries only), the
inventory is made from the same source the published one was built from:

* Flask, Werkzeug, Jinja, Click and trio: the source distribution of the installed version
  (``pip download``), whose ``docs/`` is built with Sphinx's autodoc alone and the builder
  the project's site uses (``dirhtml`` for the Pallets projects, so ``api/#flask.Flask``;
  ``html`` for trio), which gives the site's page names and anchors. The projects' own
  Sphinx extensions are not installed (except sphinxcontrib-trio, without which trio's
  async functions would be missing, and myst-parser for Click's Markdown), so the build
  reports errors: they are expected and hidden, only the inventory is kept.
* Python: Debian's ``python3.X-doc`` package (``apt-get download``), which ships the
  ``objects.inv`` of the CPython documentation it contains.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "_inventories"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Project:
    #: The key in conf.py's intersphinx_mapping, and the file name (``NAME.inv``).
    name: str
    #: Where the documentation is published (conf.py links there).
    url: str
    #: The distribution whose sdist holds the docs (None: Python itself).
    dist: str | None = None
    #: The Sphinx builder of the published site, which decides the page names.
    builder: str = "dirhtml"
    #: The docs' source directory inside the sdist.
    docs_dir: str = "docs"
    #: Sphinx extensions besides autodoc that the docs need for their objects to exist.
    extensions: tuple[str, ...] = ()
    #: Their distributions, installed into a temporary directory for the build.
    requirements: tuple[str, ...] = ()
    #: Whether those need their own dependencies installed with them.
    with_deps: bool = False


PROJECTS = [
    Project("python", f"https://docs.python.org/{PYTHON}/"),
    Project("flask", "https://flask.palletsprojects.com/en/stable/", "flask"),
    Project("werkzeug", "https://werkzeug.palletsprojects.com/en/stable/", "werkzeug"),
    Project("jinja", "https://jinja.palletsprojects.com/en/stable/", "jinja2"),
    Project(
        "click",
        "https://click.palletsprojects.com/en/stable/",
        "click",
        extensions=("myst_parser",),  # Click's docs are in Markdown
        requirements=("myst-parser",),
        with_deps=True,
    ),
    Project(
        "trio",
        "https://trio.readthedocs.io/en/stable/",
        "trio",
        builder="html",
        docs_dir="docs/source",
        extensions=("sphinx.ext.napoleon", "sphinxcontrib_trio"),
        requirements=("sphinxcontrib-trio",),
    ),
]


def download_published(project: Project, target: Path) -> bool:
    """Fetch the published inventory; False when the site cannot be reached."""
    try:
        with urllib.request.urlopen(project.url + "objects.inv", timeout=15) as response:
            data = response.read()
    except OSError as error:
        print(f"{project.name}: {project.url} unreachable ({error}); building it instead")
        return False
    if not data.startswith(b"# Sphinx inventory version 2"):
        print(f"{project.name}: not an inventory at {project.url}; building it instead")
        return False
    target.write_bytes(data)
    return True


def from_debian(project: Project, target: Path, work: Path) -> None:
    """Python's inventory from Debian's documentation package for this Python version."""
    package = f"python{PYTHON}-doc"
    subprocess.run(["apt-get", "download", package], cwd=work, check=True)
    (deb,) = work.glob(f"{package}_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
    shutil.copyfile(work / "root" / f"usr/share/doc/python{PYTHON}/html/objects.inv", target)


def from_sdist(project: Project, target: Path, work: Path) -> None:
    """Build the inventory from the docs in the installed version's source distribution."""
    assert project.dist is not None
    pinned = f"{project.dist}=={version(project.dist)}"
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run(
        [*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", str(work), pinned],
        check=True,
    )
    (archive,) = work.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(work / "src", filter="data")
    (source,) = (work / "src").iterdir()
    env = None
    if project.requirements:
        extra = work / "extensions"
        subprocess.run(
            [
                *(*pip, "install", "--target", str(extra)),
                *(() if project.with_deps else ("--no-deps",)),
                *project.requirements,
            ],
            check=True,
        )
        env = {**os.environ, "PYTHONPATH": str(extra)}
    extensions = ",".join(("sphinx.ext.autodoc", *project.extensions))
    build = work / "build"
    subprocess.run(
        [
            *(sys.executable, "-m", "sphinx", "-q", "-C", "-b", project.builder),
            *("-D", f"extensions={extensions}", "-D", f"project={project.name}"),
            str(source / project.docs_dir),
            str(build),
        ],
        env=env,
        stderr=subprocess.DEVNULL,  # unknown roles and directives of the missing extensions
        check=True,
    )
    shutil.copyfile(build / "objects.inv", target)


def update(project: Project) -> None:
    target = OUT / f"{project.name}.inv"
    if download_published(project, target):
        how = "downloaded"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            if project.dist is None:
                from_debian(project, target, Path(tmp))
                how = f"from Debian's python{PYTHON}-doc"
            else:
                from_sdist(project, target, Path(tmp))
                how = f"built from {project.dist} {version(project.dist)}"
    print(f"{project.name}: {how}, {target.stat().st_size} bytes")


def main() -> None:
    names = [project.name for project in PROJECTS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", metavar="PROJECT", help=", ".join(names))
    chosen = parser.parse_args().projects or names
    if unknown := set(chosen) - set(names):
        parser.error(f"unknown project(s): {', '.join(sorted(unknown))}")
    OUT.mkdir(exist_ok=True)
    for project in PROJECTS:
        if project.name in chosen:
            update(project)


if __name__ == "__main__":
    main()
