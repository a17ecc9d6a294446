"""The course's one repository address, and the notebook parts generated from it.

The address lives in one place, the package metadata (`pyproject.toml`):

    [project.urls]
    Repository = "https://github.com/why-rl/course"

    [tool.course]
    branch = "main"          # the branch Colab opens

Every notebook's "Open in Colab" badge (first lines of its first markdown cell) and its Colab
set-up cell (the first code cell, tagged `colab`, which pip-installs `course_lib` from the
repository inside Colab only) are generated from it, as are the badge links of README.md.
`tools/sync_notebooks.py` (`make notebooks`) calls `stamp()` before it writes the .ipynb files,
so a fork changes the address above, runs `make notebooks`, and every notebook points at the
fork. A lesson written without a badge or set-up cell gets both inserted (notebooks/ and
solutions/; exercises/ are generated from solutions/ and only get theirs rewritten).

Standard library only: `tests/test_colab.py` imports it in the small ipywidgets-7.7 venv too.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")
GENERATED_FOLDERS = ("exercises",)  # made by tools/make_exercises.py: rewrite, never insert
NAME_RE = re.compile(r"^\d\d_[a-z0-9]+(?:_[a-z0-9]+)*$")  # NN_slug, as in sync_notebooks
GITHUB_RE = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")
BRANCH_RE = re.compile(r"^[\w./-]+$")
DEFAULT_BRANCH = "main"
FIX_HINT = "run `make notebooks`"

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_GITHUB = "https://colab.research.google.com/github"
# Any Colab badge, whatever repository, branch or path it names (the one we rewrite).
BADGE_RE = re.compile(
    r"\[!\[Open In Colab\]\([^)\s]*\)\]\(https://colab\.research\.google\.com/github/[^)\s]*\)"
)
# README's links: the course map's badges point at notebooks/ (or solutions/, exercises/).
README_LINK_RE = re.compile(
    r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+(?:/[\w.-]+)*?/"
    r"(?=(?:notebooks|solutions|exercises)/)"
)
SETUP_HEADER = '# %% tags=["colab"]'
SETUP_TEMPLATE = '''\
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+{url}"], check=True)'''


@dataclass(frozen=True)
class Repository:
    """Where the course lives on GitHub, as the package metadata says."""

    owner: str  # GitHub user or organisation, e.g. "why-rl"
    name: str  # repository name, e.g. "course"
    branch: str = DEFAULT_BRANCH  # the branch Colab opens the notebooks from

    def __post_init__(self):
        for field in ("owner", "name"):
            if not re.fullmatch(r"[\w.-]+", getattr(self, field)):
                raise ValueError(f"Repository.{field}: expected a GitHub name, got "
                                 f"{getattr(self, field)!r}")
        if not BRANCH_RE.fullmatch(self.branch):
            raise ValueError(f"Repository.branch: expected a git branch name, got {self.branch!r}")

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    def colab_url(self, rel_path: str) -> str:
        """The Colab address that opens `rel_path` (e.g. "notebooks/00_tiny_world.ipynb")."""
        return f"{COLAB_GITHUB}/{self.slug}/blob/{self.branch}/{rel_path}"

    def badge(self, rel_path: str) -> str:
        """The markdown "Open in Colab" badge for the notebook at `rel_path`."""
        return f"[![Open In Colab]({BADGE_IMAGE})]({self.colab_url(rel_path)})"

    def install_spec(self) -> str:
        """What the set-up cell pip-installs inside Colab."""
        return f"course_lib @ git+{self.url}"

    def setup_cell(self) -> str:
        """The source of the Colab set-up cell (the first code cell of every notebook)."""
        return SETUP_TEMPLATE.format(url=self.url)


def read_repository(root: Path = ROOT) -> Repository:
    """The Repository that `root/pyproject.toml` names ([project.urls] and [tool.course])."""
    path = root / "pyproject.toml"
    meta = tomllib.loads(path.read_text(encoding="utf-8"))
    url = meta.get("project", {}).get("urls", {}).get("Repository")
    if not isinstance(url, str):
        raise ValueError(f"{path}: [project.urls] Repository is missing; set it to "
                         "https://github.com/OWNER/NAME")
    match = GITHUB_RE.match(url)
    if not match:
        raise ValueError(f"{path}: [project.urls] Repository must be https://github.com/OWNER/"
                         f"NAME (Colab opens notebooks from GitHub), got {url!r}")
    branch = meta.get("tool", {}).get("course", {}).get("branch", DEFAULT_BRANCH)
    if not isinstance(branch, str):
        raise ValueError(f"{path}: [tool.course] branch must be a string, got {branch!r}")
    return Repository(match["owner"], match["name"], branch)


# --- stamping one percent-format source ---------------------------------------------------------


def _split_cells(lines: list[str]) -> list[list[str]]:
    """Lines grouped by cell: each group starts at a `# %%` line (the first may be a preamble)."""
    groups: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("# %%"):
            groups.append([])
        groups[-1].append(line)
    return [g for g in groups if g]


def _is_markdown(group: list[str]) -> bool:
    return group[0].startswith("# %% [markdown]")


def _is_code(group: list[str]) -> bool:
    return group[0].startswith("# %%") and not group[0].startswith(("# %% [markdown]",
                                                                   "# %% [raw]"))


def _is_generated_header(group: list[str]) -> bool:
    return any(line.startswith("# > generated from") for line in group[1:])


def stamp_text(text: str, repo: Repository, rel_path: str, insert: bool = True) -> str:
    """`text` (a jupytext percent source) with its badge and set-up cell generated from `repo`.

    `rel_path` is the .ipynb the badge opens (e.g. "solutions/05_reinforce_lm.ipynb"). With
    `insert`, a missing badge goes first in the first markdown cell and a missing set-up cell
    before the first code cell; without it, only existing ones are rewritten.
    """
    badge = repo.badge(rel_path)
    text, found = BADGE_RE.subn(badge, text)
    groups = _split_cells(text.split("\n"))
    setup = [SETUP_HEADER, *repo.setup_cell().split("\n"), ""]
    setup_at = next((i for i, g in enumerate(groups) if g[0] == SETUP_HEADER), None)
    if setup_at is not None:
        groups[setup_at] = setup
    elif insert:
        first_code = next((i for i, g in enumerate(groups) if _is_code(g)), len(groups))
        groups.insert(first_code, setup)
    if not found and insert:  # the badge goes before the first code cell (the set-up cell)
        first_code = next((i for i, g in enumerate(groups) if _is_code(g)), len(groups))
        first_md = next((i for i, g in enumerate(groups[:first_code])
                         if _is_markdown(g) and not _is_generated_header(g)), None)
        if first_md is None:
            first_cell = next((i for i, g in enumerate(groups) if g[0].startswith("# %%")),
                              len(groups))
            groups.insert(first_cell, ["# %% [markdown]", f"# {badge}", ""])
        else:
            groups[first_md] = [groups[first_md][0], f"# {badge}", "#", *groups[first_md][1:]]
    return "\n".join(line for group in groups for line in group)


def stamp_readme(text: str, repo: Repository) -> str:
    """README text with every Colab link pointing at `repo` (same paths)."""
    return README_LINK_RE.sub(f"{COLAB_GITHUB}/{repo.slug}/blob/{repo.branch}/", text)


# --- the whole course ---------------------------------------------------------------------------


def sources(root: Path = ROOT, folders: tuple[str, ...] = FOLDERS) -> list[tuple[str, Path]]:
    """(folder, path) of every NN_slug.py notebook source under `root`."""
    return [(folder, path) for folder in folders if (root / folder).is_dir()
            for path in sorted((root / folder).glob("*.py")) if NAME_RE.match(path.stem)]


def _stamped(root: Path, folder: str, path: Path, repo: Repository) -> str:
    rel_ipynb = f"{folder}/{path.stem}.ipynb"
    return stamp_text(path.read_text(encoding="utf-8"), repo, rel_ipynb,
                      insert=folder not in GENERATED_FOLDERS)


def stamp(root: Path = ROOT, folders: tuple[str, ...] = FOLDERS) -> list[Path]:
    """Rewrite every notebook source (and README.md) to the address of pyproject.toml.

    Returns the files that changed; the caller then writes the .ipynb from the .py files.
    """
    repo = read_repository(root)
    changed = []
    for folder, path in sources(root, folders):
        text = _stamped(root, folder, path, repo)
        if text != path.read_text(encoding="utf-8"):
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    readme = root / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        if stamp_readme(text, repo) != text:
            readme.write_text(stamp_readme(text, repo), encoding="utf-8")
            changed.append(readme)
    return changed


def address_problems(root: Path = ROOT, folders: tuple[str, ...] = FOLDERS) -> list[str]:
    """One message per source whose badge or set-up cell differs from pyproject.toml's address."""
    repo = read_repository(root)
    problems = []
    for folder, path in sources(root, folders):
        if _stamped(root, folder, path, repo) != path.read_text(encoding="utf-8"):
            problems.append(f"{folder}/{path.name}: its Colab badge or set-up cell does not "
                            f"match [project.urls] Repository = {repo.url} (branch "
                            f"{repo.branch}): {FIX_HINT}")
    readme = root / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        if stamp_readme(text, repo) != text:
            problems.append(f"README.md: a Colab link does not name {repo.slug}/blob/"
                            f"{repo.branch}: {FIX_HINT}")
    return problems
