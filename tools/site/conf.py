"""Sphinx configuration of the course site (`make site`; tools/build_site.py stages the sources).

The source folder is a staged copy of the repository's lessons, exercises and docs
(build/site-src), laid out as in the repository so every relative link keeps working. Lessons
are executed by myst-nb through jupyter-cache (one kernel per lesson, in file order; a lesson
whose code is unchanged is not run again); exercises are shown as they are, without outputs.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import site_cache  # noqa: E402

_pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
REPOSITORY = _pyproject["project"]["urls"]["Repository"]
BRANCH = _pyproject["tool"]["course"]["branch"]

project = "Why language models need reinforcement learning"
author = "the course authors"
copyright = "the course authors, MIT license"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# --- execution (myst-nb + jupyter-cache) ------------------------------------------------------
# COURSE_SITE_EXECUTE=off: a quick look at the pages, lessons without outputs (not for publishing)
nb_execution_mode = os.environ.get("COURSE_SITE_EXECUTE", "cache")
nb_execution_cache_path = str(site_cache.cache_path())  # see tools/site/site_cache.py
nb_execution_excludepatterns = ["exercises/*"]  # students' stubs: shown, never run
nb_execution_timeout = int(os.environ.get("COURSE_SITE_CELL_TIMEOUT", "900"))  # per cell
nb_execution_raise_on_error = True  # a failing lesson fails the build (build_site.py names it)
nb_execution_show_tb = True
nb_merge_streams = True
nb_kernel_rgx_aliases = {".*": "python3"}  # the course's own Python (the venv, first on PATH)

# --- HTML -----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = project
html_copy_source = True
html_show_sourcelink = False
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": BRANCH,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
}
html_last_updated_fmt = None
