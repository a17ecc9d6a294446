"""Checks for the exercises, one module per concept; each ``check_*`` takes the student's function.

A correct implementation passes however it is written; a wrong one gets a message naming the
likely mistake; a stub that still raises ``NotImplementedError`` lets that error through.

- :mod:`.probabilities`: next-token probabilities at a temperature, a sequence's log-probability
  (exercises 0.1, 0.2);
- :mod:`.sft`: the SFT loss, token by token and batched (1.1, 1.2);
- :mod:`.behaviour`: behaviour rates and agreement read from raw samples (2.1, 2.2);
- :mod:`.mdp`: one step of the text MDP, J(theta) by enumeration (3.1, 3.2);
- :mod:`.policy_gradient`: the REINFORCE loss, the leave-one-out baseline (4.1, 4.2);
- :mod:`.reinforce_step`: one REINFORCE update, the one ``train_reinforce`` takes (5.1);
- :mod:`.bands`: the best answer style under a reward table, by expected reward (5.2);
- :mod:`.reward_model`: the Bradley-Terry loss, pairwise accuracy (6.1, 6.2);
- :mod:`.rlhf`: reward-model scores, the KL-penalized reward ``train_reinforce`` uses (7.1, 7.2);
- :mod:`.ppo`: PPO's clipped surrogate loss, generalized advantage estimation (8.1, 8.2);
- :mod:`.grpo`: GRPO's group advantages, the unbiased pass@k (9.1, 9.2);
- :mod:`.dpo`: the DPO loss, the KL-optimal policy, summed response log-probabilities (10.1-10.3);
- :mod:`.process_rewards`: step scores aggregated into a response score, best-of-N and
  majority vote (11.1, 11.2);
- :mod:`.common`: the machinery they share (:func:`diagnose`, :class:`ExerciseError`).
"""

from .bands import check_optimal_style
from .behaviour import check_agreement_rate, check_behaviour_rates
from .common import ExerciseError, diagnose
from .dpo import check_dpo_loss, check_kl_optimal_policy, check_summed_logps
from .grpo import check_group_advantages, check_pass_at_k
from .mdp import check_exact_objective, check_step
from .policy_gradient import check_leave_one_out, check_reinforce_loss
from .ppo import check_clipped_surrogate_loss, check_gae
from .probabilities import check_sequence_logprob, check_temperature_probs
from .process_rewards import check_aggregate, check_select_answer
from .reinforce_step import check_reinforce_step
from .reward_model import check_bradley_terry_loss, check_pairwise_accuracy
from .rlhf import check_kl_penalized_rewards, check_reward_model_scores
from .sft import check_response_token_nll, check_sft_loss

__all__ = ["ExerciseError", "check_aggregate", "check_agreement_rate", "check_behaviour_rates",
           "check_bradley_terry_loss", "check_clipped_surrogate_loss", "check_dpo_loss",
           "check_exact_objective", "check_gae", "check_group_advantages",
           "check_kl_optimal_policy", "check_kl_penalized_rewards", "check_leave_one_out",
           "check_optimal_style", "check_pairwise_accuracy", "check_pass_at_k",
           "check_reinforce_loss", "check_reinforce_step", "check_response_token_nll",
           "check_reward_model_scores", "check_select_answer", "check_sequence_logprob",
           "check_sft_loss", "check_step", "check_summed_logps", "check_temperature_probs",
           "diagnose"]
