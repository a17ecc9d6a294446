# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/06_reward_models.ipynb)
#
# # Exercises 06 - The Bradley-Terry loss and pairwise accuracy
#
# Lesson 06 trained a reward model $r_\phi(x, y)$ on comparisons "$y_c$ was preferred to
# $y_r$" with the Bradley-Terry loss
#
# $$\mathcal{L}_\text{BT}(\phi) = -\,\mathbb{E}\Big[\log \sigma\big(r_\phi(x, y_c)
#   - r_\phi(x, y_r)\big)\Big],$$
#
# and measured it by its pairwise accuracy on held-out pairs. Here you write both, then use
# yours to train a small reward model.

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
from course_lib import preferences as P
from course_lib import reward_model as RM
from course_lib.checks import check_bradley_terry_loss, check_pairwise_accuracy

course_lib.set_seed(0)
print("log sigmoid at a margin of -1e4:",
      float(torch.log(torch.sigmoid(torch.tensor(-1e4)))), "(two steps) vs",
      float(F.logsigmoid(torch.tensor(-1e4))), "(one stable function)")

# %% [markdown]
# ## Exercise 6.1 - The Bradley-Terry loss
#
# Given the scores of the chosen and of the rejected responses, `r_chosen` and `r_rejected`
# (both shape `(N,)`, one entry per pair), return the mean over the pairs of
# $-\log \sigma(r_c - r_r)$, as a scalar tensor. It must stay finite for margins of
# $\pm 10^4$: a reward model that is very sure and very wrong must get a large, finite loss.

# %% tags=["exercise-check"]
def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(r_chosen - r_rejected); r_chosen, r_rejected: (N,) -> scalar."""
    # BEGIN SOLUTION: the margin r_chosen - r_rejected, then a stable log-sigmoid, negated and averaged
    margin = r_chosen - r_rejected  # (N,)
    return -F.logsigmoid(margin).mean()
    # END SOLUTION


check_bradley_terry_loss(bradley_terry_loss)

# %% [markdown]
# ## Exercise 6.2 - Pairwise accuracy
#
# Return the fraction of pairs (a Python float) where the chosen response scores *strictly*
# higher than the rejected one. A tie is an error: a reward model that gives both responses
# the same score has not ranked them.

# %% tags=["exercise-check"]
def pairwise_accuracy(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> float:
    """Fraction of pairs with r_chosen > r_rejected; r_chosen, r_rejected: (N,) -> float."""
    # BEGIN SOLUTION: compare elementwise with a strict >, then average
    return (r_chosen > r_rejected).float().mean().item()
    # END SOLUTION


check_pairwise_accuracy(pairwise_accuracy)

# %% [markdown]
# ## Use them: a small reward model trained with your loss
#
# A hundred steps on pairs of the SFT model's responses, with *your* loss in the training
# step, then *your* accuracy on held-out pairs. A small run (a few hundred pairs), so expect
# less than the lesson's reward model, but clearly more than chance.

# %% tags=["exercise-check"]
policy, tokenizer = course_lib.load_sft_model()
train = P.sample_comparisons(policy, tokenizer, P.comparison_prompts(["rl"], seed=0),
                             n_samples=8, max_pairs_per_prompt=4, seed=0)
test = P.sample_comparisons(policy, tokenizer, P.comparison_prompts(["test"], seed=1),
                            n_samples=8, max_pairs_per_prompt=2, seed=1)
rm = RM.build_reward_model(policy, seed=0)
opt = torch.optim.AdamW(rm.parameters(), lr=1e-4)
g = torch.Generator().manual_seed(0)
rm.train()
for step in range(100):
    batch = [train[i] for i in torch.randint(len(train), (32,), generator=g).tolist()]
    ids, mask = RM.encode(tokenizer, [c.prompt for c in batch] * 2,
                          [c.chosen for c in batch] + [c.rejected for c in batch])
    r = rm(input_ids=ids, attention_mask=mask).logits[:, 0]  # (2N,): chosen, then rejected
    loss = bradley_terry_loss(r[:32], r[32:])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        print(f"step {step:3d}  loss {loss.item():.3f}")
r_c, r_r = RM.scores_of_pairs(rm, tokenizer, test)
acc = pairwise_accuracy(r_c, r_r)
print(f"held-out pairwise accuracy {acc:.3f} on {len(test)} pairs "
      f"(noise ceiling {P.noise_ceiling(test):.3f}, chance 0.5)")
assert acc > 0.53, acc

# %% [markdown]
# ## Question 6.3 - Why not regress on scores?
#
# The gold rater has a score $g(x, y)$ in mind. Why do real pipelines ask raters for
# comparisons and fit Bradley-Terry, rather than ask for scores and fit $r_\phi$ by least
# squares? And what does the Bradley-Terry model leave undetermined about $r_\phi$?
#
# <!-- BEGIN SOLUTION -->
# Different raters use different scales and anchors (one rater's 0.6 is another's 0.9), so
# their scores disagree far more than their rankings do; a comparison asks only for the
# ranking, which raters give consistently. Bradley-Terry then explains each comparison by a
# *difference* of scores, so $r_\phi$ is determined only up to an additive constant per prompt
# (adding $c(x)$ to every response of $x$ changes no probability); and its scale is set by the
# rater's noise: the more consistent the rater, the larger the learned differences.
# <!-- END SOLUTION -->
