"""What every widget shares: when to draw a live widget and when static output."""

from __future__ import annotations

import os
from collections.abc import Callable


def static_mode() -> bool:
    """True where widgets render as static output: ``COURSE_STATIC_WIDGETS=1`` (set by
    ``make test`` and CI, where no front end draws widgets)."""
    return os.environ.get("COURSE_STATIC_WIDGETS", "").lower() in ("1", "true", "yes")


def display_widget_or_static(widget, static_html: Callable[[], str] | None = None,
                             static_figure: Callable[[], object] | None = None) -> None:
    """Display ``widget``, or in static mode the HTML or matplotlib figure standing in for it."""
    from IPython.display import HTML, display

    if not static_mode():
        display(widget)
        return
    if static_html is not None:
        display(HTML(static_html()))
    if static_figure is not None:
        from ..settings import enable_figure_display

        enable_figure_display()
        display(static_figure())
