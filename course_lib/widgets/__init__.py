"""The course's interactive widgets, built from core ipywidgets and matplotlib only.

No custom JavaScript: they render in JupyterLab (ipywidgets 8) and in Colab (ipywidgets 7.7).
Each widget validates its inputs and, where no front end can draw it (``make test``, CI, or
``COURSE_STATIC_WIDGETS=1``), shows the same content as static HTML or a figure instead.
"""

from .common import static_mode
from .response_viewer import ResponseViewer, probability_table, rollout_rows, tokens_html

__all__ = ["ResponseViewer", "probability_table", "rollout_rows", "static_mode", "tokens_html"]
from .estimator_lab import EstimatorLab  # noqa: E402
from .mdp_explorer import MDPExplorer  # noqa: E402

__all__ += ["EstimatorLab", "MDPExplorer"]
from .training_monitor import TrainingMonitor  # noqa: E402

__all__ += ["TrainingMonitor"]
from .preference_collector import PreferenceCollector  # noqa: E402

__all__ += ["PreferenceCollector"]
