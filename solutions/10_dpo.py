# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/10_dpo.ipynb)
#
# # Exercises 10 - The DPO loss and the KL-optimal policy
#
# Lesson 10 derived DPO from one fact: the policy that maximizes
#
# $$J_\beta(\pi) = \mathbb{E}_{y \sim \pi}\big[r(x, y)\big] - \beta\,\mathrm{KL}\big(\pi \,\|\,
#   \pi_\text{ref}\big)$$
#
# is $\pi^*(y \mid x) = \pi_\text{ref}(y \mid x)\,e^{r(x, y)/\beta} / Z(x)$, so that
# $r = \beta \log(\pi^*/\pi_\text{ref}) + \beta \log Z(x)$, and in a Bradley-Terry comparison
# $Z(x)$ cancels. Here you write the three pieces that derivation turns into code: the DPO loss,
# the KL-optimal policy, and the log-probability of a whole response that the loss needs. Then
# you use them: on lesson 04's tiny policy, DPO on comparisons should land on your $\pi^*$; on
# the language model, a few DPO steps should raise the implicit reward margin.

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
import torch.nn.functional as F

import course_lib
from course_lib import mdp
from course_lib import preferences as P
from course_lib.checks import check_dpo_loss, check_kl_optimal_policy, check_summed_logps
from course_lib.sampling import token_logprobs
from course_lib.sft import make_sft_batch

course_lib.set_seed(0)
device = course_lib.get_device()

# %% [markdown]
# ## Exercise 10.1 - The DPO loss
#
# For N labelled pairs, you get four tensors of shape `(N,)`: the **summed** log-probability
# $\log \pi(y \mid x)$ of each chosen response $y_c$ and each rejected response $y_r$, under the
# policy $\pi_\theta$ and under the frozen reference $\pi_\text{ref}$. Return
#
# $$\mathcal{L}_\text{DPO} = -\frac{1}{N} \sum_{i} \log \sigma\Big(\beta\,\big[
#   (\log \pi_\theta(y_c) - \log \pi_\text{ref}(y_c)) - (\log \pi_\theta(y_r) -
#   \log \pi_\text{ref}(y_r))\big]\Big).$$
#
# The check also feeds margins of $\pm 10^4$: the loss must stay finite and exact there (lesson
# 06's Bradley-Terry loss had the same trap).

# %% tags=["exercise-check"]
def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             ref_chosen_logps: torch.Tensor, ref_rejected_logps: torch.Tensor,
             beta: float = 0.1) -> torch.Tensor:
    """Mean over pairs of -log sigmoid(beta * ((pc - rc) - (pr - rr))); inputs (N,), a scalar."""
    # BEGIN SOLUTION: the two log-ratios, their difference times beta, a stable log-sigmoid, negated and averaged
    chosen = policy_chosen_logps - ref_chosen_logps  # (N,) log pi_theta / pi_ref of y_c
    rejected = policy_rejected_logps - ref_rejected_logps  # (N,) of y_r
    return -F.logsigmoid(beta * (chosen - rejected)).mean()
    # END SOLUTION


check_dpo_loss(dpo_loss)

# %% [markdown]
# ## Exercise 10.2 - The KL-optimal policy
#
# Over a finite set of responses (the last dimension), given the reference's probabilities
# `ref_probs` (each row sums to 1) and the rewards, return
# $\pi^* = \mathrm{softmax}\big(\log \pi_\text{ref} + r / \beta\big)$, the same shape. The
# check tries a tight leash ($\beta = 0.01$ with rewards of 10: $e^{1000}$ does not fit in a
# float) and a response the reference never says.

# %% tags=["exercise-check"]
def kl_optimal_policy(ref_probs: torch.Tensor, rewards: torch.Tensor,
                      beta: float) -> torch.Tensor:
    """pi* = argmax_pi E_pi[r] - beta KL(pi || pi_ref): (..., N), softmax over the last dim."""
    # BEGIN SOLUTION: logits log(pi_ref) + r / beta, then a softmax over the last dimension
    return torch.softmax(ref_probs.log() + rewards / beta, dim=-1)
    # END SOLUTION


check_kl_optimal_policy(kl_optimal_policy)

# %% [markdown]
# ## Exercise 10.3 - The log-probability of a whole response
#
# The DPO loss compares $\log \pi(y \mid x) = \sum_t \log \pi(y_t \mid x, y_{<t})$ of whole
# responses: that is what the closed form is about. A language model gives you one
# log-probability per token. Given `token_logps` (N, T) and a `mask` (N, T) that is 1 on each
# row's response tokens and 0 on padding, return one number per response, shape (N,).

# %% tags=["exercise-check"]
def summed_logps(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log pi(y | x) of each response: the masked sum of its tokens' log-probabilities, (N,)."""
    # BEGIN SOLUTION: zero the padding with the mask, then sum along the tokens (dim=1)
    return (token_logps * mask).sum(dim=1)
    # END SOLUTION


check_summed_logps(summed_logps)

# %% [markdown]
# ## Use them (1): DPO lands on your KL-optimal policy
#
# Lesson 04's tiny policy can say 40 things; its task pays 1 for every "a" and 2 for finishing. Draw
# 5,000 pairs of the reference's own samples, keep those of two different responses, label them with
# Bradley-Terry preferences from that reward, train a policy with one logit per response on *your*
# DPO loss, and compare it with *your* $\pi^*$. The learner never sees a reward.

# %% tags=["exercise-check"]
tiny = mdp.TinyPolicy(seed=0)
ids, mask = mdp.enumerate_sequences(tiny)
rewards = mdp.step_rewards(mdp.tiny_task(tiny), "", ids, mask).sum(1)  # (40,)
with torch.no_grad():
    ref_logp = tiny.sequence_logprobs(ids, mask)  # (40,)
beta = 1.0
target = kl_optimal_policy(ref_logp.exp(), rewards, beta)

g = torch.Generator().manual_seed(1)
a, b = torch.multinomial(ref_logp.exp(), 10_000, replacement=True, generator=g).view(2, -1)
a, b = a[a != b], b[a != b]
a_wins = torch.rand(len(a), generator=g, dtype=torch.float64) < torch.sigmoid(rewards[a] -
                                                                              rewards[b])
chosen, rejected = torch.where(a_wins, a, b), torch.where(a_wins, b, a)
z = ref_logp.clone().requires_grad_(True)  # starts at pi_ref
opt = torch.optim.Adam([z], lr=0.05)
for _ in range(400):
    logp = torch.log_softmax(z, dim=0)
    loss = dpo_loss(logp[chosen], logp[rejected], ref_logp[chosen], ref_logp[rejected], beta)
    opt.zero_grad()
    loss.backward()
    opt.step()
learned = torch.softmax(z, dim=0).detach()
tv_start = 0.5 * (ref_logp.exp() - target).abs().sum().item()
tv_end = 0.5 * (learned - target).abs().sum().item()
print(f"total variation to your pi* (beta = {beta}): {tv_start:.3f} at pi_ref, {tv_end:.3f} "
      f"after DPO on {len(chosen)} comparisons")
assert tv_end < tv_start / 3, (tv_start, tv_end)

# %% [markdown]
# ## Use them (2): a few DPO steps on the language model
#
# Now the course's SFT model, on comparisons of its own answers labelled by the gold rater
# (lesson 06's recipe, on a few questions). Your `summed_logps` turns the per-token
# log-probabilities of `<bos> prompt response <eos>` into $\log \pi(y \mid x)$ (the mask covers
# the response and its `<eos>`), and your `dpo_loss` trains the policy for 15 steps. The
# reference's log-probabilities are computed once, without gradient.

# %% tags=["exercise-check"]
ref_model, tokenizer = course_lib.load_sft_model(device=device)
pairs = P.sample_comparisons(ref_model, tokenizer, P.comparison_prompts(["rl"], seed=2)[:24],
                             n_samples=6, max_pairs_per_prompt=3, seed=0)


def response_logps(model, pairs, which: str) -> torch.Tensor:
    """log pi(y | x) of the chosen or rejected response of each pair, (N,), with gradient."""
    batch = make_sft_batch(tokenizer, [(c.prompt, getattr(c, which)) for c in pairs], device)
    logp = token_logprobs(model, batch["input_ids"], batch["attention_mask"])  # (N, T - 1)
    return summed_logps(logp, batch["loss_mask"][:, 1:].to(logp.dtype))  # (N,)


with torch.no_grad():
    ref_c, ref_r = (response_logps(ref_model, pairs, w) for w in ("chosen", "rejected"))
policy = copy.deepcopy(ref_model).train()
opt = torch.optim.Adam(policy.parameters(), lr=3e-4)
margins = []
for _ in range(15):
    pol_c, pol_r = (response_logps(policy, pairs, w) for w in ("chosen", "rejected"))
    loss = dpo_loss(pol_c, pol_r, ref_c, ref_r, beta=0.5)
    opt.zero_grad()
    loss.backward()
    opt.step()
    margins.append(0.5 * ((pol_c - ref_c) - (pol_r - ref_r)).mean().item())
policy.eval()
print(f"{len(pairs)} pairs; mean implicit reward margin {margins[0]:+.3f} at the first step, "
      f"{margins[-1]:+.3f} at the last; loss {loss.item():.3f} (log 2 = 0.693 at the start)")
assert margins[0] == 0.0 or abs(margins[0]) < 1e-4, margins[0]  # the policy starts at pi_ref
assert margins[-1] > 0.1, margins

# %% [markdown]
# ## Question 10.4 - Why does a small beta move DPO so far?
#
# In lesson 10, DPO with $\beta = 0.1$ ended further from the SFT model (in KL)
# than DPO with $\beta = 0.5$, after the same number of steps. In RL, $\beta$ is the weight of
# a KL penalty. (a) Where is the KL in the DPO loss, and what does $\beta$ actually scale there?
# (b) Why can the KL of DPO's policy on its *own samples* grow even though the loss only looks
# at the comparisons' responses?
#
# <!-- BEGIN SOLUTION -->
# (a) Nowhere explicitly: the KL is only in the derivation, which assumes that the policy is the
# exact optimum $\pi^*$ for some reward. In the loss, $\beta$ scales the log-ratios into a margin,
# $\beta\,[\Delta_c - \Delta_r]$. To reach the same margin (the same loss), a small $\beta$ needs
# log-ratios $1/\beta$ times larger, so the policy's log-probabilities move that much more from the
# reference. And with a finite set of comparisons the loss keeps falling as the margins grow: a
# response that wins every comparison it appears in (lesson 10, section 1) has its log-ratio pushed
# up without end, so only the number of steps stops it. (b) The loss pushes the rejected responses'
# probability down and the chosen ones' up, but it never says where the mass taken from a rejected
# response goes: it can go to responses no comparison contains, which the policy then samples. The
# KL is measured on those samples, which DPO never sees; RL, which samples its own responses and
# pays $\beta \log(\pi_\theta/\pi_\text{ref})$ on each, does see them.
# <!-- END SOLUTION -->
