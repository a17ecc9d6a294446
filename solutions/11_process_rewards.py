# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/11_process_rewards.ipynb)
#
# # Exercises 11 - Aggregating step scores, choosing one answer among N
#
# > *... or at each step, if you have a process reward model that grades partial work.*
#
# Two exercises: turn a process reward model's step scores into one score per response, then
# write the best-of-N selector (by a verifier's scores, or by majority vote when there is no
# verifier). Each is checked against the reference on seeded cases; a wrong answer gets the
# name of the mistake it matches. Then use both on the SFT model's own worked sums.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
from collections import Counter

import torch

import course_lib
from course_lib import verifiers as VF
from course_lib import world as W
from course_lib.checks import check_aggregate, check_select_answer
from course_lib.formats import parse_response
from course_lib.sampling import sample

course_lib.set_seed(0)

# %% [markdown]
# ## Exercise 11.1 - From step scores to a response score
#
# A PRM gives each step $k$ of a response a probability $p_k$ that it is right. Batched, the
# scores of B responses come as a `(B, K)` tensor `step_scores` (K: the most steps of any
# response) with `step_mask` `(B, K)`, 1 on real steps and 0 on the padding (whatever the
# padding holds must not matter). Return one score per response, shape `(B,)`:
#
# - `how="min"`: $\min_k p_k$, a response is as good as its weakest step;
# - `how="product"`: $\prod_k p_k$, the probability that every step is right (if independent);
# - a response with no step at all (the checker could not read it) scores 0.

# %% tags=["exercise-check"]
def aggregate(step_scores: torch.Tensor, step_mask: torch.Tensor, how: str = "min"
              ) -> torch.Tensor:
    """One score per response, (B,), from its real steps' scores."""
    # BEGIN SOLUTION: fill the padding with 1 (neutral for min and product), reduce over K; rows without a step get 0
    real = step_mask.bool()
    filled = step_scores.masked_fill(~real, 1.0)  # (B, K)
    score = filled.min(dim=1).values if how == "min" else filled.prod(dim=1)
    return torch.where(real.any(dim=1), score, torch.zeros_like(score))
    # END SOLUTION


check_aggregate(aggregate)

# %% [markdown]
# <details><summary>Hint</summary>
#
# 1 changes neither a min over numbers in [0, 1] nor a product: `masked_fill(~mask.bool(), 1.0)`.
# `torch.where(condition, a, b)` picks per row.
# </details>
#
# ## Exercise 11.2 - Best-of-N and majority vote
#
# `answers` holds the final answers of N responses to one problem (a string, or None for a
# response whose answer could not be read). Return the chosen answer:
#
# - with `scores` `(N,)` (a verifier's score of each response): the answer of the
#   highest-scoring response, the first of them on a tie;
# - without (`scores=None`): the answer given most often among those that parsed (None does not
#   vote), the one given first on a tie; None if no answer parsed.

# %% tags=["exercise-check"]
def select_answer(answers: list, scores: torch.Tensor | None = None):
    """The answer best-of-N (with scores) or the majority vote (without) picks."""
    # BEGIN SOLUTION: argmax of the scores; else count the parsed answers and keep the first with the top count
    if scores is not None:
        return answers[int(torch.argmax(scores))]
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    top = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == top)
    # END SOLUTION


check_select_answer(select_answer)

# %% [markdown]
# **Your functions at work.** 16 samples of the SFT model for each of 24 held-out sums, scored
# by the course's PRM (trained on first use, about half a minute, then cached). Before you run
# it: which picks more right answers among 16, your best-of-16 with the PRM's min, with its
# product, or the majority vote, and how far above the 0.34 of a single sample?

# %% tags=["exercise-check"]
sft_model, tokenizer = course_lib.load_sft_model(device=course_lib.get_device())
orm, prm, tokenizer, _ = VF.load_verifiers(device=course_lib.get_device())
terms = W.chain_problems("test", 24, n_terms=4, seed=5)
N = 16
prompts = [W.chain_question(t) for t in terms for _ in range(N)]
texts = sample(sft_model, tokenizer, prompts, 40, 1.0,
               generator=torch.Generator().manual_seed(0)).texts
step_scores, step_mask = VF.step_scores(prm, tokenizer, prompts, texts)
picked = {"PRM, min": aggregate(step_scores, step_mask, "min"),
          "PRM, product": aggregate(step_scores, step_mask, "product"), "majority vote": None}
accuracy = {}
for name, scores in picked.items():
    right = 0
    for j, t in enumerate(terms):
        rows = slice(j * N, (j + 1) * N)
        answers = [parse_response(y).answer for y in texts[rows]]
        right += select_answer(answers, None if scores is None else scores[rows]) == str(sum(t))
    accuracy[name] = right / len(terms)
single = sum(parse_response(y).answer == str(sum(t)) for t, y in
             zip([t for t in terms for _ in range(N)], texts)) / len(texts)
print(f"one sample: {single:.3f};", ", ".join(f"best-of-{N} by {k}: {v:.3f}"
                                             for k, v in accuracy.items()))
assert accuracy["PRM, min"] > single + 0.15

# %% [markdown]
# Lesson 11 measured the same on 48 problems and N up to 64: the PRM's pick peaks around
# N = 16 and falls after, as among more samples the best-scored one is more often a slip the PRM
# missed.
