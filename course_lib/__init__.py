"""course_lib: the helper library of "Why language models need reinforcement learning".

One module per concept of the course, each small enough to read in one sitting:

- :mod:`~course_lib.world`: the tiny synthetic world, its corpus, questions and the parser
- :mod:`~course_lib.tokenizer`: the word-level tokenizer (``tokenizers`` + ``transformers``)
- :mod:`~course_lib.models`: build / save / load the tiny GPT-2; :func:`load_base_model`
- :mod:`~course_lib.pretrain`: rebuild the shipped base model (``python -m course_lib.pretrain``)
- :mod:`~course_lib.sampling`: sampling with a KV cache, a :class:`~course_lib.sampling.Rollout`
- :mod:`~course_lib.evaluation`: recall and behaviour metrics of sampled answers
- :mod:`~course_lib.sft`: the SFT loss and training loop
- :mod:`~course_lib.widgets`: the course's interactive widgets (core ipywidgets + matplotlib)
- :mod:`~course_lib.settings`: seeds, devices, Colab and CI detection

Importing the package has no side effects: nothing is loaded or trained until asked for.
"""

from .models import load_base_model
from .settings import get_device, set_seed

__all__ = ["get_device", "load_base_model", "load_sft_model", "set_seed"]
__version__ = "0.1.0"


def load_sft_model(*args, **kwargs):
    """The course's SFT model (see :func:`course_lib.sft.load_sft_model`)."""
    from .sft import load_sft_model as _load

    return _load(*args, **kwargs)
