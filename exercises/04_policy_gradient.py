# %% [markdown]
# > generated from solutions/04_policy_gradient.py by `make exercises` - do not edit; edit the solution instead

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/exercises/04_policy_gradient.ipynb)
#
# # Exercises 04 - The policy gradient
#
# > *Getting a usable gradient out of that expectation is the entire problem, and the trick that
# > solves it, the policy gradient, is where this series goes next.*
#
# Two exercises: write the REINFORCE loss, then the leave-one-out baseline. Then use both to
# estimate the gradient of the tiny policy of lesson 03 and compare it with the exact gradient.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import torch
import torch.nn.functional as F

import course_lib
from course_lib import mdp
from course_lib.checks import check_leave_one_out, check_reinforce_loss

course_lib.set_seed(0)

# %% [markdown]
# ## Exercise 4.1 - The REINFORCE loss
#
# Given a batch of $B$ sampled responses, the log-probabilities of their tokens `logprobs`
# `(B, T)` (with gradient), one reward per response `rewards` `(B,)`, the mask of response
# tokens `mask` `(B, T)` (1 on tokens, 0 on padding) and an optional baseline `(B,)`, return
#
# $$\text{loss} = -\frac{1}{B} \sum_{i=1}^{B} (r_i - b_i) \sum_t \text{mask}_{i,t} \log
#   \pi_\theta(y_{i,t} \mid x_i, y_{i,<t})$$
#
# whose gradient is minus the REINFORCE estimate of $\nabla_\theta J(\theta)$. The baseline is a
# constant for the gradient: **detach** it (with `baseline=None`, $b = 0$).

# %% tags=["raises-exception"]
def reinforce_loss(logprobs: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
                   baseline: torch.Tensor | None = None) -> torch.Tensor:
    """REINFORCE surrogate loss. logprobs, mask: (B, T); rewards, baseline: (B,) -> scalar."""
    raise NotImplementedError("Exercise 4.1: subtract the detached baseline, sum masked log-probs per response, minus the batch mean")


check_reinforce_loss(reinforce_loss)

# %% [markdown]
# ## Exercise 4.2 - The leave-one-out baseline
#
# For sample $i$, the mean reward of the *other* $B - 1$ samples:
#
# $$b_i = \frac{1}{B - 1} \sum_{j \ne i} r_j.$$
#
# It does not depend on $y_i$, so it adds no bias. Return a detached tensor of shape `(B,)`.

# %% tags=["raises-exception"]
def leave_one_out(rewards: torch.Tensor) -> torch.Tensor:
    """b_i = mean of the other rewards. rewards: (B,) -> (B,), detached."""
    raise NotImplementedError("Exercise 4.2: the sum of all rewards minus r_i, over B - 1; detach")


check_leave_one_out(leave_one_out)

# %% [markdown]
# ## Your estimator against the exact gradient
#
# Sample 20,000 responses of the tiny policy, score them, and differentiate *your* loss with
# *your* baseline. It should point the same way as the exact gradient of lesson 03's
# $J(\theta)$ (cosine similarity at least 0.99), and the baseline should make a batch of 16 much
# less noisy.

# %% tags=["raises-exception"]
tiny = mdp.TinyPolicy(seed=0)
env = mdp.tiny_task(tiny)
exact = mdp.exact_gradient(tiny, env).flatten()
ids, mask = tiny.sample(20_000, torch.Generator().manual_seed(0))
returns = mdp.step_rewards(env, "", ids, mask).sum(dim=1)


def estimate(rows: slice, use_baseline: bool) -> torch.Tensor:
    R = returns[rows]
    loss = reinforce_loss(tiny.token_logprobs(ids[rows], mask[rows]), R, mask[rows],
                          leave_one_out(R) if use_baseline else None)
    (grad,) = torch.autograd.grad(loss, tiny.theta)
    return -grad.flatten()


cos = F.cosine_similarity(estimate(slice(None), True), exact, dim=0)
small = {flag: torch.stack([estimate(slice(16 * k, 16 * k + 16), flag) for k in range(300)])
         for flag in (False, True)}
spread = {flag: float(est.var(dim=0).sum()) for flag, est in small.items()}
print(f"cosine with the exact gradient: {float(cos):.4f}")
print(f"total variance of 16-sample estimates: no baseline {spread[False]:.3f}, "
      f"leave-one-out {spread[True]:.3f}")
assert cos >= 0.99 and spread[True] < spread[False] / 2
