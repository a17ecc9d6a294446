# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/08_ppo.ipynb)
#
# # Lesson 08 - PPO: learning more from each sample, safely
#
# > *State, action, transition, reward: this is exactly a Markov decision process, and a
# > language model is exactly a policy $\pi_\theta(y_t \mid x, y_{<t})$ over it. That
# > correspondence is what makes the whole apparatus of RL available to language modeling.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# The apparatus that practitioners actually run is **PPO** (InstructGPT, TRL, most RLHF
# pipelines) and its critic-free cousins such as GRPO. Lesson 05's REINFORCE samples a batch,
# takes *one* gradient step and throws the batch away. Sampling is the expensive part of RL on
# a language model, so PPO reuses each batch for several epochs of updates, and clips the update
# so that reusing it stays safe.
#
# The questions people ask most about PPO in TRL's and open-r1's issue trackers have answers
# we can *measure* here, because the tiny policy of lessons 03-04 gives exact gradients and
# exact KL divergences, and the course's language model trains in seconds:
# "why does the loss start at 0 and then increase?" (trl #2703, open-r1 #239), "why is my KL
# negative?" (trl #2854, #925), "why a critic?" (simpleRL-reason #22).
#
# **In this lesson you will**
# 1. see that after one step a batch is *off-policy*: re-using it naively biases the gradient,
#    the importance ratio removes the bias (checked against the exact gradient), at a price in
#    variance that grows with the distance between the policies;
# 2. run several epochs on one batch with and without **clipping**, and watch the exact KL to
#    the sampling policy;
# 3. see that **the loss is not the objective**: the PPO loss starts every batch near 0 while
#    $J(\theta)$ climbs, and a KL term in the loss makes it *rise*;
# 4. train the language model on sums with PPO, with a **critic** (a value head and GAE) and
#    with lesson 05's **group** baseline, and read the telemetry PPO users watch;
# 5. count the **generated samples** PPO and REINFORCE need to reach 0.9 held-out accuracy;
# 6. compare the three **KL estimators** k1, k2, k3 with the exact KL, on the tiny policy and on
#    the language model.

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
import inspect
import random

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import HTML, display

import course_lib
from course_lib import claims, mdp
from course_lib import rewards as R
from course_lib import world as W
from course_lib.evaluation import addition_accuracy
from course_lib.plots import html_table
from course_lib.policy_gradient import ReinforceConfig, train_reinforce
from course_lib.ppo import (
    PPOConfig,
    ValueHead,
    clip_fraction,
    clipped_surrogate_loss,
    gae,
    kl_estimates,
    train_ppo,
)
from course_lib.sampling import sample
from course_lib.widgets import TrainingMonitor

course_lib.set_seed(0)

# %% [markdown]
# ## 1. Reusing a batch
#
# Lesson 04's estimator needs samples *of the policy being improved*:
# $\nabla_\theta J(\theta) = \mathbb{E}_{y \sim \pi_\theta}\big[A(y)\, \nabla_\theta \log
# \pi_\theta(y \mid x)\big]$, with $A(y) = r(x, y) - b$. After one update, $\theta$ has moved,
# and the batch we hold was drawn from the old policy $\pi_\text{old}$. Multiplying and dividing
# by $\pi_\text{old}$ turns the expectation back into one over the samples we have:
#
# $$\nabla_\theta J(\theta) = \mathbb{E}_{y \sim \pi_\text{old}}\Big[w(y)\, A(y)\,
#   \nabla_\theta \log \pi_\theta(y \mid x)\Big], \qquad
#   w(y) = \frac{\pi_\theta(y \mid x)}{\pi_\text{old}(y \mid x)}
#   = \prod_t \rho_t, \quad \rho_t = \frac{\pi_\theta(y_t \mid x, y_{<t})}
#   {\pi_\text{old}(y_t \mid x, y_{<t})}.$$
#
# That is **importance sampling**. PPO uses a cheaper version: each token is weighted by its
# *own* ratio $\rho_t$ only, not by the product of all the ratios before it. That is exact at
# $\theta = \theta_\text{old}$ and a first-order approximation near it.
#
# On lesson 04's tiny policy we can check all three against the exact gradient. Take
# $\pi_\text{old}$, draw $N = 20{,}000$ responses from it, then move $\theta$ one exact
# gradient-ascent step away, and estimate $\nabla J(\theta)$ *at the new* $\theta$ from the old
# samples: naively (as if they were fresh), with the whole-response weight $w$, and with PPO's
# per-token ratios.

# %%
tiny_old = mdp.TinyPolicy(seed=0)  # pi_old: the policy that sampled the batch
env = mdp.tiny_task(tiny_old)
all_ids, all_mask = mdp.enumerate_sequences(tiny_old)  # all 40 responses
J_old = float(mdp.exact_objective(tiny_old, env).detach())
grad_old = mdp.exact_gradient(tiny_old, env)
ALPHA = 2.0  # one exact gradient-ascent step: theta <- theta_old + alpha grad J(theta_old)
tiny_new = copy.deepcopy(tiny_old)
with torch.no_grad():
    tiny_new.theta += ALPHA * grad_old
G_all = mdp.step_rewards(env, "", all_ids, all_mask).sum(1)  # (40,) the return of each


def exact_J(p: mdp.TinyPolicy) -> float:
    """J(theta) = sum_y pi_theta(y) G(y), over the 40 responses (mdp.exact_objective's sum)."""
    return float((p.sequence_logprobs(all_ids, all_mask).exp() * G_all).sum().detach())


def exact_kl(p: mdp.TinyPolicy, q: mdp.TinyPolicy) -> float:
    """KL(p || q) between the two policies' distributions over whole responses, by enumeration."""
    lp = p.sequence_logprobs(all_ids, all_mask).detach()
    lq = q.sequence_logprobs(all_ids, all_mask).detach()
    return float((lp.exp() * (lp - lq)).sum())


J_new = exact_J(tiny_new)
assert abs(exact_J(tiny_old) - J_old) < 1e-12
step_kl = exact_kl(tiny_new, tiny_old)
print(f"J(theta_old) = {J_old:.4f}; after one step of alpha = {ALPHA}: J(theta) = {J_new:.4f}, "
      f"KL(pi_theta || pi_old) = {step_kl:.4f}")

# %% [markdown]
# Each estimate is a mean of one contribution per sample, so each coordinate has a standard
# error, as in lesson 04. `mdp.token_scores` gives $\nabla_\theta \log \pi_\theta(y_t \mid
# \cdot)$ of every token at the new $\theta$. The baseline is the exact $J(\theta_\text{old})$,
# a constant. The cell also checks that the per-token row is exactly the gradient of
# `ppo.clipped_surrogate_loss` with clipping switched off, up to its normalization (it averages
# over tokens).

# %%
N = 20_000
ids, mask = tiny_old.sample(N, torch.Generator().manual_seed(0))  # the old batch
G = mdp.step_rewards(env, "", ids, mask).sum(dim=1)  # (N,) returns
A = G - J_old  # (N,) advantages
lp_old = tiny_old.token_logprobs(ids, mask).detach()  # (N, H)
lp_new = tiny_new.token_logprobs(ids, mask).detach()  # (N, H)
scores = mdp.token_scores(tiny_new, ids, mask)  # (N, H, 16): grad log pi_theta(y_t | y_t-1)
w = (lp_new.sum(1) - lp_old.sum(1)).exp()  # (N,) pi_theta(y) / pi_old(y)
rho = (lp_new - lp_old).exp() * mask  # (N, H) per-token ratios
per_sample = {  # each row: one sample's contribution; the estimate is their mean
    "naive re-use": A[:, None] * scores.sum(1),
    "importance-weighted (whole response)": (w * A)[:, None] * scores.sum(1),
    "per-token ratio (PPO's surrogate)": (A[:, None, None] * rho[..., None] * scores).sum(1),
}
exact_new = mdp.exact_gradient(tiny_new, env).flatten()  # (16,) the true grad J(theta)

theta_lp = tiny_new.token_logprobs(ids, mask)  # with gradient
surrogate = clipped_surrogate_loss(theta_lp, lp_old, A, mask, clip_eps=float("inf"))
(g_surrogate,) = torch.autograd.grad(surrogate, tiny_new.theta)
assert torch.allclose(-g_surrogate.flatten() * mask.sum() / N,
                      per_sample["per-token ratio (PPO's surrogate)"].mean(0))

reuse = {}
for name, v in per_sample.items():
    est, se = v.mean(0), v.std(0) / N ** 0.5
    reuse[name] = {"cosine with exact": float(F.cosine_similarity(est, exact_new, dim=0)),
                   "largest gap (standard errors)": float(((est - exact_new).abs() / se).max()),
                   "variance (trace)": float(v.var(0).sum())}
display(HTML(html_table(reuse, digits=4,
                        index_name=f"grad J(theta) from pi_old's {N:,} samples")))
naive, iw, per_token = reuse.values()
assert iw["cosine with exact"] >= 0.99 and iw["largest gap (standard errors)"] <= 4, iw
assert naive["largest gap (standard errors)"] > 8, naive
claims.check("importance_ratio", iw["cosine with exact"])

# %% [markdown]
# The weighted estimate lands on the exact gradient within a few standard errors. The naive
# one points almost the same way (a cosine close to 1) but misses by many standard errors: with
# 20,000 samples its bias is plain to see, although the step moved the policy only a little
# (the KL printed above). PPO's per-token ratio removes part of the bias, not all of it: it
# ignores that the *states* $y_{<t}$ were also visited with the old policy's probabilities.
# The smaller the step, the smaller what it ignores; clipping (section 2) keeps steps small.
#
# What does the weight cost? Its second moment $\mathbb{E}_\text{old}[w^2]$ says how unevenly
# the samples count ($N / \mathbb{E}[w^2]$ is the usual *effective sample size*). By enumeration
# we can compute it exactly, and the exact variance of one re-used sample's contribution
# against one *fresh* sample of $\pi_\theta$, for policies ever further from $\pi_\text{old}$:
# along the gradient, and along six random directions of the same length.

# %%
probs_old = tiny_old.sequence_logprobs(all_ids, all_mask).exp().detach()  # (40,)


def reuse_variance(direction: torch.Tensor, alpha: float) -> dict[str, float]:
    """Exactly, by enumeration: how far theta_old + alpha * direction is from pi_old, E_old[w^2],
    and the variance of one weighted sample of pi_old relative to one fresh sample of pi_theta."""
    p = copy.deepcopy(tiny_old)
    with torch.no_grad():
        p.theta += alpha * direction
    lp = p.sequence_logprobs(all_ids, all_mask).detach()
    probs = lp.exp()
    s2 = (mdp.token_scores(p, all_ids, all_mask).sum(1) ** 2).sum(1)  # (40,) |grad log pi|^2
    g2 = float((mdp.exact_gradient(p, env) ** 2).sum())
    weight = probs / probs_old
    var_reuse = float((probs_old * (weight * (G_all - J_old)) ** 2 * s2).sum()) - g2
    var_fresh = float((probs * (G_all - J_old) ** 2 * s2).sum()) - g2
    return {"kl": float((probs * (lp - probs_old.log())).sum()),
            "E[w^2]": float((probs_old * weight ** 2).sum()),
            "variance ratio": var_reuse / var_fresh}


alphas = [0.5, 1, 2, 4, 8, 16]
gen = torch.Generator().manual_seed(1)
directions = {"along grad J": grad_old}
for k in range(6):
    d = torch.randn(grad_old.shape, generator=gen, dtype=torch.float64)
    directions[f"random {k}"] = d / d.norm() * grad_old.norm()
sweep = {name: [reuse_variance(d, a) for a in alphas] for name, d in directions.items()}
for name, rows in sweep.items():  # the weights spread further with every step out
    assert all(b["E[w^2]"] > a["E[w^2]"] for a, b in zip(rows, rows[1:])), name
random_far = [rows[-1]["variance ratio"] for name, rows in sweep.items() if name != "along grad J"]
grew = sum(r > 2 for r in random_far)
grad_far = sweep["along grad J"][-1]["variance ratio"]
print(f"E_old[w^2] grows with the distance in every direction. At alpha = {alphas[-1]} a re-used "
      f"sample's variance is more than twice a fresh one's in {grew} of {len(random_far)} random "
      f"directions ({min(random_far):.2f}x-{max(random_far):.2f}x), and {grad_far:.2f}x along "
      "grad J")
assert grew >= 4

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for name, rows in sweep.items():
    style = dict(color="#dc2626", lw=2, zorder=3) if name == "along grad J" else \
        dict(color="#9ca3af", lw=1)
    kls = [r["kl"] for r in rows]
    axes[0].plot(kls, [r["E[w^2]"] for r in rows], marker="o", ms=3, **style,
                 label=name if name in ("along grad J", "random 0") else None)
    axes[1].plot(kls, [r["variance ratio"] for r in rows], marker="o", ms=3, **style)
axes[0].set(xlabel="KL(pi_theta || pi_old)", ylabel="E_old[w^2]", xscale="log", yscale="log")
axes[1].axhline(1, color="black", lw=0.8)
axes[1].set(xlabel="KL(pi_theta || pi_old)", ylabel="variance: re-used / fresh sample",
            xscale="log", yscale="log")
axes[0].legend(fontsize=8, labels=["along grad J", "random directions"])
plt.show()

# %% [markdown]
# The weights spread out in every direction (left). Whether that makes the *estimate* noisier
# depends on where the large weights fall (right): in most random directions the variance of a
# re-used sample rose to several times that of a fresh one, but along the gradient it fell,
# because there $\pi_\text{old}$ still samples the responses that carry the gradient well.
# Re-use is cheap near $\pi_\text{old}$ and a gamble far from it: one more reason to stay near.
#
# ## 2. Why clip
#
# PPO maximizes the per-token surrogate over several epochs of the same batch, and clips it:
#
# $$L^\text{CLIP}(\theta) = -\frac{1}{\sum_{i,t} m_{it}} \sum_{i,t} m_{it}\,
#   \min\big(\rho_{it} A_{it},\ \mathrm{clip}(\rho_{it}, 1 - \epsilon, 1 + \epsilon)\, A_{it}\big).$$
#
# For a token with $A > 0$, raising its probability pays only until $\rho = 1 + \epsilon$;
# for $A < 0$, lowering it pays only until $\rho = 1 - \epsilon$. Past that point the token's
# gradient is zero. The `min` makes the bound pessimistic: a move that *hurts* the surrogate is
# never clipped away. Here is the library's function, the one `train_ppo` calls:

# %%
print(inspect.getsource(clipped_surrogate_loss))

# %% [markdown]
# Now the experiment: one batch of 16 responses of $\pi_\text{old}$, 30 Adam steps on it, once
# with $\epsilon = \infty$ (no clipping) and once with $\epsilon = 0.2$, on the same 10 batches.
# After every epoch, the exact KL to the sampling policy and the exact $J(\theta)$; and the clip
# fraction, the share of tokens whose ratio left $[0.8, 1.2]$.

# %%
def reuse_batch(n: int, epochs: int, clip_eps: float, seed: int, lr: float = 0.1) -> dict:
    """`epochs` Adam steps of L_CLIP on one batch of n samples of pi_old; after each, the exact
    KL(pi_theta || pi_old) and J(theta), and the clip fraction of the step."""
    policy = copy.deepcopy(tiny_old)
    ids, mask = policy.sample(n, torch.Generator().manual_seed(seed))
    G = mdp.step_rewards(env, "", ids, mask).sum(1)
    A = G - G.mean()
    old = policy.token_logprobs(ids, mask).detach()
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    out = {"kl": [], "J": [], "clip_frac": []}
    for _ in range(epochs):
        logprobs = policy.token_logprobs(ids, mask)
        loss = clipped_surrogate_loss(logprobs, old, A, mask, clip_eps)
        out["clip_frac"].append(clip_fraction(logprobs, old, mask, 0.2))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out["kl"].append(exact_kl(policy, tiny_old))
        out["J"].append(exact_J(policy))
    return out


EPOCHS, BATCH, SEEDS = 30, 16, range(10)
runs = {name: [reuse_batch(BATCH, EPOCHS, eps, s) for s in SEEDS]
        for name, eps in (("no clipping", float("inf")), ("clipped, eps = 0.2", 0.2))}
mean_curve = {name: {k: torch.tensor([r[k] for r in rs]).mean(0)
                     for k in ("kl", "J", "clip_frac")} for name, rs in runs.items()}
kl_free, kl_clip = (float(mean_curve[n]["kl"][-1]) for n in runs)
J_free, J_clip = (float(mean_curve[n]["J"][-1]) for n in runs)
per_batch_ratio = [a["kl"][-1] / b["kl"][-1] for a, b in zip(*runs.values())]
print(f"after {EPOCHS} epochs on the same {len(SEEDS)} batches: KL to pi_old {kl_free:.3f} "
      f"without clipping, {kl_clip:.3f} with ({kl_free / kl_clip:.1f}x; batch by batch "
      f"{min(per_batch_ratio):.1f}x-{max(per_batch_ratio):.1f}x); J {J_free:.3f} without, "
      f"{J_clip:.3f} with (J(theta_old) = {J_old:.3f})")
assert kl_free >= 3 * kl_clip and min(per_batch_ratio) > 1.5, per_batch_ratio

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
x = range(1, EPOCHS + 1)
for name, c in mean_curve.items():
    axes[0].plot(x, c["kl"], label=name)
    axes[1].plot(x, c["J"], label=name)
axes[2].plot(x, mean_curve["clipped, eps = 0.2"]["clip_frac"], color="#dc2626")
axes[0].set(xlabel="epoch on the same batch", ylabel="KL(pi_theta || pi_old), exact")
axes[1].axhline(J_old, color="black", lw=0.8)
axes[1].set(xlabel="epoch on the same batch", ylabel="J(theta), exact")
axes[2].set(xlabel="epoch on the same batch", ylabel="clip fraction (clipped run)", ylim=(0, 1))
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# Without clipping, every epoch pushes the policy further from the one that sampled: the KL
# grows and shows no sign of stopping, because the batch's advantages keep saying "more". With
# clipping it levels off once most tokens are clipped (right panel): from there on only the
# tokens still inside the band have a gradient. (It does not stop dead: Adam's momentum carries
# on for a while.) Here the unclipped policy also reached a higher $J$: this task's advantages
# point the right way even from 16 samples. What it bought that with is a policy far from the
# samples its update was computed from, where section 1 showed the estimates losing their
# footing. Clipping is a leash on exactly that distance.
#
# ## 3. The loss is not the objective
#
# A frequent question (trl #2703, open-r1 #239): *"the loss starts at 0 and then increases, is
# training broken?"* At the start of every batch $\theta = \theta_\text{old}$, so every
# $\rho_t = 1$ and $L^\text{CLIP} = -\frac{1}{\sum m} \sum_{i,t} m_{it} A_i$: minus the mean
# advantage over the batch's tokens. Advantages are centred (here $A_i = G_i - \bar G$), so
# that is about 0, whatever $J(\theta)$ is. It is 0 only *about*, because long responses count
# more tokens. The loss is a tool whose gradient is right, not a measure of how good the
# policy is.
#
# Below, PPO on the tiny policy: batches of 64, 4 epochs of 4 minibatches, $\epsilon = 0.2$.
# We record the loss of every minibatch, the loss at each batch's start, and the exact $J$.
# Then the same with a KL penalty to the starting policy *in the loss*, as GRPO does
# ($\beta = 0.5$, the k3 estimator of section 6, per token).

# %%
def tiny_ppo(iterations: int, beta: float = 0.0, seed: int = 0) -> dict:
    """PPO on the tiny policy: batches of 64, 4 epochs x 4 minibatches, eps 0.2. With beta > 0 a
    KL penalty to the starting policy joins the *loss* (k3 per token), as in GRPO. Logs the loss
    of every minibatch, and at each batch's start (theta = theta_old, the whole batch) its two
    parts: the surrogate and beta * KL."""
    policy, ref = copy.deepcopy(tiny_old), copy.deepcopy(tiny_old)
    opt = torch.optim.Adam(policy.parameters(), lr=0.03)
    g = torch.Generator().manual_seed(seed)
    log = {"loss": [], "start_surrogate": [], "start_kl_term": [], "minus_mean_A": [], "J": []}
    for _ in range(iterations):
        ids, mask = policy.sample(64, g)
        G = mdp.step_rewards(env, "", ids, mask).sum(1)
        A = G - G.mean()  # centred over the batch
        old = policy.token_logprobs(ids, mask).detach()
        ref_lp = ref.token_logprobs(ids, mask).detach()
        with torch.no_grad():  # the loss at the batch's start, in its two parts
            log["start_surrogate"].append(clipped_surrogate_loss(old, old, A, mask).item())
            k3 = kl_estimates(old, ref_lp)["k3"]
            log["start_kl_term"].append(beta * float((k3 * mask).sum() / mask.sum()))
            log["minus_mean_A"].append(float(-(A[:, None] * mask).sum() / mask.sum()))
        for _epoch in range(4):
            for rows in torch.randperm(64, generator=g).chunk(4):
                logprobs = policy.token_logprobs(ids[rows], mask[rows])
                loss = clipped_surrogate_loss(logprobs, old[rows], A[rows], mask[rows])
                if beta:
                    k3 = kl_estimates(logprobs, ref_lp[rows])["k3"]
                    loss = loss + beta * (k3 * mask[rows]).sum() / mask[rows].sum()
                log["loss"].append(loss.item())
                opt.zero_grad()
                loss.backward()
                opt.step()
        log["J"].append(exact_J(policy))
    log["policy"] = policy
    return log


ppo_log, grpo_log = tiny_ppo(30), tiny_ppo(30, beta=0.5)
start = torch.tensor(ppo_log["start_surrogate"])
assert torch.allclose(start, torch.tensor(ppo_log["minus_mean_A"]), atol=1e-10)
J_rise = ppo_log["J"][-1] - J_old
print(f"PPO: J {J_old:.3f} -> {ppo_log['J'][-1]:.3f} over {len(start)} batches; the loss at a "
      f"batch's start {start.mean():+.3f} on average (from {start.min():+.3f} to "
      f"{start.max():+.3f}), always equal to minus the token-mean advantage")
kl_term = torch.tensor(grpo_log["start_kl_term"])
grpo_surrogate = torch.tensor(grpo_log["start_surrogate"])
print(f"KL in the loss: its term at the start of the first 5 batches {kl_term[:5].mean():.3f}, "
      f"of the last 5 {kl_term[-5:].mean():.3f}; the surrogate part {grpo_surrogate.mean():+.3f} "
      f"on average; J {J_old:.3f} -> {grpo_log['J'][-1]:.3f}")
assert abs(float(start.mean())) < 0.1 * J_rise and J_rise > 0.5
assert float(kl_term[-5:].mean()) > 3 * float(kl_term[:5].mean())
assert grpo_log["J"][-1] > J_old + 0.3

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
ax = axes[0]
ax.plot([i / 16 for i in range(len(ppo_log["loss"]))], ppo_log["loss"], color="#9ca3af", lw=0.8,
        label="loss, every minibatch")
ax.plot(range(len(start)), start, "o", ms=3, color="#2563eb", label="loss at each batch's start")
ax.axhline(0, color="black", lw=0.6)
ax.set(xlabel="batch", ylabel="loss", title="PPO: the loss, and J")
ax.legend(fontsize=7, loc="lower left")
twin = ax.twinx()
twin.plot(range(1, len(ppo_log["J"]) + 1), ppo_log["J"], color="#dc2626", lw=2)
twin.set_ylabel("J(theta), exact", color="#dc2626")
ax = axes[1]
ax.plot(grpo_surrogate, "o", ms=3, color="#2563eb", label="surrogate part at the start")
ax.plot(kl_term, "s", ms=3, color="#7c3aed", label="beta * KL part at the start")
ax.plot(grpo_surrogate + kl_term, color="black", lw=1, label="the loss at the start")
ax.axhline(0, color="black", lw=0.6)
ax.set(xlabel="batch", ylabel="loss", title="GRPO-style: + beta * KL in the loss")
ax.legend(fontsize=7, loc="upper left")
twin = ax.twinx()
twin.plot(range(1, len(grpo_log["J"]) + 1), grpo_log["J"], color="#dc2626", lw=2)
twin.set_ylabel("J(theta), exact", color="#dc2626")
plt.show()

# %% [markdown]
# Left: within a batch the loss falls (the optimizer is doing its job on the surrogate), then
# the next batch starts it again near 0. The red curve, $J$, climbs the whole time, and nothing
# in the loss's level says so. Right: with the KL in the loss, the surrogate part still starts
# each batch near 0, and the KL part grows as the policy moves away from where it started. So
# the loss "starts at 0 and increases" because the KL does: that is training working, not
# failing. To see whether RL works, watch the reward (and $J$ when you can compute it), never
# the loss.
#
# ## 4. A critic or a group, on the language model
#
# Now the course's language model and lesson 05's task: sums with an exact-match reward, from
# the SFT model. `train_ppo` is the whole algorithm as one loop: sample, score, advantages,
# several epochs of minibatch updates, log. Read it top to bottom:

# %%
print(inspect.getsource(train_ppo))

# %% [markdown]
# Two ways to get the advantages:
#
# - **group** (`advantage="loo"`): lesson 05's leave-one-out baseline, the mean reward of the
#   *other* responses to the same prompt. Every token of a response gets the same advantage.
#   No extra model: this is the critic-free family (RLOO; GRPO divides by the group's spread).
# - **critic** (`advantage="gae"`): a value function $V(s_t)$ predicts the reward still to come
#   from each state $s_t = (x, y_{<t})$, and **GAE** turns its errors into per-token advantages:
#
# $$\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t), \qquad
#   A_t = \sum_{l \ge 0} (\gamma \lambda)^l \delta_{t+l},$$
#
#   with $V = 0$ after a response's last token (the episode is over). $\lambda = 1$ gives the
#   return minus $V(s_t)$; $\lambda = 0$ trusts $V$ completely. The critic learns to predict the
#   returns $A_t + V(s_t)$.

# %%
print(inspect.getsource(gae))

# %% [markdown]
# Which critic? InstructGPT and TRL train a *separate copy* of the model as the value model.
# This course puts a small head on the policy's own hidden states and trains it apart; the
# library says why:

# %%
print(inspect.getsource(ValueHead))

# %% [markdown]
# Each run logs, every batch, what PPO users learn to read: **clip_frac** (share of tokens
# whose ratio was clipped), **approx_kl** (k3 estimate of the KL between the policy after the
# batch's last epoch and the one that sampled: how far one batch moved it), **value_loss** and
# **explained_variance** ($1 - \mathrm{Var}(\text{returns} - \text{baseline}) /
# \mathrm{Var}(\text{returns})$, of the critic's values or of the group baseline: the share of
# the reward's spread the baseline accounts for; 0 is as good as subtracting one constant,
# below 0 worse), **entropy**, the **reward**, the **kl** to the SFT model, the response
# **length**.
#
# Both runs use the same settings except the advantages, and both run until they reach the
# target. Held-out accuracy is measured cheaply while they train: sampled accuracy on a fixed
# 400 of the 1,620 held-out sums every 2 batches (512 generated samples), and on all 1,620
# whenever the 400 reach 0.9; a run stops when all 1,620 do (or after `MAX_BATCHES`). The
# settings live in the next cell (to re-tune after a change of world, edit them there).

# %%
sft_model, tokenizer = course_lib.load_sft_model()  # lesson 01's model
train_sums = [W.addition_question(a, b) for a, b in W.addition_problems("train")]
heldout_pairs = W.addition_problems("test")  # all 1,620 held-out sums
subset = random.Random(0).sample(heldout_pairs, 400)  # the fixed subset checked while training
TARGET, EVAL_EVERY, MAX_BATCHES = 0.9, 2, 40  # accuracy to reach; batches between checks; cap
PPO_SETTINGS = dict(steps=100, batch_size=64, samples_per_prompt=4, epochs=2, minibatches=4,
                    lr=1e-4, lr_schedule="linear", clip_eps=0.2, lam=0.95, value_lr=3e-3, seed=0)
acc_sft = addition_accuracy(sft_model, tokenizer, subset, seed=0)
print(f"SFT model: sampled accuracy {acc_sft:.3f} on the 400 held-out sums")


class HeldOut:
    """``on_step`` hook: every EVAL_EVERY batches, sampled accuracy on the 400 held-out sums; when
    they reach TARGET, on all 1,620. Stops training (a KeyboardInterrupt, which the loop catches
    as it does Ctrl-C, keeping the model and the history) once all 1,620 reach TARGET, or after
    MAX_BATCHES batches."""

    def __init__(self, policy, samples_per_step: int, monitor: TrainingMonitor | None = None):
        self.policy, self.samples_per_step, self.monitor = policy, samples_per_step, monitor
        self.curve = [(0, acc_sft)]  # (generated samples, accuracy on the 400)
        self.reached = None  # generated samples when all 1,620 first reached TARGET

    def __call__(self, metrics: dict) -> None:
        if self.monitor is not None:
            self.monitor.update(metrics)
        steps = metrics["step"] + 1
        if steps % EVAL_EVERY == 0:
            acc = addition_accuracy(self.policy, tokenizer, subset, seed=0)
            self.curve.append((steps * self.samples_per_step, acc))
            if acc >= TARGET and addition_accuracy(self.policy, tokenizer, heldout_pairs,
                                                   seed=0) >= TARGET:
                self.reached = steps * self.samples_per_step
        if self.reached is not None or steps == MAX_BATCHES:
            raise KeyboardInterrupt  # stop here, as Ctrl-C would


def run_ppo(advantage: str, title: str):
    """PPO from the SFT model with PPO_SETTINGS, until TARGET (or MAX_BATCHES batches)."""
    policy = copy.deepcopy(sft_model)
    config = PPOConfig(**PPO_SETTINGS | dict(advantage=advantage))
    head = ValueHead(policy.config.hidden_size) if advantage == "gae" else None
    monitor = TrainingMonitor(["reward", "clip_frac", "approx_kl", "explained_variance",
                               "entropy", "kl"], smoothing=0.6, title=title)
    tracker = HeldOut(policy, config.batch_size * config.samples_per_prompt, monitor)
    monitor.show()
    history = train_ppo(policy, sft_model, tokenizer, train_sums, R.exact_match_reward, config,
                        value_head=head, on_step=tracker)
    monitor.finish()
    return policy, history, tracker


print(PPOConfig(**PPO_SETTINGS | dict(advantage="gae")))

# %%
group_policy, group_history, group_track = run_ppo(
    "loo", "PPO with the group (leave-one-out) baseline, sums")

# %%
critic_policy, critic_history, critic_track = run_ppo(
    "gae", "PPO with a critic (value head + GAE), sums")

# %% [markdown]
# The telemetry of both runs side by side: means over each run's batches, and the first
# batch's, where the critic has learned nothing yet.

# %%
TELEMETRY = ["reward", "clip_frac", "approx_kl", "value_loss", "explained_variance",
             "advantage_sq", "entropy", "kl", "length", "loss_first"]
runs_lm = {"critic (GAE)": (critic_history, critic_track),
           "group (LOO)": (group_history, group_track)}
telemetry = {name: {k: sum(h[k] for h in hist) / len(hist) for k in TELEMETRY}
             | {"loss_first, batch 1": hist[0]["loss_first"], "batches": len(hist),
                "samples to 0.9": track.reached}
             for name, (hist, track) in runs_lm.items()}
display(HTML(html_table(telemetry, digits=3, index_name="mean over the batches")))
ev_critic, ev_group = (telemetry[k]["explained_variance"] for k in telemetry)
adv_critic, adv_group = (telemetry[k]["advantage_sq"] for k in telemetry)
samples_critic, samples_ppo = critic_track.reached, group_track.reached
print(f"explained variance: critic {ev_critic:+.3f}, group {ev_group:+.3f}; mean squared "
      f"advantage {adv_critic:.3f} vs {adv_group:.3f}; generated samples to 0.9: critic "
      f"{samples_critic}, group {samples_ppo}")
assert samples_critic is not None and samples_ppo is not None, "a run missed the target"
assert max(ev_critic, ev_group) < 0.1 and abs(ev_critic - ev_group) < 0.1, (ev_critic, ev_group)
assert critic_history[0]["loss_first"] < -0.3 and abs(group_history[0]["loss_first"]) < 0.1
for name, t in telemetry.items():
    assert t["clip_frac"] < 0.1 and t["approx_kl"] < 0.05, (name, t)
first = ("the critic run" if samples_critic < samples_ppo else "the group run"
         if samples_ppo < samples_critic else "neither: a tie")
print(f"first to 0.9 in this run: {first}")

# %% [markdown]
# How to read it:
#
# - **explained_variance** is below 0 for both, and about the same. The group baseline, the
#   mean reward of the 3 *other* answers to the same sum, is a noisy guess of each answer's
#   expected reward: for prompts of equal difficulty, subtracting it *adds* spread
#   ($1 - 4/3 = -1/3$ is what to expect with 4 samples). The critic's head, a linear map of the
#   policy's features, does no better: it cannot tell from them whether a sum written so far is
#   right. A critic earns its keep where a state's value can be read from it; a sum's
#   correctness cannot, by a linear map of this model's features.
# - **loss_first** of the first batch: the group's is about 0 (its advantages sum to 0 within
#   each prompt's group), the critic's about minus the mean reward. Its head starts at $V = 0$,
#   so in the first batch every token's advantage is the whole return: each right answer is
#   pushed up, no wrong one down, as REINFORCE without a baseline. The head learns the mean
#   reward within a few batches (**value_loss** falls), and from then on the critic's
#   advantages are centred too.
# - **clip_frac** and **approx_kl** are small (a few percent of the tokens clipped, a KL of about
#   0.01-0.02 between the policy before and after a batch): at these settings the policy moves a
#   little per batch, and the clip is a guard rail it seldom touches. Spinning Up's PPO stops a
#   batch's epochs once approx_kl passes 1.5 times a target of 0.01: these runs stay near it.
# - **samples to 0.9**: which run gets there first changes with the seed (the lesson asserts
#   no order; `benchmarks/ppo_seeds.py` runs this race for several seeds, and
#   `benchmarks/README.md` has its table: the critic first in some, the group in others, a tie
#   in one). The critic does not predict rewards better (its explained variance says so), so it
#   has no reason to be faster. When it is first, a likely reason is its first batch, whose
#   uncentred advantages (see **advantage_sq**: its mean over the run is inflated by that one
#   batch) pushed every right answer up, 8 updates in a row: that sharpens the policy toward the
#   answers it already gives most, which on sums are mostly right (lesson 05). A gap of one or
#   two checks (512 samples each) is within the noise.
#
# ## 5. Sample efficiency: PPO against REINFORCE
#
# The promise of PPO is more learning per generated sample. Count them. Against the PPO run with
# the group baseline (2 epochs x 4 minibatches: 8 updates per batch), lesson 05's REINFORCE: the
# same batches of 64 sums x 4 samples, the same leave-one-out baseline, the same learning rate
# (1e-4, decaying linearly over 100 steps), one update per batch, tracked and stopped by the
# same hook.

# %%
reinforce_policy = copy.deepcopy(sft_model)
reinforce_config = ReinforceConfig(steps=100, batch_size=64, samples_per_prompt=4, lr=1e-4,
                                   lr_schedule="linear", seed=0)
reinforce_track = HeldOut(reinforce_policy, 64 * 4)
reinforce_history = train_reinforce(reinforce_policy, sft_model, tokenizer, train_sums,
                                    R.exact_match_reward, reinforce_config,
                                    on_step=reinforce_track)

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, t, color in (("REINFORCE (1 update per batch)", reinforce_track, "#6b7280"),
                       ("PPO, group baseline (2 epochs x 4 minibatches)", group_track,
                        "#2563eb"),
                       ("PPO, critic (2 epochs x 4 minibatches)", critic_track, "#dc2626")):
    xs, ys = zip(*t.curve)
    ax.plot(xs, ys, marker="o", ms=3, color=color, label=name)
    if t.reached is not None:
        ax.axvline(t.reached, color=color, ls=":", lw=1)
ax.axhline(TARGET, color="black", lw=0.8)
ax.set(xlabel="generated samples", ylabel="sampled accuracy, 400 held-out sums")
ax.legend(fontsize=8)
plt.show()
updates = PPO_SETTINGS["epochs"] * PPO_SETTINGS["minibatches"]
final = {name: {"samples to 0.9 (all 1,620)": t.reached,
                "batches (updates per batch)": f"{len(h)} ({u})",
                "training time (s)": h[-1]["time"]}
         for name, t, h, u in (("REINFORCE", reinforce_track, reinforce_history, 1),
                               ("PPO (group baseline)", group_track, group_history, updates),
                               ("PPO (critic)", critic_track, critic_history, updates))}
display(HTML(html_table(final, digits=3)))
samples_reinforce = reinforce_track.reached
time_reinforce, time_ppo = final["REINFORCE"]["training time (s)"], group_history[-1]["time"]
print(f"generated samples to 0.9 on all 1,620 held-out sums: REINFORCE {samples_reinforce}, "
      f"PPO {samples_ppo} (group baseline), {samples_critic} (critic); training time "
      f"{time_reinforce:.0f} s, {time_ppo:.0f} s, {critic_history[-1]['time']:.0f} s")
assert samples_reinforce is not None, "REINFORCE missed the target"
assert samples_reinforce >= samples_ppo, (samples_reinforce, samples_ppo)
claims.check("ppo_reuses_samples", samples_reinforce / samples_ppo)

# %% [markdown]
# PPO reached the target with no more generated samples than REINFORCE (this run's counts are
# printed above; over the seeds of `benchmarks/ppo_seeds.py`, never more, usually fewer): each
# batch served 8 updates instead of 1. Not 8 times fewer, though: the updates on one batch see
# the same few samples again, and their information runs out. With some seeds the two need the
# same number: the crossing of a threshold checked every 512 samples on 400 sums is a noisy
# measure, and the gain from re-use on this task is real but not large. Re-use is not free in
# compute either: every PPO update runs a forward and backward pass, so a PPO batch costs
# several times a REINFORCE step; which of the two counts, samples or seconds, depends on what
# a sample costs. On a model this small, generating one is cheap; on a large model with long
# responses, generation dominates, and that is where PPO's re-use pays.
#
# ## 6. KL estimators: why is my KL negative?
#
# Every run above logged `kl`, the KL between the policy and the SFT model, and lessons 05 and 07
# penalized it. It is never computed exactly: a language model's responses cannot be listed.
# It is *estimated* from the sampled tokens, one of three ways (Schulman, 2020), with
# $\log r_t = \log \pi_\text{ref}(y_t \mid s_t) - \log \pi_\theta(y_t \mid s_t)$ on a token
# sampled from $\pi_\theta$:
#
# $$k_1 = -\log r, \qquad k_2 = \tfrac{1}{2} (\log r)^2, \qquad k_3 = r - 1 - \log r.$$
#
# $k_1$ is the definition of the KL, sampled: unbiased, but negative whenever the reference
# likes the sampled token more than the policy does. That is the usual answer to "why is my KL
# negative?" (trl #2854, #925): a batch mean of $k_1$ can dip below 0 although the KL never
# does. $k_3$ adds $r - 1$, whose expectation under $\pi_\theta$ is 0, so it stays unbiased,
# and $r - 1 - \log r \ge 0$ for every sample. $k_2$ is always positive, but it equals the KL
# only to second order. TRL and the GRPO paper use $k_3$; `train_ppo` logs $k_1$ summed over a
# response, as lessons 05 and 07 did.
#
# On the tiny policy everything is exact: the KL by enumeration, and also each estimator's
# exact expectation and spread. Two policies from section 3 against the starting one: the
# KL-penalized run (near) and the unpenalized one (far); 4,000 sampled responses each, the
# per-token estimates summed over each response.

# %%
def kl_table(policy: mdp.TinyPolicy, ref: mdp.TinyPolicy, n: int, seed: int = 0) -> dict:
    """k1, k2, k3 per token, summed over each response, from n samples of `policy`: their sample
    mean and standard error, their exact expectation and spread (enumeration), and the exact KL."""
    lp_all = policy.token_logprobs(all_ids, all_mask).detach()
    lq_all = ref.token_logprobs(all_ids, all_mask).detach()
    p_all = lp_all.sum(1).exp()  # (40,)
    kl = float((p_all * (lp_all - lq_all).sum(1)).sum())
    ids, mask = policy.sample(n, torch.Generator().manual_seed(seed))
    lp, lq = policy.token_logprobs(ids, mask).detach(), ref.token_logprobs(ids, mask).detach()
    sampled = {k: (v * mask).sum(1) for k, v in kl_estimates(lp, lq).items()}  # (n,)
    exact = {k: (v * all_mask).sum(1) for k, v in kl_estimates(lp_all, lq_all).items()}  # (40,)
    rows = {}
    for k in ("k1", "k2", "k3"):
        e_mean = float((p_all * exact[k]).sum())
        rows[k] = {"sample mean": float(sampled[k].mean()),
                   "standard error": float(sampled[k].std() / n ** 0.5),
                   "exact E[k]": e_mean, "exact bias": e_mean - kl,
                   "exact std": float((p_all * (exact[k] - e_mean) ** 2).sum()) ** 0.5,
                   "share < 0": float((sampled[k] < 0).float().mean()),
                   "min": float(sampled[k].min())}
    return {"kl": kl, "rows": rows}


NEAR, FAR = "near (the KL-penalized run of section 3)", "far (the unpenalized run)"
tiny_tables = {NEAR: kl_table(grpo_log["policy"], tiny_old, 4000),
               FAR: kl_table(ppo_log["policy"], tiny_old, 4000)}
for name, t in tiny_tables.items():
    display(HTML(html_table(t["rows"], digits=4, index_name=f"{name}: exact KL {t['kl']:.4f}")))
    r = t["rows"]
    assert r["k1"]["share < 0"] > 0 and r["k3"]["min"] >= 0, r
    for k in ("k1", "k3"):
        assert abs(r[k]["sample mean"] - t["kl"]) <= 3 * r[k]["standard error"], (name, k, r[k])
        assert abs(r[k]["exact bias"]) < 1e-9, (name, k)
    assert r["k2"]["exact bias"] > 3 * r["k2"]["standard error"], (name, r["k2"])
near_rows, far_rows = (t["rows"] for t in tiny_tables.values())
assert near_rows["k3"]["exact std"] < near_rows["k1"]["exact std"]
assert far_rows["k3"]["exact std"] > far_rows["k1"]["exact std"]

# %% [markdown]
# Read the rows against the exact KL in each table's corner:
#
# - **k1**: its exact bias is 0 and its sample mean is within a few standard errors of the KL;
#   a share of the responses have a *negative* estimate (column "share < 0").
# - **k2**: never negative, and biased: its exact expectation is above the KL, by more than 3
#   standard errors of the 4,000-sample mean, and more so for the far policy. Close policies are
#   where its bias is small (it is exact to second order in $\log r$).
# - **k3**: exact bias 0, never negative. Near, it has the smallest spread of the three; far, its
#   spread is the largest: $r = \pi_\text{ref} / \pi_\theta$ is unbounded, and a response the
#   policy has made rare but the reference liked costs it dearly. $k_3$ is the right tool for
#   policies kept close, which is what a KL penalty is for.
#
# On the language model the responses cannot be listed, but something almost as good is
# available: at every sampled state $s_t$ both models give their *full* next-token
# distribution, so the exact per-token KL, $\mathrm{KL}_t = \sum_v \pi_\theta(v \mid s_t)
# \log \frac{\pi_\theta(v \mid s_t)}{\pi_\text{ref}(v \mid s_t)}$, is one sum over the
# vocabulary. Each estimator uses only the sampled token $y_t$; its error is $k_t -
# \mathrm{KL}_t$, and for an unbiased estimator these errors average to 0. Policy: the PPO
# model with the group baseline (sections 4-5); reference: the SFT model; 2 responses to each
# of the 400 held-out sums.

# %%
@torch.no_grad()
def next_token_logprobs(model, roll) -> torch.Tensor:
    """log pi(. | s_t) at every response position of a rollout: (B, R, V)."""
    P = roll.prompt_ids.shape[1]
    attn = roll.attention_mask
    position_ids = (attn.cumsum(1) - 1).clamp(min=0)  # left-padded prompts start at 0
    logits = model(input_ids=roll.input_ids, attention_mask=attn,
                   position_ids=position_ids).logits[:, P - 1:-1]
    return F.log_softmax(logits.float(), dim=-1)


lm_prompts = [W.addition_question(a, b) for a, b in subset for _ in range(2)]


def token_kls(policy) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Sample from `policy`; at each response token, the exact KL_t to the SFT model (N,) and
    the three estimates from the sampled token (N,) each."""
    roll = sample(policy, tokenizer, lm_prompts, max_new_tokens=12,
                  generator=torch.Generator().manual_seed(0))
    m = roll.response_mask.bool()
    logp, logq = next_token_logprobs(policy, roll), next_token_logprobs(sft_model, roll)
    exact = (logp.exp() * (logp - logq)).sum(-1)[m]  # (N,) KL_t, exact
    y = roll.response_ids[..., None]
    estimates = kl_estimates(logp.gather(2, y).squeeze(2)[m], logq.gather(2, y).squeeze(2)[m])
    return exact, estimates


exact_t, k_t = token_kls(group_policy)
n_tok = int(exact_t.numel())
lm_rows = {}
for k, v in k_t.items():
    err = v - exact_t
    lm_rows[k] = {"mean": float(v.mean()), "mean error k_t - KL_t": float(err.mean()),
                  "standard error": float(err.std() / n_tok ** 0.5),
                  "std per token": float(v.std()), "share < 0": float((v < 0).float().mean()),
                  "min": float(v.min())}
lm_rows["exact KL_t"] = {"mean": float(exact_t.mean()), "std per token": float(exact_t.std()),
                         "share < 0": float((exact_t < 0).float().mean()),
                         "min": float(exact_t.min())}
display(HTML(html_table(lm_rows, digits=4,
                        index_name=f"{n_tok:,} response tokens, PPO model vs SFT")))
for k, within in (("k1", 3), ("k3", 5)):  # k3's long right tail: see below
    assert abs(lm_rows[k]["mean error k_t - KL_t"]) <= within * lm_rows[k]["standard error"], (
        k, lm_rows[k])
assert lm_rows["k1"]["share < 0"] > 0 and lm_rows["k3"]["min"] >= 0
assert lm_rows["k3"]["std per token"] > lm_rows["k1"]["std per token"]

# %% [markdown]
# Against the exact per-token KL, $k_1$ and $k_3$ are within a few standard errors of it, as
# unbiased estimators should be; $k_2$ has no such guarantee (its mean error is in the table).
# $k_3$ needs more slack (the cell allows it 5 standard errors, $k_1$ 3): its per-token values
# have a long right tail, $k_3 \approx r$ on the rare tokens where $r$ is large, and a sample
# of a few thousand tokens usually holds fewer of them than their share, so its mean tends to
# fall a little short of the KL, by more than its standard error (which the same tail makes
# unreliable) suggests.
# $k_1$ is negative on a share of the tokens, so a batch of $k_1$ averages can dip below 0 while
# the KL itself (last row) never does; $k_3$ is never negative. And here, as for the far tiny
# policy, $k_3$ spreads wider per token than $k_1$: a few tokens the SFT model liked much more
# than the policy now does make $r$ large. In practice people choose $k_3$ for never being
# negative, and pay for it in those tails.

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- Re-using a batch after one step (KL {step_kl:.3f} from the sampling policy): naive re-use
  had cosine {naive['cosine with exact']:.4f} with the exact gradient but missed it by
  {naive['largest gap (standard errors)']:.1f} standard errors; the importance-weighted estimate
  had cosine {iw['cosine with exact']:.4f}, within {iw['largest gap (standard errors)']:.1f} standard
  errors; PPO's per-token ratio, in between (cosine {per_token['cosine with exact']:.4f}).
- The weights' second moment grew with the distance in every direction; the variance of a
  re-used sample rose above twice a fresh one's in {grew} of {len(random_far)} random directions,
  and fell along the gradient ({grad_far:.2f}x).
- {EPOCHS} epochs on one batch: exact KL to the sampling policy {kl_free:.3f} without clipping,
  {kl_clip:.3f} with ({kl_free / kl_clip:.1f}x).
- The PPO loss at a batch's start averaged {start.mean():+.3f} while J rose from {J_old:.2f} to
  {ppo_log['J'][-1]:.2f}; with beta * KL in the loss, the KL term at the start grew from
  {kl_term[:5].mean():.3f} to {kl_term[-5:].mean():.3f}.
- On sums, PPO with a critic vs the group baseline: explained variance {ev_critic:+.3f} vs
  {ev_group:+.3f}, mean squared advantage {adv_critic:.3f} vs {adv_group:.3f}, generated samples
  to 0.9 {samples_critic:,} vs {samples_ppo:,}.
- Generated samples to 0.9 sampled accuracy on all 1,620 held-out sums: REINFORCE
  {samples_reinforce:,}, PPO {samples_ppo:,} ({samples_reinforce / samples_ppo:.2f}x fewer), in
  {time_reinforce:.0f} s and {time_ppo:.0f} s of training.
- KL estimators on the tiny policy, against the exact KL ({tiny_tables[NEAR]['kl']:.3f} near,
  {tiny_tables[FAR]['kl']:.3f} far): k1 negative for {near_rows['k1']['share < 0']:.0%} and
  {far_rows['k1']['share < 0']:.0%} of the responses, k3 never; k1 and k3 within 3 standard
  errors of it, k2 biased by {near_rows['k2']['exact bias']:+.4f} and {far_rows['k2']['exact bias']:+.4f}.
- KL estimators on the language model, against the exact per-token KL ({lm_rows['exact KL_t']['mean']:.3f}
  per token): mean error of k1 {lm_rows['k1']['mean error k_t - KL_t']:+.4f}, k3
  {lm_rows['k3']['mean error k_t - KL_t']:+.4f}, k2 {lm_rows['k2']['mean error k_t - KL_t']:+.4f};
  k1 negative on {lm_rows['k1']['share < 0']:.0%} of the tokens, k3 never.""")

# %% [markdown]
# PPO is REINFORCE that keeps each batch a little longer: the importance ratio makes the
# re-use honest, the clip keeps it near the samples it came from, and the loss it minimizes
# is a tool, not a score. Next: **lesson 09**, GRPO, the critic-free cousin, on problems where
# the right answer is rare.
