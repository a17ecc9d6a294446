"""Checks for the exercises, one module per lesson; each ``check_*`` takes the student's function.

A correct implementation passes however it is written; a wrong one gets a message naming the
likely mistake; a stub that still raises ``NotImplementedError`` lets that error through.
"""

from .common import ExerciseError, diagnose
from .tiny_world import check_sequence_logprob, check_temperature_probs

__all__ = ["ExerciseError", "check_sequence_logprob", "check_temperature_probs", "diagnose"]
from .mdp import check_exact_objective, check_step  # noqa: E402
from .policy_gradient import check_leave_one_out, check_reinforce_loss  # noqa: E402

__all__ += ["check_exact_objective", "check_leave_one_out", "check_reinforce_loss", "check_step"]
from .behaviour import check_agreement_rate, check_behaviour_rates  # noqa: E402
from .sft import check_response_token_nll, check_sft_loss  # noqa: E402

__all__ += ["check_agreement_rate", "check_behaviour_rates", "check_response_token_nll",
            "check_sft_loss"]
from .reward_model import check_bradley_terry_loss, check_pairwise_accuracy  # noqa: E402

__all__ += ["check_bradley_terry_loss", "check_pairwise_accuracy"]
from .reinforce_step import check_reinforce_step  # noqa: E402

__all__ += ["check_reinforce_step"]
from .rlhf import check_kl_penalized_rewards, check_reward_model_scores  # noqa: E402

__all__ += ["check_kl_penalized_rewards", "check_reward_model_scores"]
