# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/10_dpo.ipynb)
#
# # Lesson 10 - DPO, and every way of optimizing a learned reward on one chart
#
# > *What's missing is a way to express a preference over outputs that the model can actually
# > optimize — a signal that says this response was better than that one, even when both are
# > fluent, even when neither appears verbatim in any training set.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Lessons 06 and 07 turned preferences into something a model can optimize in two stages:
# comparisons train a reward model $r_\phi$, then RL maximizes $r_\phi$ under a KL leash.
# **Direct preference optimization** (DPO; Rafailov et al., 2023) does it in one: a loss on the
# comparisons themselves, with no reward model and no sampling. "Is DPO the same as RLHF? Which
# should I use?" is one of the questions asked most often about this field. Textbooks answer it
# with algebra; this course can also answer it with a measurement, because its rater is known:
# every method can be scored by the **gold** reward $g(x, y)$ it was meant to serve, at the same
# distance from the SFT model.
#
# **In this lesson you will**
# 1. find the policy that maximizes $\mathbb{E}[r] - \beta\,\mathrm{KL}$ in closed form, check
#    it against gradient ascent on lesson 04's enumerable policy, and derive the DPO loss from it;
# 2. train DPO on lesson 06's comparisons and measure its **implicit reward** next to lesson
#    06's reward model, its recall rule and the noise ceiling;
# 3. put best-of-n, RL against the reward model, RL against the gold reward and DPO on **one
#    gold-vs-KL chart**, with Gao et al.'s fitted curves;
# 4. read off which method buys the most gold per nat here, and why that depends on the reward
#    model.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import inspect
import math
from collections import Counter

import numpy as np
import torch
from IPython.display import HTML, display
from matplotlib.figure import Figure

import course_lib
from course_lib import claims, dpo, mdp, rlhf
from course_lib import overoptimization as O
from course_lib import preferences as P
from course_lib import reward_model as RM
from course_lib import world as W
from course_lib.plots import html_table, training_curves
from course_lib.policy_gradient import ReinforceConfig
from course_lib.sampling import sample_texts

course_lib.set_seed(0)
device = course_lib.get_device()

# %% [markdown]
# ## 1. The closed form, and DPO from it
#
# RL with a KL penalty (lessons 05 and 07) maximizes, for each prompt $x$,
#
# $$J_\beta(\pi) = \mathbb{E}_{y \sim \pi(\cdot \mid x)}\big[r(x, y)\big]
#   \;-\; \beta\,\mathrm{KL}\big(\pi(\cdot \mid x) \,\|\, \pi_\text{ref}(\cdot \mid x)\big).$$
#
# Over *all* distributions $\pi(\cdot \mid x)$ this has a closed-form maximizer. Define
#
# $$\pi^*(y \mid x) = \frac{1}{Z(x)}\,\pi_\text{ref}(y \mid x)\,e^{r(x, y)/\beta},
#   \qquad Z(x) = \sum_y \pi_\text{ref}(y \mid x)\,e^{r(x, y)/\beta}.$$
#
# Then $r(x, y) = \beta \log \frac{\pi^*(y \mid x)}{\pi_\text{ref}(y \mid x)} + \beta \log Z(x)$,
# and substituting it into $J_\beta$,
#
# $$J_\beta(\pi) = \mathbb{E}_{y \sim \pi}\Big[\beta \log \frac{\pi^*(y \mid x)}
#   {\pi_\text{ref}(y \mid x)} + \beta \log Z(x) - \beta \log \frac{\pi(y \mid x)}
#   {\pi_\text{ref}(y \mid x)}\Big]
#   = \beta \log Z(x) \;-\; \beta\,\mathrm{KL}\big(\pi \,\|\, \pi^*\big).$$
#
# A KL divergence is never negative and is zero only when the two distributions are equal, so
# $J_\beta$ is largest exactly at $\pi = \pi^*$: the reference, tilted towards high reward, the
# more so the smaller $\beta$. `dpo.kl_optimal_policy` computes it over a finite set of
# responses, as $\mathrm{softmax}(\log \pi_\text{ref} + r / \beta)$:

# %%
print(inspect.getsource(dpo.kl_optimal_policy))

# %% [markdown]
# Check it on lesson 04's enumerable policy: the bigram policy over the words a, b, c and
# `<eos>`, horizon 3, which can say exactly 40 things, with lesson 03's task (*say "a" as often
# as you can, and finish your sentence*, return = number of "a" + 2 for finishing). The
# reference $\pi_\text{ref}$ is that policy at its seed. The policy we optimize may put any
# probability on each of the 40 responses: one logit per response, $\pi = \mathrm{softmax}(z)$,
# started at $\pi_\text{ref}$, and plain gradient ascent (Adam) on the exact $J_\beta(\pi)$,
# summed over the 40 responses. Two values of $\beta$:

# %%
tiny = mdp.TinyPolicy(seed=0)
ids, mask = mdp.enumerate_sequences(tiny)  # (40, 3): every response
rewards = mdp.step_rewards(mdp.tiny_task(tiny), "", ids, mask).sum(1)  # (40,) r(y)
with torch.no_grad():
    ref_probs = tiny.sequence_logprobs(ids, mask).exp()  # (40,) pi_ref(y)


def kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (p * (p.log() - q.log())).sum()


def ascend(beta: float, steps: int = 2000, lr: float = 0.05) -> torch.Tensor:
    """Gradient ascent on J_beta(pi) = E_pi[r] - beta KL(pi || pi_ref) over all 40 responses."""
    z = ref_probs.log().clone().requires_grad_(True)  # pi = softmax(z) starts at pi_ref
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        pi = torch.softmax(z, dim=0)
        J = (pi * rewards).sum() - beta * kl(pi, ref_probs)
        opt.zero_grad()
        (-J).backward()
        opt.step()
    return torch.softmax(z, dim=0).detach()


TINY_BETAS = (0.5, 2.0)
closed, ascended, tv = {}, {}, {}
for beta in TINY_BETAS:
    closed[beta] = dpo.kl_optimal_policy(ref_probs, rewards, beta)
    ascended[beta] = ascend(beta)
    tv[beta] = 0.5 * (ascended[beta] - closed[beta]).abs().sum().item()
    J_star = (closed[beta] * rewards).sum() - beta * kl(closed[beta], ref_probs)
    print(f"beta = {beta}: E[r] {(ref_probs * rewards).sum():.3f} under pi_ref -> "
          f"{(closed[beta] * rewards).sum():.3f} under pi*, KL(pi* || pi_ref) "
          f"{kl(closed[beta], ref_probs):.3f}, J_beta(pi*) {J_star:.4f}; total variation "
          f"between gradient ascent and the closed form {tv[beta]:.1e}")
    assert tv[beta] <= 1e-3, tv
assert kl(closed[TINY_BETAS[0]], ref_probs) > 3 * kl(closed[TINY_BETAS[1]], ref_probs)

fig = Figure(figsize=(10, 3), layout="constrained")
ax = fig.subplots()
order = torch.argsort(rewards, descending=True)
xs = torch.arange(len(order))
ax.bar(xs - 0.3, ref_probs[order], width=0.3, label="pi_ref", color="tab:gray")
for j, (beta, color) in enumerate(zip(TINY_BETAS, ("tab:red", "tab:blue"))):
    ax.bar(xs + 0.3 * j, closed[beta][order], width=0.3, color=color,
           label=f"pi* (beta = {beta}), = gradient ascent to {tv[beta]:.0e}")
texts = tiny.texts(ids, mask)
ax.set_xticks(xs, [f"{texts[i]} ({rewards[i]:.0f})" for i in order], rotation=90, fontsize=6)
ax.set_ylabel("probability")
ax.set_title("The 40 responses, by reward (in brackets): the KL-optimal policy tilts pi_ref")
ax.legend(fontsize=8)
display(fig)

# %% [markdown]
# Gradient ascent lands on the closed form, to within $10^{-3}$ in total variation. With
# $\beta = 2$ the tilt is gentle; with $\beta = 0.5$ the mass moves much further towards the
# responses with the highest return, and the KL it costs is several times larger.
#
# One condition hides in "over *all* distributions": the policy must be able to represent
# $\pi^*$. Lesson 04's bigram policy cannot: it chooses each word from the previous word only,
# so after an "a" it must choose the same way at the second step and at the third, while
# $\pi^*$ says another "a" far more rarely at the third step (where it would cost the
# finishing bonus) than at the second. Run the same ascent on the bigram's own parameters:

# %%
def ascend_bigram(beta: float, steps: int = 2000, lr: float = 0.05) -> torch.Tensor:
    bigram = mdp.TinyPolicy(seed=0)  # starts at pi_ref, optimizes its (4, 4) logits
    opt = torch.optim.Adam(bigram.parameters(), lr=lr)
    for _ in range(steps):
        pi = bigram.sequence_logprobs(ids, mask).exp()  # (40,)
        J = (pi * rewards).sum() - beta * kl(pi, ref_probs)
        opt.zero_grad()
        (-J).backward()
        opt.step()
    return bigram.sequence_logprobs(ids, mask).exp().detach()


tv_bigram = {b: 0.5 * (ascend_bigram(b) - closed[b]).abs().sum().item() for b in TINY_BETAS}
print("total variation to pi*, best bigram: "
      + ", ".join(f"{tv_bigram[b]:.3f} (beta = {b})" for b in TINY_BETAS))
assert min(tv_bigram.values()) > 10 * max(tv.values()), (tv_bigram, tv)

# %% [markdown]
# A language model conditions each token on the *whole* prefix, so it can represent any
# distribution over its responses, and the closed form applies to it. That is the assumption
# DPO's derivation makes.
#
# ### From the closed form to the DPO loss
#
# Read the closed form backwards: the reward is a function of the optimal policy,
#
# $$r(x, y) = \beta \log \frac{\pi^*(y \mid x)}{\pi_\text{ref}(y \mid x)} + \beta \log Z(x).$$
#
# The second term depends only on the prompt. Lesson 06's Bradley-Terry model only ever asks
# for a *difference* of rewards of two responses to the same prompt, so it cancels:
#
# $$P(y_c \succ y_r \mid x) = \sigma\big(r(x, y_c) - r(x, y_r)\big)
#   = \sigma\Big(\beta \log \frac{\pi^*(y_c \mid x)}{\pi_\text{ref}(y_c \mid x)}
#   - \beta \log \frac{\pi^*(y_r \mid x)}{\pi_\text{ref}(y_r \mid x)}\Big).$$
#
# Nobody knows $Z(x)$ (it sums over every possible response), and nobody needs to. Put a
# trainable policy $\pi_\theta$ in the place of $\pi^*$ and maximize the likelihood of the
# labelled comparisons, exactly as lesson 06 trained $r_\phi$, and you get the DPO loss:
#
# $$\mathcal{L}_\text{DPO}(\theta) = -\,\mathbb{E}_{(x, y_c, y_r)}\Big[\log \sigma\Big(
#   \beta \log \frac{\pi_\theta(y_c \mid x)}{\pi_\text{ref}(y_c \mid x)}
#   - \beta \log \frac{\pi_\theta(y_r \mid x)}{\pi_\text{ref}(y_r \mid x)}\Big)\Big].$$
#
# It is $\mathcal{L}_\text{BT}$ with $r_\phi$ replaced by the policy's **implicit reward**
# $\hat r_\theta(x, y) = \beta \log \frac{\pi_\theta(y \mid x)}{\pi_\text{ref}(y \mid x)}$, where
# $\log \pi(y \mid x) = \sum_t \log \pi(y_t \mid x, y_{<t})$ is the log-probability of the
# *whole* response. Two checks on the tiny policy: $\beta \log(\pi^*/\pi_\text{ref}) - r$ is the
# same number, $-\beta \log Z$, for all 40 responses; and DPO on comparisons labelled by
# Bradley-Terry from $r$ (10,000 pairs of $\pi_\text{ref}$'s own samples, those of two
# different responses; the learner never sees a reward) recovers $\pi^*$.

# %%
print(inspect.getsource(dpo.dpo_loss))

# %%
beta = TINY_BETAS[0]
shift = beta * (closed[beta] / ref_probs).log() - rewards  # (40,): -beta log Z, every entry
log_Z = torch.logsumexp(ref_probs.log() + rewards / beta, dim=0)
print(f"beta log(pi*/pi_ref) - r ranges over [{shift.min():.6f}, {shift.max():.6f}]; "
      f"-beta log Z = {-beta * log_Z:.6f}")
assert torch.allclose(shift, -beta * log_Z.expand(40), atol=1e-9)



def tiny_comparisons(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """10,000 pairs of pi_ref's samples (those of two different responses), labelled by
    Bradley-Terry from r: (chosen, rejected), each (N,) indices of responses."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.multinomial(ref_probs, 20_000, replacement=True, generator=g).view(2, -1)
    a, b = a[a != b], b[a != b]  # a comparison needs two different responses
    a_wins = torch.rand(len(a), generator=g, dtype=torch.float64) < torch.sigmoid(
        rewards[a] - rewards[b])
    return torch.where(a_wins, a, b), torch.where(a_wins, b, a)


def dpo_on_tiny(chosen: torch.Tensor, rejected: torch.Tensor, beta: float,
                steps: int = 1000) -> torch.Tensor:
    """A policy with one logit per response, from pi_ref, trained on the DPO loss."""
    ref_logp = ref_probs.log()
    z = ref_logp.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.1)
    for _ in range(steps):
        logp = torch.log_softmax(z, dim=0)  # (40,) log pi_theta of every response
        loss = dpo.dpo_loss(logp[chosen], logp[rejected], ref_logp[chosen],
                            ref_logp[rejected], beta=beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.softmax(z, dim=0).detach()


beta = TINY_BETAS[0]
chosen, rejected = tiny_comparisons(seed=0)
pi_dpo = dpo_on_tiny(chosen, rejected, beta)
tv_dpo = 0.5 * (pi_dpo - closed[beta]).abs().sum().item()
tv_ref = 0.5 * (ref_probs - closed[beta]).abs().sum().item()
print(f"{len(chosen)} comparisons; total variation to pi* (beta = {beta}): pi_ref {tv_ref:.3f}, "
      f"the DPO policy {tv_dpo:.3f}")
assert tv_dpo < tv_ref / 4, (tv_dpo, tv_ref)

# %% [markdown]
# DPO never saw a reward, only which response of each pair won, and it ends close to the
# policy that RL with a KL penalty would reach; the rest of the gap is the finite sample of
# noisy comparisons (responses that are rarely sampled are rarely compared). This is the sense
# in which DPO and RLHF optimize the same objective.
#
# The finite sample can do worse than blur. Draw the 10,000 comparisons again with another
# seed, and train the same way:

# %%
chosen_1, rejected_1 = tiny_comparisons(seed=1)
wins = torch.bincount(chosen_1, minlength=40)
losses = torch.bincount(rejected_1, minlength=40)
undefeated = ((wins > 0) & (losses == 0)).nonzero()[:, 0].tolist()
pi_dpo_1 = dpo_on_tiny(chosen_1, rejected_1, beta)
tv_dpo_1 = 0.5 * (pi_dpo_1 - closed[beta]).abs().sum().item()
for i in undefeated:
    print(f"{texts[i]!r} (reward {rewards[i]:.0f}, pi_ref {ref_probs[i]:.4f}, pi* "
          f"{closed[beta][i]:.4f}) won all its {int(wins[i])} comparison(s) and lost none; "
          f"DPO gives it {pi_dpo_1[i]:.2f}")
print(f"total variation to pi*: {tv_dpo_1:.3f} (with the first draw: {tv_dpo:.3f})")
assert undefeated and pi_dpo_1[undefeated].sum() > 0.5 and tv_dpo_1 > 0.5, (undefeated,
                                                                             tv_dpo_1)

# %% [markdown]
# A rare response that happened to win the only comparison it was in, and never lost, took
# over the policy. The loss is to blame, not the optimizer: a pair's term
# $-\log \sigma(\text{margin})$ keeps falling as the margin grows, so a response that wins
# every comparison it appears in has its log-ratio pushed up without end, whatever $\beta$ is;
# $\beta$ only sets how large a log-ratio a given margin needs. RL with a KL penalty would
# have paid $\beta \log(\pi/\pi_\text{ref})$ on every sample of that response and stopped.
# This is the weakness Azar et al. (2023) point out in DPO: with finite data it can ignore the
# KL term it was derived from. Keep it in mind for the language model.

# %% [markdown]
# ## 2. DPO on lesson 06's comparisons
#
# The data: lesson 06's comparisons, pairs of the SFT model's own responses labelled by the
# noisy gold rater; the training pairs are about the `sft` and `rl` countries, the held-out pairs
# about the `test` countries. The reference $\pi_\text{ref}$ is the SFT model, and DPO starts
# from it. `train_dpo` reads top to bottom: draw a batch of pairs, the policy's summed
# log-probabilities of both responses (with gradient; the reference's were computed once),
# the loss, a step, and a log of the implicit rewards.

# %%
sft_model, tokenizer = course_lib.load_sft_model(device=device)
train_pairs, test_pairs = P.course_comparisons(sft_model, tokenizer)  # lesson 06's data
reward_model, _ = RM.load_reward_model(device=device)  # lesson 06's reward model (cached)
print(f"{len(train_pairs)} training pairs, {len(test_pairs)} held-out pairs")
print(inspect.getsource(dpo.train_dpo))

# %% [markdown]
# Two values of $\beta$, 60 steps of 16 pairs each at a learning rate of $10^{-4}$: short, so
# that the lesson fits in three minutes on two cores. The models are trained the first time and
# cached, like lesson 06's reward model, with their training curves:

# %%
DPO_BETAS = (0.1, 0.5)
dpo_models, dpo_histories = {}, {}
for b in DPO_BETAS:
    config = dpo.DPOConfig(beta=b, steps=60, batch_size=16, lr=1e-4)  # the defaults
    model, _, dpo_histories[b] = dpo.load_dpo_model(train_pairs, config, device=device)
    dpo_models[b] = model
    display(training_curves(dpo_histories[b], ["loss", "margin", "accuracy"], smoothing=0.8,
                            title=f"DPO, beta = {b}: loss, implicit reward margin and "
                                  "accuracy on the training batches"))
print(f"{60 * 16 / len(train_pairs):.2f} passes over the {len(train_pairs)} training pairs")
for b, h in dpo_histories.items():
    last = h[-20:]
    loss_end = sum(x["loss"] for x in last) / len(last)
    margin_end = sum(x["margin"] for x in last) / len(last)
    print(f"beta = {b}: loss {h[0]['loss']:.3f} -> {loss_end:.3f} (last 20 steps), implicit "
          f"reward margin {h[0]['margin']:+.3f} -> {margin_end:+.3f}")
    assert loss_end < math.log(2) and margin_end > 0.05, (b, loss_end, margin_end)

# %% [markdown]
# The loss falls below $\log 2 \approx 0.693$ (where every margin is 0) and the implicit
# reward margin grows. Now the question lesson 06 left open: its trained reward model ranked
# the held-out pairs like the rater clearly less often than a hand-written rule that reads the
# SFT model's own recall of the answer, which came close to the noise ceiling. DPO's implicit
# reward *is* a reward model that reads the language model's probabilities. Does that help it
# on the held-out pairs?

# %%
ceiling = P.noise_ceiling(test_pairs)
rm_accuracy = RM.accuracy(reward_model, tokenizer, test_pairs)
n_pairs = len(test_pairs)
recall = P.recall_scores(sft_model, tokenizer, [c.prompt for c in test_pairs] * 2,
                         [c.chosen for c in test_pairs] + [c.rejected for c in test_pairs])
recall_accuracy = float(((recall[:n_pairs] > recall[n_pairs:]).float()
                         + 0.5 * (recall[:n_pairs] == recall[n_pairs:]).float()).mean())
ref_c, ref_r = dpo.pair_logps(sft_model, tokenizer, test_pairs)  # the reference, once
dpo_accuracy = {}
for b, model in dpo_models.items():
    pol_c, pol_r = dpo.pair_logps(model, tokenizer, test_pairs)
    dpo_accuracy[b] = RM.pairwise_accuracy(dpo.implicit_rewards(pol_c, ref_c, b),
                                           dpo.implicit_rewards(pol_r, ref_r, b))
accuracies = {"chance": 0.5, "reward model (lesson 06)": rm_accuracy,
              **{f"DPO implicit reward, beta = {b}": a for b, a in dpo_accuracy.items()},
              "recall rule (lesson 06)": recall_accuracy, "noise ceiling": ceiling}
display(HTML(html_table({k: {"held-out pairwise accuracy": v} for k, v in accuracies.items()},
                        digits=3)))
fig = Figure(figsize=(8, 3), layout="constrained")
ax = fig.subplots()
bars = ax.barh(list(accuracies)[::-1], list(accuracies.values())[::-1], color="tab:blue")
ax.bar_label(bars, fmt="%.3f", fontsize=8)
ax.set_xlim(0.4, 0.75)
ax.set_xlabel(f"pairwise accuracy on the {n_pairs} held-out pairs (noisy labels)")
display(fig)
best_dpo = max(dpo_accuracy.values())
assert all(rm_accuracy - 0.06 <= a <= rm_accuracy + 0.02 for a in dpo_accuracy.values()), (
    dpo_accuracy, rm_accuracy)
assert recall_accuracy >= best_dpo + 0.05 and ceiling >= recall_accuracy - 0.01, accuracies

# %% [markdown]
# Not here. DPO's implicit reward ranks the held-out pairs about as well as the reward model,
# within a point or two, and well short of the recall rule. Reading the language model's probabilities is
# not the same as reading its *knowledge*: the implicit reward is the *change* in
# log-probability that DPO made, and it learns that change from the same noisy comparisons as
# the reward model, with the same body (the SFT model's weights). The recall rule was told how
# to use the knowledge (which token to look at, and the rater's table); comparisons of the SFT
# model's own responses do not teach that, whatever the model that learns from them.
#
# What did DPO do to the *policy*? Sample its answers to the held-out questions, twice each:
# the share of each style, the length, and the share of answers that never finish their
# sentence (no final full stop within the 16 tokens a response may have).

# %%
held_out = P.comparison_prompts(["test"], seed=1)  # the held-out questions, plain and suggested


def sampled_answers(model) -> list[str]:
    return sample_texts(model, tokenizer, [x for x in held_out for _ in range(2)],
                        temperature=1.0, generator=torch.Generator().manual_seed(0))


def styles(texts: list[str]) -> dict[str, float]:
    counts = Counter(W.parse_response(t).style for t in texts)
    return {k: counts[k] / len(texts) for k in ("confident", "hedged", "abstain", "invalid")} | {
        "unfinished": sum(not t.rstrip().endswith(".") for t in texts) / len(texts),
        "words": sum(len(t.split()) for t in texts) / len(texts)}


answers = {"SFT": sampled_answers(sft_model)} | {
    f"DPO, beta = {b}": sampled_answers(m) for b, m in dpo_models.items()}
shares = {name: styles(texts) for name, texts in answers.items()}
display(HTML(html_table(shares, index_name="share of sampled answers")))
loose = f"DPO, beta = {DPO_BETAS[0]}"
print(f"some unfinished answers of {loose}:")
for t in [t for t in answers[loose] if not t.rstrip().endswith(".")][:5]:
    print(f"  {t}")
assert shares[loose]["unfinished"] > shares["SFT"]["unfinished"] + 0.05, shares
assert all(shares[f"DPO, beta = {b}"]["invalid"] > shares["SFT"]["invalid"] + 0.2
           for b in DPO_BETAS), shares

# %% [markdown]
# Look at what no comparison asked for: with either $\beta$, a large share of the answers
# leave the course's answer templates altogether (the `invalid` column: a city that is not a
# city, "green mountains", the question's own words again), and with the loose $\beta$ many
# never end their sentence. The loss only raises the probability of chosen responses and
# lowers that of rejected ones; where the probability taken from a rejected response goes is
# up to the network, and some of it lands on text no comparison ever contained. Nothing in the
# loss looks at the policy's own samples, so nothing sees it happen, and as on the tiny policy
# of section 1, nothing but the number of steps keeps the log-ratios from running.

# %% [markdown]
# ## 3. One chart: gold reward against KL
#
# How much of what the rater wants does each method buy, for how far it moves the policy? Gao
# et al. (2022) answered this for large models with a synthetic gold reward model; here the
# gold rater is the real thing. Every method starts from the SFT model and is measured the
# same way: its sampled responses (temperature 1) to the 182 held-out questions (best-of-n: 91
# of them), scored by the gold rater, and its KL from the SFT model in nats.
#
# - **Best-of-n** (no training): sample $n$ responses, keep the one $r_\phi$ scores highest.
# - **RL against the reward model**: lesson 07's run, REINFORCE with $r_\phi - \beta\,\mathrm{KL}$.
# - **RL against the gold reward itself**: the same run with $g$ as the reward. No real pipeline
#   has this; it is the ceiling that a *perfect* reward model would allow.
# - **DPO** for the two values of $\beta$ of section 2.
#
# ### Best-of-n's KL, from the samples
#
# Lesson 07 drew best-of-n at $\mathrm{KL} = \log n - \frac{n-1}{n}$. That value is an **upper
# bound** (Beirami et al., 2024), reached only when no two samples are ever the same response.
# A language model repeats its likely answers, and a repeated response that wins is no surprise
# to $\pi_\text{ref}$. The exact KL can be computed on the *empirical* distribution of the
# samples, duplicates counted: if a prompt's $m$ samples hold distinct responses with
# probabilities $p(y) = \text{count}/m$, sorted by score with cumulative probability $F$,
# best-of-n returns $y$ with probability $Q(y) = F(y)^n - F(y^-)^n$ (all $n$ draws score at
# most $s(y)$, not all below it), and $\mathrm{KL}(Q \,\|\, p) = \sum_y Q(y) \log
# \frac{Q(y)}{p(y)}$. The expected gold $\sum_y Q(y)\,g(x, y)$ comes exactly from the same $Q$.

# %%
print(inspect.getsource(O.best_of_n_probs))

# %% [markdown]
# 64 samples from the SFT model for each of 91 of the held-out questions (every other one),
# each distinct response scored once by the reward model:

# %%
NS = (1, 2, 4, 8, 16, 32, 64)
bon_prompts = [x for x in held_out[::2] for _ in range(64)]  # 64 samples per question
bon_texts = sample_texts(sft_model, tokenizer, bon_prompts, temperature=1.0,
                         generator=torch.Generator().manual_seed(0))
gold_scores = P.gold_reward(bon_prompts, bon_texts)  # (5824,) g(x, y)
rm_scores = O.score_distinct(lambda x, y: RM.score(reward_model, tokenizer, x, y),
                             bon_prompts, bon_texts)  # (5824,) r_phi(x, y)
bon = O.best_of_n_from_samples(bon_prompts, bon_texts, rm_scores, gold_scores, NS)
distinct = len(set(zip(bon_prompts, bon_texts))) / len(bon_texts)
display(HTML(html_table({f"n = {r['n']}": {k: r[k] for k in ("kl", "kl_bound", "proxy", "gold")}
                         for r in bon}, digits=3, index_name="best-of-n against r_phi")))
print(f"{distinct:.0%} of a question's 64 samples are distinct responses (on average)")
assert all(r["kl"] <= r["kl_bound"] + 1e-9 for r in bon), bon
assert all(r["kl"] < r["kl_bound"] for r in bon[1:]), bon  # strictly, since samples repeat
count = Counter(zip(bon_prompts, bon_texts))
best_of_question = {}
for x, y, score in zip(bon_prompts, bon_texts, rm_scores.tolist()):
    best_of_question[x] = max(best_of_question.get(x, (-math.inf, "")), (score, y))
top_share = sum(count[x, y] for x, (_, y) in best_of_question.items()) / len(bon_prompts)
print(f"the response r_phi scores highest is {top_share:.1%} of its question's samples, on "
      f"average; KL at n = 64 is {bon[-1]['kl'] / bon[-1]['kl_bound']:.0%} of the bound")
gold_by_n = {r["n"]: r["gold"] for r in bon}
peak_n = max(gold_by_n, key=gold_by_n.get)
print(f"best-of-n's gold peaks at n = {peak_n} ({gold_by_n[peak_n] - gold_by_n[1]:+.3f} over "
      f"n = 1), and at n = {NS[-1]} it is {gold_by_n[NS[-1]] - gold_by_n[1]:+.3f}")
assert 4 <= peak_n <= 16 and gold_by_n[NS[-1]] < gold_by_n[peak_n] - 0.1, gold_by_n  # up, down

# %% [markdown]
# The estimate stays below the bound at every $n$, as it must. How far below depends on the
# *winners*: a response that best-of-n keeps, if it was common among the samples anyway, costs
# little KL. Against this reward model the winners are rare (the share printed above), so
# best-of-n pays close to the full $\log n - \frac{n-1}{n}$, even though the SFT model repeats
# itself a lot. Section 4 meets selectors for which the gap is large.
#
# ### RL, against the reward model and against the gold
#
# Both runs use lesson 07's settings (16 questions x 4 samples per step, learning rate
# $8 \times 10^{-5}$, $\beta = 0.01$, 100 steps), lesson 07's loosest leash and the only one of its
# sweep run here, so that the lesson fits in three minutes on two cores. Each run is measured on
# the held-out questions after 5 steps and then every 10 (one sample each, the same seed every
# time; at this learning rate the first 10 steps already move the policy a nat): that is
# where its gold peak is read, not on the noisy training batches. The runs are trained the first
# time and cached (`O.load_rl_run`):

# %%
print(inspect.getsource(O.load_rl_run))

# %%
RL_CONFIG = ReinforceConfig(steps=100, batch_size=16, samples_per_prompt=4, lr=8e-5,
                            beta=0.01, seed=0)  # lesson 07's run with beta = 0.01
CHECKPOINTS = (5, *range(10, 101, 10))
EVAL_SAMPLES = 1  # responses per held-out question at every checkpoint
run_rm = O.load_rl_run("reward_model", RL_CONFIG, CHECKPOINTS, n_samples=EVAL_SAMPLES)
rl_rm = run_rm["rows"]
rl_gold = O.load_rl_run("gold", RL_CONFIG, CHECKPOINTS, n_samples=EVAL_SAMPLES)["rows"]
proxy = rlhf.moving_average([h["proxy"] for h in run_rm["history"]], window=5)
display(HTML(html_table({f"step {a['step']:.0f}": {
    "RL vs r_phi: KL": a["kl"], "gold": a["gold"],
    "proxy (training batches)": proxy[int(a["step"]) - 1] if a["step"] else math.nan,
    "RL vs gold: KL": b["kl"], "gold (of this run)": b["gold"]}
    for a, b in zip(rl_rm, rl_gold)}, digits=3, index_name="held-out checkpoint")))

# %% [markdown]
# And the DPO models, measured the same way (same questions, same seed). Section 2's two, and
# two more trained the same way with `seed=1` in `DPOConfig`: the same comparisons, drawn in
# another order. A DPO run this short on noisy pairs is itself a noisy thing, and the chart
# should show how noisy:

# %%
DPO_SEEDS = (0, 1)
dpo_runs = {(b, 0): m for b, m in dpo_models.items()}
dpo_runs |= {(b, seed): dpo.load_dpo_model(train_pairs, dpo.DPOConfig(beta=b, seed=seed),
                                           device=device)[0]
             for seed in DPO_SEEDS[1:] for b in DPO_BETAS}
dpo_points = {}
for (b, seed), m in dpo_runs.items():
    pol_c, pol_r = dpo.pair_logps(m, tokenizer, test_pairs)
    dpo_points[b, seed] = rlhf.evaluate_policy(m, sft_model, tokenizer, held_out,
                                               n_samples=EVAL_SAMPLES, seed=0) | {
        "accuracy": RM.pairwise_accuracy(dpo.implicit_rewards(pol_c, ref_c, b),
                                         dpo.implicit_rewards(pol_r, ref_r, b))}
display(HTML(html_table({f"beta = {b}, seed = {seed}": r for (b, seed), r in dpo_points.items()},
                        digits=3, index_name="DPO on the held-out questions")))
assert all(rm_accuracy - 0.06 <= r["accuracy"] <= rm_accuracy + 0.03
           for r in dpo_points.values()), dpo_points

# %% [markdown]
# ### The chart, and Gao et al.'s curves
#
# Gao et al. found that the gold reward of each method, as a function of
# $d = \sqrt{\mathrm{KL}}$, follows a simple form: for best-of-n
# $R_\text{bon}(d) = d\,(\alpha - \beta_\text{bon}\, d)$, for RL
# $R_\text{RL}(d) = d\,(\alpha - \beta_\text{RL} \log d)$, with $R$ the gold *gain* over the
# initial policy (here: each series' own starting point, the SFT model). Fit both by least
# squares:

# %%
print(inspect.getsource(O.fit_gao))

# %%
gold_0 = rl_rm[0]["gold"]  # the SFT model on the held-out questions (step 0)
series = {
    "best-of-n (KL from the samples)": [(r["kl"], r["gold"] - bon[0]["gold"]) for r in bon],
    "best-of-n (at the bound)": [(r["kl_bound"], r["gold"] - bon[0]["gold"]) for r in bon],
    "RL vs reward model": [(r["kl"], r["gold"] - gold_0) for r in rl_rm],
    "RL vs gold": [(r["kl"], r["gold"] - gold_0) for r in rl_gold],
    "DPO": [(r["kl"], r["gold"] - gold_0) for r in dpo_points.values()],
}
fits = {"best-of-n (KL from the samples)": "best-of-n", "RL vs reward model": "RL",
        "RL vs gold": "RL"}
fitted = {name: O.fit_gao(*zip(*series[name]), form) for name, form in fits.items()}
summary = {}
for name, points in series.items():
    best_kl, best_gain = max(points, key=lambda p: p[1])
    fit = fitted.get(name)
    summary[name] = {"best gold gain": best_gain, "at KL": best_kl,
                     "gain per nat there": best_gain / max(best_kl, 1e-9),
                     "fit": fit.form if fit else "-", "alpha": fit.alpha if fit else math.nan,
                     "beta": fit.beta if fit else math.nan, "R^2": fit.r2 if fit else math.nan,
                     "fitted peak at KL": fit.peak_kl() if fit else math.nan}
display(HTML(html_table(summary, digits=3, index_name="series")))

COLORS = {"best-of-n (KL from the samples)": "black", "best-of-n (at the bound)": "gray",
          "RL vs reward model": "tab:red", "RL vs gold": "tab:green", "DPO": "tab:purple"}


def gold_vs_kl(series: dict, fitted: dict, title: str) -> Figure:
    """Gold gain against KL (left) and against sqrt(KL) with the fitted forms (right)."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, sqrt_axis in zip(axes, (False, True)):
        for name, points in series.items():
            x = [math.sqrt(max(k, 0.0)) if sqrt_axis else k for k, _ in points]
            style = dict(marker="o", ms=4)
            if name == "DPO":
                style = dict(ls="none", marker="D", ms=7)
            elif "bound" in name:
                style = dict(marker="o", ms=4, ls=":", mfc="none")
            ax.plot(x, [y for _, y in points], color=COLORS.get(name), label=name, **style)
        ax.axhline(0, color="gray", lw=0.6)
        ax.grid(alpha=0.3)
        ax.set_ylabel("gold gain over the SFT model")
        ax.set_xlabel("sqrt(KL) (sqrt-nats)" if sqrt_axis else "KL(pi || pi_SFT) (nats)")
    for name, fit in fitted.items():
        d = torch.linspace(0, max(math.sqrt(max(k, 0.0)) for k, _ in series[name]), 100)
        axes[1].plot(d, fit(d), color=COLORS.get(name), lw=1, alpha=0.6, ls="--")
    axes[0].legend(fontsize=7, loc="best")
    axes[1].set_title("dashed: Gao et al.'s forms, fitted", fontsize=10)
    fig.suptitle(title)
    return fig


fig = gold_vs_kl(series, fitted, "Gold bought per unit of distance from the SFT model "
                                 "(held-out questions)")
for (b, seed), (k, y) in zip(dpo_points, series["DPO"]):
    fig.axes[0].annotate(f"beta={b}, seed {seed}", (k, y), fontsize=7, xytext=(4, 4),
                         textcoords="offset points")
display(fig)
with_peak = [n for n in fitted if summary[n]["best gold gain"] > series[n][-1][1] + 0.02]
print(f"curves with a measured peak (they end lower than their best): {with_peak}")
assert "RL vs reward model" in with_peak, with_peak
assert summary["RL vs gold"]["best gold gain"] - series["RL vs gold"][-1][1] < 0.05, summary
assert all(summary[n]["R^2"] >= 0.8 for n in with_peak), summary
assert all(dpo_points[DPO_BETAS[0], seed]["kl"] > dpo_points[DPO_BETAS[-1], seed]["kl"]
           for seed in DPO_SEEDS), dpo_points
assert max(gain for _, gain in series["DPO"]) < summary["RL vs reward model"]["best gold gain"]
assert summary["RL vs gold"]["best gold gain"] > max(
    summary[n]["best gold gain"] for n in series if n != "RL vs gold") + 0.05, summary

# %% [markdown]
# Read the chart from the left, where every method starts (the SFT model, gain 0):
#
# - **RL against the gold** rises steadily and has not turned down when the run stops: with a
#   perfect reward there is nothing to exploit, only the KL leash and the length of the run.
#   It is the ceiling of the chart.
# - **RL against the reward model** rises, peaks, and falls: lesson 07's over-optimization,
#   measured on held-out questions at checkpoints. Gao et al.'s RL form
#   $d(\alpha - \beta \log d)$ fits it (the $R^2$ in the table), though its fitted peak sits
#   earlier than the measured one: the curve is flat near its top and then collapses, and one
#   smooth form has to trade the two off.
# - **Best-of-n** against the same reward model rises as fast per nat as RL at first, peaks near
#   $n = 8$ (the $n$ printed under its table) and then falls back by $n = 64$:
#   over-optimization without any training, as the winner of 64 is more and more often a
#   response the reward model overrates. Gao et al.'s best-of-n form $d(\alpha - \beta d)$
#   fits it.
# - **DPO** lands wherever its draw of pairs takes it (the diamonds, labelled). With the same
#   seed, the smaller $\beta$ always went further: DPO has no sampling step to hold it near the
#   SFT model, only $\beta$ in its loss, and with a finite set of noisy comparisons the
#   log-ratios run (section 1) and the policy leaves the answer templates (section 2). The runs
#   that went far gained little gold or lost some; a run that stayed within a nat or two gained
#   more, on or under RL's curve. None reached RL's best.
#
# Where each curve peaks, measured and fitted, is in the table; the ceiling (RL against the
# gold) is asserted above every method that sees only a learned reward.

# %% [markdown]
# ## 4. What it means
#
# Which method gets the most gold per nat? Compare them at the same KL budget: each curve's gold
# gain, read (by linear interpolation between its points) at a KL of 0.5, 1 and 2 nats, where
# the curve reaches that far; and each DPO model against RL at the KL that DPO model spent.

# %%
def gain_at(points: list[tuple[float, float]], budget: float) -> float:
    """A series' gold gain at KL = budget, interpolated; nan beyond its last point."""
    pts = sorted(points)
    if budget > pts[-1][0]:
        return math.nan
    return float(np.interp(budget, [k for k, _ in pts], [g for _, g in pts]))


BUDGETS = (0.5, 1.0, 1.5)
curves = ("RL vs gold", "RL vs reward model", "best-of-n (KL from the samples)")
display(HTML(html_table({name: {f"gain at KL {k}": gain_at(series[name], k) for k in BUDGETS}
                         for name in curves}, digits=3, index_name="series")))
rl_reach = max(k for k, _ in series["RL vs reward model"])  # the furthest KL RL reached


def rl_at(k: float) -> float:
    """RL against r_phi at KL k, or at its furthest point for a DPO run that went further."""
    return gain_at(series["RL vs reward model"], min(k, rl_reach))


for (b, seed), (k, y) in zip(dpo_points, series["DPO"]):
    where = "at that KL" if k <= rl_reach else f"at its furthest, KL {rl_reach:.2f}"
    print(f"DPO, beta = {b}, seed {seed}: gain {y:+.3f} at KL {k:.2f}; RL vs the reward model "
          f"{where}: {rl_at(k):+.3f}")
for k in BUDGETS:
    g_gold, g_rm, g_bon = (gain_at(series[name], k) for name in curves)
    assert g_gold > g_rm - 0.05, (k, g_gold, g_rm)  # the gold run is never clearly below
    assert g_rm > g_bon - 0.03, (k, g_rm, g_bon)  # RL is never clearly below best-of-n
g_gold, g_rm, g_bon = (gain_at(series[name], BUDGETS[-1]) for name in curves)
assert g_gold > g_rm + 0.1 and g_rm > g_bon + 0.03, (g_gold, g_rm, g_bon)
claims.check("constrained_by_what_you_measure", g_gold - g_rm)
rl_best = summary["RL vs reward model"]["best gold gain"]
rl_peak_kl = summary["RL vs reward model"]["at KL"]
far = [(k, y) for k, y in series["DPO"] if k > 2 * rl_peak_kl]  # DPO runs that went far
near = [(k, y) for k, y in series["DPO"] if k <= 2 * rl_peak_kl]
assert far and near, series["DPO"]
for k, y in far:  # little or no gold, and not below RL against r_phi at that KL
    assert y < rl_best / 2 and y > rl_at(k) - 0.02, (k, y, rl_best)
k_far, y_far = max(far)  # where DPO went furthest, RL against r_phi has lost far more
assert y_far > rl_at(k_far) + 0.2, (k_far, y_far)
for k, y in near:  # on or under RL's curve
    assert y < rl_at(k) + 0.02, (k, y)

# %% [markdown]
# Against lesson 06's reward model, RL and best-of-n buy about the same gold per nat up to 1
# nat; by 1.5 nats best-of-n is past its peak and falls off faster, while RL against the reward
# model is near its own peak. Neither comes close to RL against the gold at 1.5 nats: that gap
# is the price of the reward model's errors.
#
# DPO's runs that went far spent more KL than any other method's best point and gained little
# or nothing over the SFT model (none of them half of RL's best); at the same KL, though, RL
# against the reward model has lost far more (RL is deep into changing the subject there; a
# DPO run that went further than RL's 100 steps is compared with RL's last checkpoint). KL is a poor yardstick across methods that move the
# policy in different directions (Gao et al. say as much): those DPO runs spent their nats on
# breaking the answer templates (section 2), RL on its exploit.
#
# Gao et al. found best-of-n the more KL-efficient of the two with their reward models
# (measured, as in lesson 07, at its KL bound). Here the two are about even, and best-of-n
# over-optimizes sooner. Does that say something about best-of-n, or about this reward model?
# The samples of section 3 can tell, with no more training: run best-of-n on the *same* 5,824
# samples with better selectors. Lesson 06's recall rule ranks held-out pairs close to the noise
# ceiling; the gold rater itself is the perfect selector.

# %%
recall_bon = O.score_distinct(lambda x, y: P.recall_scores(sft_model, tokenizer, x, y),
                              bon_prompts, bon_texts)  # (5824,) the recall rule's scores
selectors = {f"reward model ({rm_accuracy:.3f} held-out)": rm_scores,
             f"recall rule ({recall_accuracy:.3f})": recall_bon, "gold itself": gold_scores}
bon_by = {name: O.best_of_n_from_samples(bon_prompts, bon_texts, proxy, gold_scores, NS)
          for name, proxy in selectors.items()}
by_selector = {f"best-of-n, {name}": [(r["kl"], r["gold"] - rows[0]["gold"]) for r in rows]
               for name, rows in bon_by.items()}
by_selector |= {"RL vs reward model": series["RL vs reward model"],
                "RL vs gold": series["RL vs gold"]}
bon_fits = {name: O.fit_gao(*zip(*pts), "best-of-n") for name, pts in by_selector.items()
            if name.startswith("best-of-n")}
COLORS |= dict(zip(bon_fits, ("black", "tab:blue", "tab:olive")))
display(gold_vs_kl(by_selector, bon_fits, "Best-of-n with better selectors, on the same samples"))
rows = {name: {f"gain at n = {r['n']}": r["gold"] - rows_[0]["gold"] for r in rows_[2::2]}
        | {"KL at n = 64": rows_[-1]["kl"], "bound": rows_[-1]["kl_bound"],
           "R^2": bon_fits[f"best-of-n, {name}"].r2}
        for name, rows_ in bon_by.items()}
display(HTML(html_table(rows, digits=3, index_name="best-of-n selector")))
rm_best, recall_best, gold_best = (max(r["gold"] for r in rows_) - rows_[0]["gold"]
                                   for rows_ in bon_by.values())
for rows_ in bon_by.values():  # picking by gold is the best that any selector can do
    assert all(b["gold"] >= a["gold"] - 1e-9 for a, b in zip(rows_, bon_by["gold itself"]))
assert recall_best > rm_best + 0.2, (rm_best, recall_best)
bon_gold_n64 = bon_by["gold itself"][-1]
rl_gold_end = series["RL vs gold"][-1]  # (KL, gain) where RL against the gold stopped
for name in list(bon_by)[1:]:  # the recall rule and the gold: more gold per nat than RL
    n64 = bon_by[name][-1]
    gain = n64["gold"] - bon_by[name][0]["gold"]
    assert gain > rl_gold_end[1] + 0.1, (name, n64, rl_gold_end)
    assert gain / n64["kl"] > rl_gold_end[1] / rl_gold_end[0], (name, n64, rl_gold_end)
    assert n64["kl"] < 0.6 * n64["kl_bound"], (name, n64)

# %% [markdown]
# With a good selector, best-of-n turns around: picked by the recall rule or by the gold, the
# best of 64 samples gains more gold than RL against the gold did in its whole run, for about
# the same KL, and it keeps rising with $n$ where the reward model's pick falls. Two things
# explain the swap.
#
# - **Best-of-n is only as good as the reward model's ranking of single responses.** It keeps
#   the one response of $n$ that $r_\phi$ scores highest, and at lesson 06's held-out accuracy
#   the highest-scored of 64 is, very often, one that $r_\phi$ *over*rates: the more candidates,
#   the more surely the winner is a mistake of the reward model (the winner's curse). RL instead
#   follows the *average* direction in which $r_\phi$ pays, over thousands of responses; it
#   learns what the reward model gets right systematically (a readable, on-topic answer) before
#   it finds what it gets wrong systematically (lesson 07's change of subject).
# - **The KL a selector costs depends on how common its winners are.** The recall rule and the
#   gold give many responses the same score (for the gold, every confident right answer to a
#   question is as good as any other), and their winners are responses the SFT model says
#   often anyway: their best-of-64 costs well under the $\log n - \frac{n-1}{n}$ bound.
#
# So "which should I use?" has no answer without "how good is your reward?". With a reward
# model far below the noise ceiling, optimizing it hard (large $n$, long RL, small $\beta$)
# buys its mistakes, and methods that average its signal over many responses, stopped early,
# do best. With a reward close to the rater, the cheapest optimizer wins. DPO sits with the
# learned rewards: its implicit reward ranks held-out pairs about as well as $r_\phi$ (within a
# few points, either way, over the four runs), because it learns from the same comparisons;
# and with no sampling step it never sees the responses its own policy writes. What it gains is
# simplicity (one loss, no reward model, no sampling), not accuracy.
#
# Real pipelines measure what you cannot see in them without a gold rater: held-out human
# comparisons at checkpoints, the KL spent, and samples read by a person.

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- The KL-regularized optimum in closed form: gradient ascent on E[r] - beta KL reached
  it to a total variation of {max(tv.values()):.0e} for beta = {TINY_BETAS}; a bigram policy,
  which cannot represent it, stays {min(tv_bigram.values()):.3f} away or more. DPO on
  {len(chosen)} noisy comparisons of the tiny policy's samples got to {tv_dpo:.3f} of it (from
  {tv_ref:.3f}); with another draw, in which a rare response never lost, DPO gave that response
  {pi_dpo_1[undefeated].sum():.2f} of the probability ({tv_dpo_1:.2f} from pi*).
- DPO's implicit reward ranks {', '.join(f'{a:.1%}' for a in dpo_accuracy.values())} of the
  held-out pairs like the rater (beta = {', '.join(map(str, DPO_BETAS))}); lesson 06's reward
  model {rm_accuracy:.1%}, its recall rule {recall_accuracy:.1%}, the noise ceiling
  {ceiling:.1%}. DPO's policy with beta = {DPO_BETAS[0]} leaves
  {shares[loose]['unfinished']:.0%} of its answers unfinished (the SFT model
  {shares['SFT']['unfinished']:.0%}), and {shares[loose]['invalid']:.0%} of them leave the
  answer templates (the SFT model {shares['SFT']['invalid']:.0%}).
- Best-of-n's KL from the samples ({distinct:.0%} of them distinct) stays below
  log n - (n-1)/n at every n ({bon[-1]['kl']:.2f} vs {bon[-1]['kl_bound']:.2f} nats at n = 64
  against the reward model; {bon_gold_n64['kl']:.2f} with the gold as the selector).""")
for name in ("best-of-n (KL from the samples)", "RL vs reward model", "RL vs gold"):
    r = summary[name]
    print(f"- {name}: best gold gain {r['best gold gain']:+.3f} at KL {r['at KL']:.2f} nats; "
          f"Gao fit ({r['fit']}) R^2 {r['R^2']:.2f}, fitted peak at KL "
          f"{r['fitted peak at KL']:.2f}.")
for (b, seed), r in dpo_points.items():
    print(f"- DPO, beta = {b}, seed {seed}: gold gain {r['gold'] - gold_0:+.3f} at KL "
          f"{r['kl']:.2f} nats; held-out pairwise accuracy {r['accuracy']:.1%}.")
print(f"- Best-of-64 picked by the recall rule gains {recall_best:+.3f}, by the gold "
      f"{gold_best:+.3f}, by the reward model at best {rm_best:+.3f}: how much gold a nat buys "
      "depends first on the reward.")

# %% [markdown]
# That closes the course's arc from the essay's recipe. Imitation copies what annotators
# wrote; RL optimizes what you reward; a learned reward is a proxy, and every way of
# optimizing it, RL, best-of-n or DPO, buys its mistakes along with its knowledge. In the
# exercises you write the two functions this lesson stands on: the DPO loss and the
# KL-optimal policy.
