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

    On the CPU the same seed gives the same numbers, run after run: without a GPU this also
    turns on torch's deterministic algorithms, since with two or more threads some of its
    reductions add in whatever order the threads finish (a last-bit difference that a long RL
    run grows into different samples; measured on lesson 05's RL, at no cost in speed).
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not torch.cuda.is_available():
        torch.use_deterministic_algorithms(True)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """CUDA when present, else the CPU. ``prefer`` ('cpu', 'cuda', 'cuda:N') overrides the choice.

    The environment variable ``COURSE_DEVICE`` also overrides it (e.g. ``COURSE_DEVICE=cpu``).
    """
    if prefer is not None:
        return parse_device(prefer, "prefer")
    if os.environ.get("COURSE_DEVICE"):
        return parse_device(os.environ["COURSE_DEVICE"], "the environment variable COURSE_DEVICE")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def parse_device(device: object, name: str = "device") -> torch.device:
    """The one parser of a device every entry point uses: ``None`` (:func:`get_device`'s choice),
    ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'`` or a ``torch.device``; one that is not on this
    machine is refused with a ``ValueError`` naming ``name``, before any work is done."""
    if device is None:
        return get_device()
    if isinstance(device, str):
        spec = device.strip().lower()
        kind, _, index = spec.partition(":")
        if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda"
                                                             or not index.isdigit())):
            raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:N' or 'mps' (or None: the "
                             f"course picks one), got {device!r}")
        device = torch.device(spec)
    elif not isinstance(device, torch.device):
        raise TypeError(f"{name} must be a string such as 'cpu' or 'cuda', a torch.device or "
                        f"None, got {type(device).__name__}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} asks for {str(device)!r} but CUDA is not available on "
                             "this machine; use 'cpu' (or None)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{name} asks for {str(device)!r} but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name} asks for 'mps' but it is not available here; use 'cpu'")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} must be a cpu, cuda or mps device, got {str(device)!r}")
    return device


def cache_dir() -> Path:
    """Where models trained on demand are cached: ``$COURSE_CACHE``, else
    ``~/.cache/course_lib``. An empty ``COURSE_CACHE`` is treated as unset, with a warning
    (it would otherwise mean the current folder)."""
    value = os.environ.get("COURSE_CACHE")
    if value is not None and not value.strip():
        import warnings

        warnings.warn("COURSE_CACHE is set but empty; caching in ~/.cache/course_lib instead "
                      "(unset it, or set it to a folder you can write)", stacklevel=2)
        value = None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "course_lib"


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
