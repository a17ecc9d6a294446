# %% [markdown]
# > generated from solutions/09_grpo_hard_problems.py by `make exercises` - do not edit; edit the solution instead

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/exercises/09_grpo_hard_problems.ipynb)
#
# # Exercises 09 - Group advantages and pass@k
#
# > *If $r$ rewards correctness, the model is pulled toward correctness even when correct
# > answers were rare in pretraining.*
#
# Two exercises: write GRPO's group advantages, then the unbiased pass@k estimator. Each is
# checked against the reference on seeded cases; a wrong answer gets the name of the mistake it
# matches. Then use both: predict what the group advantages of a rare success look like, and
# see why the plain estimate of pass@k is biased.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import math
import random

import torch

import course_lib
from course_lib.checks import check_group_advantages, check_pass_at_k

course_lib.set_seed(0)

# %% [markdown]
# ## Exercise 9.1 - Group advantages
#
# $$A_i = \frac{r_i - \bar r_g}{\operatorname{std}_g + \epsilon}$$
#
# for each response $i$ of prompt $g$'s group, with $\bar r_g$ the group's mean and
# $\operatorname{std}_g$ its *sample* standard deviation (`torch.std`'s default, dividing by
# $G - 1$, as TRL's `GRPOTrainer`).
#
# - `rewards`: `(B,)`, ordered prompt by prompt: the `group_size` samples of each prompt are
#   next to each other (rows `0..G-1` are prompt 0's, rows `G..2G-1` prompt 1's, ...);
# - with `scale_std=False` (Dr. GRPO) return $r_i - \bar r_g$ only;
# - return `(B,)`, in the same order.

# %% tags=["raises-exception"]
def group_advantages(rewards: torch.Tensor, group_size: int, scale_std: bool = True,
                     eps: float = 1e-4) -> torch.Tensor:
    """Each reward centred on its group's mean (and divided by the group's std + eps): (B,)."""
    raise NotImplementedError("Exercise 9.1: view the rewards as (prompts, group_size); subtract each row's mean; divide by its std + eps")


check_group_advantages(group_advantages)

# %% [markdown]
# <details><summary>Hint</summary>
#
# `rewards.view(-1, group_size)` puts one prompt's samples in a row; `.mean(dim=1,
# keepdim=True)` and `.std(dim=1, keepdim=True)` then broadcast back over the row.
# </details>
#
# **A rare success.** A group of 8 samples of which one is right (reward 1), and a group of 8
# of which seven are right. Before you run it: what advantage does the one right answer get,
# and the one wrong answer of the second group? Which group pushes harder in total?

# %% tags=["raises-exception"]
rare = torch.tensor([1.0, 0, 0, 0, 0, 0, 0, 0])
common = 1 - rare
A = group_advantages(torch.cat([rare, common]), 8)
print(f"one right in 8:   the right answer A = {A[0]:+.3f}, each wrong one {A[1]:+.3f}")
print(f"seven right in 8: the wrong answer A = {A[8]:+.3f}, each right one {A[9]:+.3f}")
print(f"total |A| per group: {float(A[:8].abs().sum()):.3f} and {float(A[8:].abs().sum()):.3f}")
assert math.isclose(float(A[0]), -float(A[8]), rel_tol=1e-6)
assert math.isclose(float(A[:8].abs().sum()), float(A[8:].abs().sum()), rel_tol=1e-6)

# %% [markdown]
# The lone right answer gets a large advantage (about +2.5): with the std scaling, a rare
# success is pushed hard, and a prompt solved once in 8 gets the same total push as one solved
# 7 times in 8. Without the scaling (`scale_std=False`) the right answer gets $1 - 1/8 =
# 0.875$, and the total push of a group grows with its spread $p(1-p)$.

# %% [markdown]
# ## Exercise 9.2 - pass@k, without bias
#
# From $n$ samples of a problem of which $c$ are right, the chance that $k$ of them drawn at
# random (without replacement) hold at least one right answer:
#
# $$\text{pass@}k = 1 - \binom{n - c}{k} \Big/ \binom{n}{k}.$$
#
# - `n`, `c`, `k`: ints with $0 \le c \le n$;
# - it is exactly 1 when $n - c < k$ (every set of $k$ holds a right answer);
# - raise `ValueError` when $k > n$: $n$ samples cannot estimate pass@k for a larger $k$.

# %% tags=["raises-exception"]
def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k from n samples of which c are right."""
    raise NotImplementedError("Exercise 9.2: refuse k > n; 1.0 when n - c < k; else 1 - comb(n - c, k) / comb(n, k)")


check_pass_at_k(pass_at_k)

# %% [markdown]
# <details><summary>Hint</summary>
#
# `math.comb(a, b)` is the binomial coefficient, and it is 0 when b > a.
# </details>
#
# **Why not $1 - (1 - c/n)^k$?** That plugs the measured rate $c/n$ into the formula for a
# known success rate. Take a problem the model solves with probability 0.1, draw $n = 16$
# samples many times, and average both estimates of pass@8 over the draws. Predict first:
# which one is too low?

# %% tags=["raises-exception"]
rng = random.Random(0)
p_true, n, k, draws = 0.1, 16, 8, 20_000
unbiased, plug_in = [], []
for _ in range(draws):
    c = sum(rng.random() < p_true for _ in range(n))
    unbiased.append(pass_at_k(n, c, k))
    plug_in.append(1 - (1 - c / n) ** k)
truth = 1 - (1 - p_true) ** k
mean_u, mean_p = sum(unbiased) / draws, sum(plug_in) / draws
se = (sum((u - mean_u) ** 2 for u in unbiased) / draws) ** 0.5 / draws ** 0.5
print(f"true pass@{k} = {truth:.4f}; unbiased estimate {mean_u:.4f} (+- {se:.4f}); "
      f"plug-in {mean_p:.4f}")
assert abs(mean_u - truth) < 3 * se and mean_p < truth - 3 * se

# %% [markdown]
# The unbiased estimator averages to the true pass@8; the plug-in one comes out too low (the
# function $1 - (1-p)^k$ is concave in $p$, so averaging it over a noisy $p$ pulls it down:
# Jensen's inequality). Papers that report pass@k at large $k$ from few samples use the
# unbiased one for that reason.
