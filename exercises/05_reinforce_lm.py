# %% [markdown]
# > generated from solutions/05_reinforce_lm.py by `make exercises` - do not edit; edit the solution instead

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/exercises/05_reinforce_lm.ipynb)
#
# # Exercises 05 - One REINFORCE step, and the best answer style
#
# > *You let it generate its own response, then score that response with a reward $r$, and
# > update the model to make high-scoring responses more likely.*
#
# Two exercises: write the update step at the heart of `train_reinforce`, the very function
# the library's loop calls at every step (the check compares yours with it), then run your own
# step in a loop on sums and watch the reward rise; and find the best answer style under a
# reward table, the rule the honesty reward teaches (lesson 05, section 3).

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
import random

import torch

import course_lib
from course_lib import rewards as R
from course_lib import world as W
from course_lib.checks import check_optimal_style, check_reinforce_step
from course_lib.evaluation import addition_accuracy
from course_lib.sampling import response_token_logprobs, sample

course_lib.set_seed(0)

# %% [markdown]
# ## Exercise 5.1 - One REINFORCE update
#
# The loop has sampled $B$ responses, scored them and recomputed the log-probabilities of their
# tokens **with gradient**. You get:
#
# - `logprobs` `(B, R)`: $\log \pi_\theta(y_{i,t} \mid x_i, y_{i,<t})$ of every sampled token,
#   with gradient (what the positions after `<eos>` hold means nothing: mask them);
# - `rewards` `(B,)`: one reward per response; `baseline` `(B,)`: $b_i$ for each response
#   (both may carry a gradient of their own: the rewards may come from a model with weights);
# - `mask` `(B, R)`: 1 on response tokens, 0 on padding;
# - the `policy`, its `optimizer`, and `max_grad_norm`: the largest gradient norm a step may
#   take (`None`: no limit).
#
# Do one update and return `(loss, grad_norm)`:
#
# 1. advantages $A_i = r_i - b_i$, **detached** (constants for the policy gradient);
# 2. the loss $-\frac{1}{B} \sum_i A_i \sum_t \text{mask}_{i,t} \log \pi_\theta(y_{i,t} \mid
#    x_i, y_{i,<t})$: every response token carries its response's advantage, padding none;
# 3. `zero_grad`, `backward`, clip the gradient's norm, `step`, in that order;
#    `grad_norm` is the norm before clipping.

# %% [markdown]
# <details><summary>Hint (click)</summary>
#
# `torch.nn.utils.clip_grad_norm_(policy.parameters(), max_norm)` clips the gradient in place
# and returns the norm it had before; with `max_grad_norm=None` pass `float("inf")`: nothing
# is clipped, and the norm is still returned.
# </details>

# %% tags=["raises-exception"]
def reinforce_step(policy, optimizer: torch.optim.Optimizer, logprobs: torch.Tensor,
                   rewards: torch.Tensor, mask: torch.Tensor, baseline: torch.Tensor,
                   max_grad_norm: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One REINFORCE update of ``policy``: logprobs (B, R) with gradient, rewards (B,), mask
    (B, R), baseline (B,). Returns (loss, the gradient's norm before clipping)."""
    raise NotImplementedError("Exercise 5.1: detached advantages broadcast over the masked tokens, then zero_grad/backward/clip/step")


check_reinforce_step(reinforce_step)

# %% [markdown]
# ## Your step, in a loop
#
# Sample 64 answers to 16 sums from the SFT model, score them with the exact-match reward,
# recompute their log-probabilities with gradient, take your step; 40 times. The loop is
# `train_reinforce` with nothing but its core: the plain `response_token_logprobs` instead of
# the fast path (the same numbers), the batch mean as the baseline instead of each prompt's
# leave-one-out mean, no KL, no clipping, no logging. Watch the mean reward of each batch.

# %%
sft_model, tokenizer = course_lib.load_sft_model()
train_sums = [W.addition_question(a, b) for a, b in W.addition_problems("train")]
heldout_pairs = W.addition_problems("test")  # all 1,620 held-out sums
acc_before = addition_accuracy(sft_model, tokenizer, heldout_pairs, seed=0)
print(f"SFT model: held-out sampled accuracy {acc_before:.3f}")

# %% tags=["raises-exception"]
policy = copy.deepcopy(sft_model)
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-4)
rng, generator = random.Random(0), torch.Generator().manual_seed(0)
mean_rewards = []
for step in range(40):
    prompts = [p for p in rng.sample(train_sums, 16) for _ in range(4)]
    rollout = sample(policy, tokenizer, prompts, max_new_tokens=12, generator=generator)
    rewards = R.exact_match_reward(rollout.prompts, rollout.texts)  # (B,)
    policy.train()
    logprobs = response_token_logprobs(policy, rollout)  # (B, R), with gradient
    baseline = rewards.mean().expand_as(rewards)  # (B,): the batch mean
    reinforce_step(policy, optimizer, logprobs, rewards, rollout.response_mask, baseline)
    policy.eval()
    mean_rewards.append(float(rewards.mean()))
    if step % 10 == 9:
        print(f"step {step + 1}: mean reward of the last 10 batches "
              f"{sum(mean_rewards[-10:]) / 10:.3f}")
acc_after = addition_accuracy(policy, tokenizer, heldout_pairs, seed=0)
print(f"held-out sampled accuracy: SFT {acc_before:.3f} -> after your 40 steps {acc_after:.3f}")
assert acc_after > acc_before, (acc_before, acc_after)

# %% [markdown]
# ## Exercise 5.2 - Answer, hedge or abstain?
#
# A reward table gives a reward to each (style, right?) pair, like `R.HONESTY_TABLE`:
# `table[("confident", True)]`, `table[("hedged", False)]`, ... If the answer the model would
# give is right with probability `p`, a style's **expected** reward is
# `p * table[(style, True)] + (1 - p) * table[(style, False)]`. Return the style among
# `"confident"`, `"hedged"` and `"abstain"` with the highest expected reward; when two tie,
# return the more cautious one (`"abstain"`, then `"hedged"`).

# %% tags=["raises-exception"]
def optimal_style(p: float, table: dict) -> str:
    """The style of highest expected reward at p; ties go to the more cautious style."""
    raise NotImplementedError("Exercise 5.2: expected reward of each style, the best one, cautious styles first on ties")


check_optimal_style(optimal_style)

# %% [markdown]
# Now find the bands of a table of your own: where does your function switch from
# "abstain" to "hedged", and from "hedged" to "confident"? Try making a wrong confident
# answer cost more, or a right hedge pay less, and see the bands move.

# %% tags=["raises-exception"]
my_table = {**R.HONESTY_TABLE, ("confident", False): -3.0}
grid = [i / 1000 for i in range(1001)]
styles = [optimal_style(p, my_table) for p in grid]
edges = [grid[i] for i in range(1, len(grid)) if styles[i] != styles[i - 1]]
print(f"bands of my table: style changes at p = {edges}; the library says {R.bands(my_table)}")
assert len(edges) == 2 and all(abs(a - b) < 2e-3 for a, b in zip(edges, R.bands(my_table)))
