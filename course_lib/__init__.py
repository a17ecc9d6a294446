"""course_lib: the helper library of "Why language models need reinforcement learning".

One module per concept of the course, each small enough to read in one sitting:

- :mod:`~course_lib.world`: the tiny synthetic world, its corpus, its questions, the annotators
- :mod:`~course_lib.formats`: every prompt and response template, and the one parser of each
- :mod:`~course_lib.tokenizer`: the word-level tokenizer (``tokenizers`` + ``transformers``)
- :mod:`~course_lib.models`: build / save / load the tiny GPT-2; :func:`load_base_model`
- :mod:`~course_lib.pretrain`: rebuild the shipped base model (``python -m course_lib.pretrain``)
- :mod:`~course_lib.sampling`: sampling and log-probabilities, written plainly; a
  :class:`~course_lib.sampling.Rollout`
- :mod:`~course_lib.engine`: the fast path of sampling and log-probabilities (the same numbers)
- :mod:`~course_lib.training`: what every training loop shares (one step, Ctrl-C, progress)
- :mod:`~course_lib.validation`: the checks of a student's input, made where it enters
- :mod:`~course_lib.sft`: the SFT loss and training loop; :func:`load_sft_model`
- :mod:`~course_lib.evaluation`: recall and behaviour metrics of sampled answers
- :mod:`~course_lib.mdp`: generation as an MDP, and a policy small enough to enumerate
- :mod:`~course_lib.policy_gradient`: REINFORCE, baselines, the RL loop ``train_reinforce``
- :mod:`~course_lib.ppo`: PPO: the clipped surrogate, KL estimators, GAE, ``train_ppo``
- :mod:`~course_lib.grpo`: GRPO: group advantages, pass@k, three loss normalizations,
  ``train_grpo``
- :mod:`~course_lib.rewards`: the reward-function type and the course's rewards
- :mod:`~course_lib.preferences`: the hidden gold rater and comparison data
- :mod:`~course_lib.reward_model`: a reward model learned from comparisons
- :mod:`~course_lib.rlhf`: RL against a learned reward, proxy and gold, best-of-n, held-out
  checkpoints
- :mod:`~course_lib.dpo`: the KL-regularized optimum in closed form, the DPO loss and loop
- :mod:`~course_lib.overoptimization`: gold against KL for every optimizer, Gao et al.'s fits
- :mod:`~course_lib.process_rewards`: worked sums checked step by step, step scores aggregated,
  best-of-N and majority vote
- :mod:`~course_lib.verifiers`: the outcome and process reward models of worked sums
- :mod:`~course_lib.claims`: the essay's claims, the check lessons make of each, their recorded
  numbers (read by the recap)
- :mod:`~course_lib.plots`: the figures and tables the lessons share
- :mod:`~course_lib.settings`: seeds, devices, the cache folder, Colab detection
- :mod:`~course_lib.widgets`: the course's interactive widgets (core ipywidgets + matplotlib)
- :mod:`~course_lib.checks`: the checks of the exercises, one module per concept

Importing the package, or any of its modules, has no side effects: nothing is loaded, trained
or registered until asked for.
"""

from .models import load_base_model
from .settings import get_device, set_seed

__all__ = ["get_device", "load_base_model", "load_sft_model", "set_seed"]
__version__ = "0.1.0"


def load_sft_model(*args, **kwargs):
    """The course's SFT model (see :func:`course_lib.sft.load_sft_model`)."""
    from .sft import load_sft_model as _load

    return _load(*args, **kwargs)
