# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/04_policy_gradient.ipynb)
#
# # Lesson 04 - The policy gradient, checked against the exact gradient
#
# > *The catch is that you cannot optimize $J(\theta)$ the way you optimized
# > $\mathcal{L}_\text{SFT}$. The reward depends on a sampled response, and sampling is not
# > differentiable - there is no gradient flowing from the score back through the discrete
# > choice of token to the weights that made it. Getting a usable gradient out of that
# > expectation is the entire problem, and the trick that solves it, the policy gradient, is
# > where this series goes next.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# **In this lesson you will**
# 1. see in code that no gradient flows through sampling;
# 2. derive the log-derivative trick, which turns $\nabla_\theta J(\theta)$ into an expectation
#    we *can* sample;
# 3. build the REINFORCE estimator and check it against the exact gradient of the tiny policy
#    of lesson 03;
# 4. measure its variance with no baseline, the batch-mean baseline and the leave-one-out
#    baseline, and see why a baseline adds no bias;
# 5. cut the variance again with reward-to-go, and play with all of it in the **EstimatorLab**.

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

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import course_lib
from course_lib import claims, mdp
from course_lib import world as W
from course_lib.policy_gradient import (
    compute_baseline,
    reinforce_estimates,
    reinforce_loss,
    rewards_to_go,
)
from course_lib.sampling import sample
from course_lib.widgets import EstimatorLab

course_lib.set_seed(0)
model, tokenizer = course_lib.load_base_model()

# %% [markdown]
# ## 1. No gradient flows through sampling
#
# Take the course model, the prompt `"a + b ="` of lesson 03, and its logits, which *do* carry a
# gradient. Draw the next token from them. The token is an integer index: it has no `grad_fn`,
# and nothing connects it back to $\theta$.

# %%
a, b = W.addition_problems("test")[5]
prompt, answer = f"{a} + {b} =", str(a + b)
ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(model.device)
logits = model(input_ids=ids).logits[0, -1]  # (V,), depends on theta
probs = F.softmax(logits, dim=-1)
token = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(0))
print("logits.grad_fn:", logits.grad_fn)
print("probs.grad_fn: ", probs.grad_fn)
print(f"sampled token {tokenizer.convert_ids_to_tokens(int(token))!r}: dtype {token.dtype}, "
      f"grad_fn {token.grad_fn}, requires_grad {token.requires_grad}")
assert logits.grad_fn is not None and token.grad_fn is None and not token.requires_grad

# %% [markdown]
# Worse: the reward of a sampled response is **flat** in $\theta$ almost everywhere. Nudge
# every weight of the model by a tiny random amount and sample again with the same random seed:
# the same tokens come out, so the same reward. Its derivative along that direction is zero,
# although the *expected* reward did change.

# %%
def reward_of_sample(m, seed: int) -> tuple[str, float]:
    r = sample(m, tokenizer, [prompt], max_new_tokens=4,
               generator=torch.Generator().manual_seed(seed))
    return r.texts[0], float(W.parse_response(r.texts[0]).answer == answer)


nudged = copy.deepcopy(model)
with torch.no_grad():
    g = torch.Generator().manual_seed(1)
    for p in nudged.parameters():
        p.add_(1e-4 * torch.randn(p.shape, generator=g).to(p.device))
unchanged = 0
for seed in range(10):
    before, after = reward_of_sample(model, seed), reward_of_sample(nudged, seed)
    unchanged += before == after
print(f"same response and reward after nudging theta: {unchanged} of 10 seeds")
assert unchanged == 10

# %% [markdown]
# The same on the tiny policy of lesson 03, where we can also compute $J(\theta)$ exactly. Move
# one logit by $\epsilon$: the exact $J$ moves, the reward of a fixed-seed sample does not. A
# finite difference of sampled rewards gives 0; the true derivative is not 0.

# %%
tiny = mdp.TinyPolicy(seed=0)
env = mdp.tiny_task(tiny)
eps, coord = 1e-3, (3, 0)  # the logit of "a" at the start


def fixed_seed_return(policy) -> float:
    ids, mask = policy.sample(1, torch.Generator().manual_seed(3))
    return float(mdp.step_rewards(env, "", ids, mask).sum())


J0, G0 = float(mdp.exact_objective(tiny, env).detach()), fixed_seed_return(tiny)
with torch.no_grad():
    tiny.theta[coord] += eps
J1, G1 = float(mdp.exact_objective(tiny, env).detach()), fixed_seed_return(tiny)
with torch.no_grad():
    tiny.theta[coord] -= eps
print(f"exact J:           ({J1:.6f} - {J0:.6f}) / eps = {(J1 - J0) / eps:+.4f}")
print(f"a sampled return:  ({G1} - {G0}) / eps = {(G1 - G0) / eps:+.4f}")
assert G1 == G0 and abs(J1 - J0) > 1e-5

# %% [markdown]
# ## 2. The log-derivative trick
#
# Write the expectation as a sum over responses and differentiate. The reward $r(x, y)$ does
# not depend on $\theta$; only the probabilities do:
#
# $$\nabla_\theta J(\theta) = \nabla_\theta \sum_y \pi_\theta(y \mid x)\, r(x, y)
#   = \sum_y \nabla_\theta \pi_\theta(y \mid x)\, r(x, y).$$
#
# This is a sum we cannot sample: $\nabla_\theta \pi_\theta$ is not a distribution. The trick is
# one line of calculus, $\nabla \pi = \pi \, \nabla \log \pi$:
#
# $$\nabla_\theta J(\theta) = \sum_y \pi_\theta(y \mid x)\, \nabla_\theta \log \pi_\theta(y \mid x)\,
#   r(x, y) = \mathbb{E}_{y \sim \pi_\theta(\cdot \mid x)}\Big[r(x, y)\, \nabla_\theta \log
#   \pi_\theta(y \mid x)\Big].$$
#
# Now it is an expectation over the policy's own samples again, and
# $\log \pi_\theta(y \mid x) = \sum_t \log \pi_\theta(y_t \mid x, y_{<t})$ is differentiable:
# it is the same sum of log-probabilities as $-\mathcal{L}_\text{SFT}$, on the model's *own*
# response. Averaging over $B$ samples gives the **REINFORCE** estimator
#
# $$\hat g = \frac{1}{B} \sum_{i=1}^{B} r(x, y_i) \sum_t \nabla_\theta \log \pi_\theta(y_{i,t}
#   \mid x, y_{i,<t}), \qquad y_i \sim \pi_\theta(\cdot \mid x).$$
#
# In code we never write $\hat g$ by hand: `reinforce_loss` builds the surrogate loss
# $-\frac{1}{B} \sum_i r_i \sum_t \log \pi_\theta(y_{i,t} \mid \dots)$, with the rewards as
# constants, whose gradient is $-\hat g$. Minimizing it climbs $J$.
#
# ## 3. REINFORCE vs the exact gradient
#
# Lesson 03 computed $J(\theta)$ of the tiny policy as a sum of 40 terms; autograd
# differentiates that sum exactly. Then draw $N = 20{,}000$ responses, compute their
# log-probabilities *with* gradient, and differentiate `reinforce_loss`.

# %%
exact = mdp.exact_gradient(tiny, env).flatten()  # (16,) the true grad J
N = 20_000
ids, mask = tiny.sample(N, torch.Generator().manual_seed(0))  # (N, H) the policy's samples
step_r = mdp.step_rewards(env, "", ids, mask)  # (N, H)
returns = step_r.sum(dim=1)  # (N,) r(x, y_i)
logprobs = tiny.token_logprobs(ids, mask)  # (N, H) log pi(y_t | ...), with gradient
loss = reinforce_loss(logprobs, returns, mask)
(grad,) = torch.autograd.grad(loss, tiny.theta)
estimate = -grad.flatten()
print("exact grad J:", [round(x, 3) for x in exact.tolist()])
print("REINFORCE:   ", [round(x, 3) for x in estimate.tolist()])

# %% [markdown]
# How close should they be? Each sample contributes $g_i = (r_i - b) \nabla_\theta \log
# \pi_\theta(y_i)$, and $\hat g$ is their mean, so each coordinate has a standard error
# $\mathrm{std}(g_i)/\sqrt{N}$. `mdp.token_scores` gives every token's
# $\nabla_\theta \log \pi_\theta(y_t \mid \dots)$ (forward-mode autograd: $\theta$ has only 16
# numbers). The check, for no baseline and for both baselines: cosine similarity with the exact
# gradient at least 0.99, and every coordinate within 4 standard errors.

# %%
scores = mdp.token_scores(tiny, ids, mask)  # (N, H, 16)
seq_scores = scores.sum(dim=1)  # (N, 16) grad log pi(y_i)


def check_estimate(baseline) -> dict:
    loss = reinforce_loss(tiny.token_logprobs(ids, mask), returns, mask, baseline)
    (grad,) = torch.autograd.grad(loss, tiny.theta)
    est = -grad.flatten()
    per_sample = (returns - compute_baseline(returns, baseline))[:, None] * seq_scores  # (N, 16)
    assert torch.allclose(per_sample.mean(0), est, atol=1e-10)  # the same estimate
    se = per_sample.std(0) / N ** 0.5
    z = ((est - exact).abs() / se.clamp(min=1e-12)).max()
    cos = F.cosine_similarity(est, exact, dim=0)
    return dict(estimate=est, se=se, cos=float(cos), max_z=float(z),
                variance=float(per_sample.var(0).sum()))


checks = {name: check_estimate(b) for name, b in
          (("no baseline", None), ("batch mean", "mean"), ("leave-one-out", "loo"))}
for name, c in checks.items():
    print(f"{name:>14}: cosine {c['cos']:.5f}, largest gap {c['max_z']:.2f} standard errors, "
          f"per-sample variance (trace) {c['variance']:.3f}")
    assert c["cos"] >= 0.99 and c["max_z"] <= 4
claims.check("policy_gradient", min(c["cos"] for c in checks.values()))

# %%
fig, ax = plt.subplots(figsize=(7, 3))
x = torch.arange(len(exact))
c = checks["no baseline"]
ax.bar(x, exact.tolist(), color="#d1d5db", label="exact gradient (enumeration)")
ax.errorbar(x, c["estimate"].tolist(), yerr=(4 * c["se"]).tolist(), fmt="o", color="#dc2626",
            capsize=3, label=f"REINFORCE, N = {N:,}, +- 4 standard errors")
ax.set_xlabel("coordinate of theta (context row x action)")
ax.set_ylabel("dJ / d theta")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 4. Variance, and baselines
#
# The estimate is right *on average*, but one batch of a realistic size is noisy. Cut the
# $N = 20{,}000$ samples into batches of $n = 16$ and look at the spread of the 1,250 estimates
# (the sum of the variances of the 16 coordinates: the "total variance").
#
# A **baseline** $b$ subtracts a number from each reward:
# $\hat g = \frac{1}{n} \sum_i (r_i - b_i) \nabla_\theta \log \pi_\theta(y_i)$. Our rewards are
# never negative and mostly positive (mean $J \approx 2.3$): without a baseline every sampled
# response with a reward is pushed up, and only the amounts differ. With $b \approx J$, better-than-average responses are pushed up
# and worse ones down, which is the same signal with much less noise.
#
# - **batch mean**: $b = \frac{1}{n} \sum_j r_j$;
# - **leave-one-out**: $b_i = \frac{1}{n - 1} \sum_{j \ne i} r_j$, the mean of the *other* samples.

# %%
batch = 16
variance = {}
for name, b in (("no baseline", None), ("batch mean", "mean"), ("leave-one-out", "loo")):
    est = reinforce_estimates(scores, step_r, mask, batch, b)  # (1250, 16) one row per batch
    variance[name] = float(est.var(dim=0).sum())
    print(f"{name:>14}: total variance of a {batch}-sample estimate {variance[name]:.4f}")
cut_mean = variance["no baseline"] / variance["batch mean"]
cut_loo = variance["no baseline"] / variance["leave-one-out"]
print(f"the batch mean cuts the variance {cut_mean:.1f}x, leave-one-out {cut_loo:.1f}x")
assert cut_mean >= 2 and cut_loo >= 2

# %% [markdown]
# ### Why a baseline adds no bias
#
# For a baseline that does not depend on the sample $y$,
#
# $$\mathbb{E}_{y \sim \pi_\theta}\big[b\, \nabla_\theta \log \pi_\theta(y)\big]
#   = b \sum_y \pi_\theta(y) \frac{\nabla_\theta \pi_\theta(y)}{\pi_\theta(y)}
#   = b\, \nabla_\theta \sum_y \pi_\theta(y) = b\, \nabla_\theta 1 = 0.$$
#
# The expected score is zero: we can check it exactly, on all 40 responses of the tiny policy.

# %%
all_ids, all_mask = mdp.enumerate_sequences(tiny)
all_probs = tiny.sequence_logprobs(all_ids, all_mask).exp().detach()  # (40,)
all_scores = mdp.token_scores(tiny, all_ids, all_mask).sum(dim=1)  # (40, 16)
expected_score = (all_probs[:, None] * all_scores).sum(dim=0)
print(f"|E[grad log pi(y)]| = {float(expected_score.norm()):.2e} (while |grad J| = "
      f"{float(exact.norm()):.3f})")
assert float(expected_score.norm()) < 1e-10

# %% [markdown]
# That is why the baseline must be a constant *for the gradient*: detach it. It must also not
# depend on the sample it is subtracted from. The batch mean breaks that a little: it contains
# $r_i$ itself, which shrinks the estimate by a factor $(n-1)/n$. Leave-one-out excludes $r_i$
# and is exactly unbiased. At $n = 2$ the difference is plain to see: project each estimate on
# the exact gradient and compare the mean with the exact value.

# %%
unit = exact / exact.norm()
for name, b in (("batch mean", "mean"), ("leave-one-out", "loo")):
    proj = reinforce_estimates(scores, step_r, mask, 2, b) @ unit  # (10000,)
    se = float(proj.std()) / len(proj) ** 0.5
    print(f"n = 2, {name:>13}: mean projection {float(proj.mean()):.4f} +- {se:.4f}, "
          f"exact {float(exact.norm()):.4f} (ratio {float(proj.mean() / exact.norm()):.2f})")
shrunk = float((reinforce_estimates(scores, step_r, mask, 2, "mean") @ unit).mean())
assert abs(shrunk / float(exact.norm()) - 0.5) < 0.1

# %% [markdown]
# ## 5. Reward-to-go
#
# With per-step rewards, the action at step $t$ cannot change the rewards that came *before*
# it. So weight each token by the rewards from $t$ on only, the **reward-to-go**
# $G_t = \sum_{t' \ge t} r_{t'}$:
#
# $$\hat g = \frac{1}{n} \sum_i \sum_t G_{i,t}\, \nabla_\theta \log \pi_\theta(y_{i,t} \mid x,
#   y_{i,<t}).$$
#
# The dropped terms have expectation zero (the same argument as for the baseline), so it is still
# unbiased; they were pure noise. We need the task's per-step form (lesson 03): +1 when "a" is
# said, the finishing bonus at the end.

# %%
process_env = mdp.tiny_task(tiny, per_step=True)
step_p = mdp.step_rewards(process_env, "", ids, mask)  # (N, H) per-step rewards
print("per-step rewards of the first 3 samples:", step_p[:3].tolist())
print("their rewards-to-go:                    ", rewards_to_go(step_p, mask)[:3].tolist())
to_go = {}
for name, b in (("no baseline", None), ("leave-one-out", "loo")):
    est = reinforce_estimates(scores, step_p, mask, batch, b, reward_to_go=True)
    to_go[name] = float(est.var(dim=0).sum())
    print(f"{name:>14} + reward-to-go: total variance {to_go[name]:.4f} "
          f"(whole return: {variance[name]:.4f})")
loss = reinforce_loss(tiny.token_logprobs(ids, mask), rewards_to_go(step_p, mask), mask, "loo")
(grad,) = torch.autograd.grad(loss, tiny.theta)
cos_to_go = float(F.cosine_similarity(-grad.flatten(), exact, dim=0))
print(f"reward-to-go with leave-one-out, N = {N:,}: cosine with the exact gradient "
      f"{cos_to_go:.5f}")
assert to_go["no baseline"] < variance["no baseline"] and cos_to_go >= 0.99

# %% [markdown]
# ## 6. The EstimatorLab
#
# Each histogram holds many independent REINFORCE estimates (projected on the exact gradient's
# direction); the black line is the exact value. Move the number of samples per estimate, the
# baseline and reward-to-go. Things to look for: the spread shrinks like $1/\sqrt{n}$; the
# baselines narrow it a lot; at small $n$ the batch mean sits visibly left of the black line
# while leave-one-out stays centred.

# %%
lab = EstimatorLab(tiny, process_env, n_samples=16, baseline="none", n_batches=2000, seed=0)
lab

# %% [markdown]
# The same three settings, measured in code:

# %%
lab_stats = {b: lab.set(n_samples=16, baseline=b) for b in ("none", "mean", "loo")}
for b, s in lab_stats.items():
    print(f"{b:>5}: mean {s['mean']:+.4f} (exact {s['exact']:+.4f}), std {s['std']:.4f}")
assert lab_stats["loo"]["std"] < lab_stats["none"]["std"] / 2 ** 0.5

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
nb = checks["no baseline"]
print(f"""- A sampled token has no grad_fn, and nudging every weight by 1e-4 left the sampled
  response and its reward unchanged for {unchanged} of 10 seeds: a sampled reward is flat in theta.
- The log-derivative trick turns grad J into E[r * grad log pi]. With N = {N:,} samples the
  REINFORCE estimate had cosine {nb['cos']:.4f} with the exact gradient and every coordinate
  within {nb['max_z']:.1f} standard errors; with the batch-mean baseline cosine
  {checks['batch mean']['cos']:.4f}, with leave-one-out {checks['leave-one-out']['cos']:.4f}.
- On batches of {batch}, the batch-mean baseline cut the total variance {cut_mean:.1f}x and
  leave-one-out {cut_loo:.1f}x; the expected score E[grad log pi] was
  {float(expected_score.norm()):.0e}, which is why a baseline adds no bias.
- At n = 2 the batch mean shrank the estimate to {shrunk / float(exact.norm()):.2f} of the exact
  gradient (it contains the sample itself); leave-one-out did not.
- Reward-to-go cut the variance of the no-baseline estimate from {variance['no baseline']:.4f} to
  {to_go['no baseline']:.4f}.""")

# %% [markdown]
# Next: **lesson 05** puts `reinforce_loss` in a training loop on the course model: sample,
# score, compute the loss, step. Addition accuracy climbs; with the honesty reward, hedging
# becomes a learned strategy.
