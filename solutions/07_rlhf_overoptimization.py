# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/07_rlhf_overoptimization.ipynb)
#
# # Exercises 07 - The reward of RL against a reward model
#
# Lesson 07 optimized
#
# $$J(\theta) = \mathbb{E}_{x}\,\mathbb{E}_{y \sim \pi_\theta(\cdot \mid x)}
#   \big[r_\phi(x, y)\big] \;-\; \beta\, \mathrm{KL}\big(\pi_\theta \,\|\, \pi_\text{SFT}\big).$$
#
# Two small pieces of that loop are easy to get subtly wrong, and neither mistake raises an
# error: the run just trains on the wrong signal. Here you write both: scoring responses with
# the reward model, and the per-token KL-penalized reward. Then you use them on a short RL run.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import copy

import torch
from IPython.display import HTML, display

import course_lib
from course_lib import reward_model as RM
from course_lib import world as W
from course_lib.checks import check_kl_penalized_rewards, check_reward_model_scores
from course_lib.plots import html_table
from course_lib.policy_gradient import ReinforceConfig, train_reinforce
from course_lib.sampling import response_token_logprobs, sample

course_lib.set_seed(0)
sft_model, tokenizer = course_lib.load_sft_model()
reward_model, _ = RM.load_reward_model()  # lesson 06's reward model (cached)
prompts = W.rl_fact_prompts("rl", seed=0)  # lesson 05's questions about the `rl` countries
print(f"SFT model and reward model loaded; {len(prompts)} questions")

# %% [markdown]
# ## Exercise 7.1 - Score responses with the reward model
#
# Return $r_\phi(x, y)$ for each (prompt, response) pair, a tensor of shape `(B,)`.
# `RM.encode(tokenizer, prompts, responses)` gives `(input_ids, attention_mask)` for
# `<bos> prompt response <eos>`; the reward model's output `.logits` has shape `(B, 1)`.
#
# A reward model that was just trained is in **train mode**. With dropout, train mode makes
# every score a random draw, and RL then chases noise. And a reward is a number to maximize,
# not something to backpropagate through: compute it without gradient.

# %% tags=["exercise-check"]
def reward_model_scores(reward_model, tokenizer, prompts: list[str],
                        responses: list[str]) -> torch.Tensor:
    """r_phi(x, y) for each pair: (B,), in eval mode, without gradient."""
    # BEGIN SOLUTION: eval mode, encode, forward under no_grad, one number per row
    reward_model.eval()
    input_ids, attention_mask = RM.encode(tokenizer, prompts, responses, reward_model.device)
    with torch.no_grad():
        logits = reward_model(input_ids=input_ids, attention_mask=attention_mask).logits
    return logits[:, 0]  # (B,)
    # END SOLUTION


check_reward_model_scores(reward_model_scores)

# %% [markdown]
# ## Exercise 7.2 - The KL-penalized reward, per token
#
# Given, for a batch of B sampled responses padded to R tokens,
# - `scores` (B,): $r_\phi(x, y)$ of each response,
# - `logprobs` (B, R): $\log \pi_\theta(y_t \mid x, y_{<t})$ of each sampled token,
# - `ref_logprobs` (B, R): $\log \pi_\text{SFT}(y_t \mid x, y_{<t})$ of the same tokens,
# - `mask` (B, R): 1 on response tokens, 0 on padding (responses start at column 0),
# - `beta`: the KL coefficient,
#
# return the per-token rewards (B, R):
#
# $$r_t = -\beta\,\big(\log \pi_\theta(y_t \mid x, y_{<t}) - \log \pi_\text{SFT}(y_t \mid x,
#   y_{<t})\big) \;+\; \big[t = \text{last token}\big]\; r_\phi(x, y),$$
#
# and 0 on padding. Summed over the tokens, this is $r_\phi(x, y) - \beta\,\mathrm{KL}_y$.
# Watch the sign (moving away from the SFT model must *cost* reward), keep the penalty per
# token, and put the score at each row's own last token, which is not always column R - 1.
# No gradient should flow through these rewards.

# %% tags=["exercise-check"]
def kl_penalized_rewards(scores: torch.Tensor, logprobs: torch.Tensor,
                         ref_logprobs: torch.Tensor, mask: torch.Tensor,
                         beta: float) -> torch.Tensor:
    """Per-token rewards (B, R): -beta * log-ratio on every response token, score at the last."""
    # BEGIN SOLUTION: the per-token penalty under the mask, then the score at index lengths - 1
    mask = mask.to(logprobs.dtype)
    rewards = -beta * (logprobs - ref_logprobs).detach() * mask  # (B, R)
    last = mask.sum(dim=1).long() - 1  # (B,) each row's last response token
    rewards[torch.arange(len(scores)), last] += scores.detach()
    return rewards
    # END SOLUTION


check_kl_penalized_rewards(kl_penalized_rewards)

# %% [markdown]
# ## Use them: a short RL run, and its rewards token by token
#
# Twenty RL steps against the reward model, scored by *your* `reward_model_scores`, with
# $\beta$ = 0.05. Then sample from the trained policy and look at *your* per-token rewards
# for one response: where does the policy pay for having moved away from the SFT model?

# %% tags=["exercise-check"]
policy = copy.deepcopy(sft_model)
beta = 0.05
history = train_reinforce(
    policy, sft_model, tokenizer, prompts,
    lambda x, y: reward_model_scores(reward_model, tokenizer, x, y),
    ReinforceConfig(steps=20, batch_size=16, samples_per_prompt=4, lr=4e-5, beta=beta, seed=0),
    progress=False)
first = sum(h["reward"] for h in history[:5]) / 5
last = sum(h["reward"] for h in history[-5:]) / 5
print(f"mean reward-model score: {first:+.2f} in the first 5 steps, {last:+.2f} in the last 5; "
      f"KL {history[-1]['kl']:.2f} nats")
assert last > first, (first, last)

batch = sample(policy, tokenizer, prompts[::4][:8], temperature=1.0,
               generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    ref_logprobs = response_token_logprobs(sft_model, batch, temperature=1.0)
scores = reward_model_scores(reward_model, tokenizer, list(batch.prompts), list(batch.texts))
per_token = kl_penalized_rewards(scores, batch.logprobs, ref_logprobs, batch.response_mask, beta)
kl_y = ((batch.logprobs - ref_logprobs) * batch.response_mask).sum(1)
assert torch.allclose(per_token.sum(1), scores - beta * kl_y, atol=1e-5)

i = int(kl_y.argmax())  # the response that moved furthest from the SFT model
tokens = tokenizer.convert_ids_to_tokens(batch.response_ids[i, :int(batch.lengths[i])].tolist())
print(f"{batch.prompts[i]}  ->  {batch.texts[i]}\nr_phi = {scores[i]:+.3f}, KL_y = {kl_y[i]:+.3f}")
display(HTML(html_table({f"{t} {tok}": {"log pi": batch.logprobs[i, t].item(),
                                         "log pi_SFT": ref_logprobs[i, t].item(),
                                         "r_t": per_token[i, t].item()}
                         for t, tok in enumerate(tokens)}, digits=3, index_name="token")))

# %% [markdown]
# ## Question 7.3 - Why not just train longer, or drop the KL term?
#
# In lesson 07 the proxy reward kept rising while the gold reward fell. (a) Why does
# optimizing $r_\phi$ harder eventually make the policy *worse* for the rater, even though
# $r_\phi$ agrees with the rater on most held-out pairs? (b) What does the KL term do about
# it, and what does it cost? (c) Name one thing a real pipeline can do, besides choosing
# $\beta$, to keep the proxy honest.
#
# <!-- BEGIN SOLUTION -->
# (a) $r_\phi$ was fit on comparisons of the SFT model's own responses, so it is accurate only
# near that distribution. RL moves the policy toward whatever scores highest; the responses
# that score highest are increasingly ones $r_\phi$ never saw, where its errors are
# unconstrained (in lesson 07, true capitals of *other* countries: the SFT model almost never
# changed the subject, so no comparison taught $r_\phi$ to check the country against the
# question). Held-out accuracy on SFT samples says nothing about those. (b) The KL penalty charges
# $\beta (\log \pi_\theta - \log \pi_\text{SFT})$ per token, so the policy only moves where the
# proxy gain is worth the distance: it stays where $r_\phi$ is still trustworthy, at the price
# of leaving proxy (and some gold) reward on the table. (c) Collect fresh comparisons of the
# *current* policy's responses and retrain the reward model (iterated RLHF); or stop early,
# using a held-out check of real quality (humans, or a stronger judge); or use an ensemble of
# reward models and optimize a conservative (e.g. minimum) score.
# <!-- END SOLUTION -->
