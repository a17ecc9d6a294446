"""Seeds, devices, the cache folder and the environment the course runs in (JupyterLab, Colab,
CI)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

DEFAULT_SEED = 0


def set_seed(seed: int = DEFAULT_SEED) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator seeded the same way.

    On the CPU the same seed gives the same numbers, run after run.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA when present, else the CPU. ``prefer`` ('cpu', 'cuda') overrides the choice.

    The environment variable ``COURSE_DEVICE`` also overrides it (e.g. ``COURSE_DEVICE=cpu``).
    """
    choice = prefer or os.environ.get("COURSE_DEVICE")
    if choice is not None:
        if choice not in ("cpu", "cuda") and not choice.startswith("cuda:"):
            raise ValueError(f"prefer must be 'cpu', 'cuda' or 'cuda:N', got {choice!r}")
        if choice.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} was asked for but CUDA is not available")
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cache_dir() -> Path:
    """Where models trained on demand are cached: ``$COURSE_CACHE``, else
    ``~/.cache/course_lib``."""
    return Path(os.environ.get("COURSE_CACHE", Path.home() / ".cache" / "course_lib"))


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def progress_disabled() -> bool:
    """Progress bars are off when ``TQDM_DISABLE`` is set (CI sets it so outputs stay stable)."""
    return os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")


def enable_figure_display() -> bool:
    """In IPython (Jupyter, Colab), show a matplotlib ``Figure`` built without pyplot as an
    image when a cell displays it; returns whether a shell was found. Called by
    :func:`course_lib.plots.new_figure` (so, the first time the course draws a figure), never
    at import.

    The course builds its figures with ``matplotlib.figure.Figure`` (no global pyplot state),
    and a kernel only learns to draw those once pyplot's inline backend has been loaded, so
    ``display(fig)`` would otherwise print ``<Figure size ...>``. Registers one PNG formatter
    for ``Figure``; nothing else changes (no backend switch, no pyplot import).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with every notebook install
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))
    return True


def quiet_libraries() -> None:
    """Silence the warnings and progress bars of transformers (they break nbval's comparisons)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - transformers always has these
        pass
