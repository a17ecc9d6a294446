# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/09_grpo_hard_problems.ipynb)
#
# # Lesson 09 - GRPO and the hard problems
#
# > *If $r$ rewards correctness, the model is pulled toward correctness even when correct
# > answers were rare in pretraining.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Lesson 05 could only show the first half of that sentence: on two-number sums the SFT
# model's most likely answer was already right 93% of the time, and RL mostly sharpened it.
# This lesson takes a task where a sampled answer is right only about one time in four, and
# the algorithm that every reasoning-RL recipe now runs on such tasks: **GRPO** (Shao et al.,
# 2024, DeepSeekMath), PPO's clipped surrogate with the critic replaced by a *group* of samples
# of the same prompt.
#
# The questions GRPO users keep asking have answers we can measure here: "the reward never
# rises" (open-r1 #474, #436: groups whose samples all score the same give no signal), "why do
# responses get longer?" (understand-r1-zero #11: the length bias of per-response
# normalization), "does RL teach new things or only sharpen?" (pass@k against pass@1).
#
# **In this lesson you will**
# 1. check, on lesson 04's enumerable policy, what a group baseline does to the gradient:
#    mean-centring scales it by $(G-1)/G$, dividing by the group's std turns it;
# 2. train the SFT model with GRPO on sums of four numbers, where a sampled answer is right
#    about a quarter of the time, and read **pass@1** and **pass@16** before and after;
# 3. compare GRPO's three **loss normalizations** and the weight each gives a long wrong
#    answer;
# 4. run the same job in **TRL**'s `GRPOTrainer`, the library people use, and compare the two
#    on one plot.

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
import math

import torch
from IPython.display import HTML, display

import course_lib
from course_lib import claims, grpo, mdp
from course_lib import rewards as R
from course_lib.engine import fast_sample
from course_lib.grpo import (
    GRPOConfig,
    group_advantages,
    grpo_loss,
    sampled_pass_at_k,
    train_grpo,
)
from course_lib.plots import html_table, new_figure
from course_lib.policy_gradient import group_baseline
from course_lib.sampling import sample_texts

course_lib.set_seed(0)
device = course_lib.get_device()

# %% [markdown]
# ## 1. Group baselines, exactly
#
# GRPO samples a group of $G$ responses $y_1, \dots, y_G$ to the same prompt $x$ and gives
# each the advantage
#
# $$A_i = \frac{r(x, y_i) - \bar r}{\operatorname{std}(r_1, \dots, r_G) + \epsilon}, \qquad
#   \bar r = \frac{1}{G} \sum_{j=1}^G r(x, y_j),$$
#
# the reward standardized within its group (the sample std, as TRL computes it). Every token of
# $y_i$ is pushed with $A_i$. Here is the function `train_grpo` calls (exercise 9.1 asks you to
# write it):

# %%
print(inspect.getsource(group_advantages))

# %% [markdown]
# Lesson 05's leave-one-out baseline $b_i = \frac{1}{G-1} \sum_{j \ne i} r_j$ does not depend
# on $y_i$, so it adds no bias. The group mean $\bar r$ *includes* $r_i$: since $r_i - \bar r =
# \frac{G-1}{G}(r_i - b_i)$, the mean-centred estimate is the unbiased one times $(G-1)/G$, a
# shorter step in exactly the right direction. Dividing by the group's std is another matter:
# each group gets its own scale, depending on its own samples, and groups with a small spread
# get a large weight. That can turn the expected update away from $\nabla_\theta J(\theta)$.
#
# Lesson 04's tiny policy can say only 40 things, so $\nabla_\theta J(\theta)$ is exact. Draw
# 20,000 groups of $G = 4$ responses, compute each group's estimate
# $\frac{1}{G} \sum_i A_i \nabla_\theta \log \pi_\theta(y_i)$ with the three advantages, and
# compare their mean with the exact gradient: its size along the exact gradient (1 is the
# exact step), and the cosine between the mean update and the exact gradient, each with its
# standard error.

# %%
tiny = mdp.TinyPolicy(seed=0)
env = mdp.tiny_task(tiny)
exact = mdp.exact_gradient(tiny, env).reshape(-1)  # (P,) grad J(theta), exactly
GROUP, GROUPS = 4, 20_000
ids, mask = tiny.sample(GROUP * GROUPS, generator=torch.Generator().manual_seed(0))
returns = mdp.step_rewards(env, "", ids, mask).sum(dim=1)  # (N,) r(y) of each sample
scores = mdp.token_scores(tiny, ids, mask).sum(dim=1)  # (N, P) grad log pi(y) of each sample
advantages = {
    "leave-one-out (lesson 05)": returns - group_baseline(returns, GROUP, "loo"),
    "mean-centred (Dr. GRPO)": group_advantages(returns, GROUP, scale_std=False),
    "mean-centred / std (GRPO)": group_advantages(returns, GROUP, scale_std=True),
}


def group_updates(A: torch.Tensor) -> torch.Tensor:
    """Each group's estimate (1/G) sum_i A_i grad log pi(y_i): (GROUPS, P)."""
    return (A[:, None] * scores).view(GROUPS, GROUP, -1).mean(dim=1)


def cosine(u: torch.Tensor, v: torch.Tensor) -> float:
    return float(u @ v / (u.norm() * v.norm()))


boot = torch.Generator().manual_seed(1)
resamples = [torch.randint(GROUPS, (GROUPS,), generator=boot) for _ in range(200)]
group_rows = {}
for name, A in advantages.items():
    u = group_updates(A)  # (GROUPS, P)
    along = u @ exact / (exact @ exact)  # (GROUPS,) each group's size along grad J
    boot_cos = torch.tensor([cosine(u[rows].mean(0), exact) for rows in resamples])
    group_rows[name] = {"size along grad J": float(along.mean()),
                        "its standard error": float(along.std() / GROUPS ** 0.5),
                        "cosine with grad J": cosine(u.mean(0), exact),
                        "cosine's standard error": float(boot_cos.std())}
display(HTML(html_table(group_rows, digits=4,
                        index_name=f"{GROUPS:,} groups of G = {GROUP}, exact |grad J| = "
                                   f"{float(exact.norm()):.3f}")))
loo, centred, scaled = group_rows.values()
shrink = (GROUP - 1) / GROUP
assert abs(loo["size along grad J"] - 1) <= 3 * loo["its standard error"], loo
assert abs(centred["size along grad J"] - shrink) <= 3 * centred["its standard error"], centred
assert 1 - centred["size along grad J"] > 3 * centred["its standard error"], centred
turn = 1 - scaled["cosine with grad J"]
assert turn > 3 * scaled["cosine's standard error"], scaled
assert 1 - centred["cosine with grad J"] < turn, (centred, scaled)
print(f"mean-centred: {centred['size along grad J']:.3f} of the exact step "
      f"((G-1)/G = {shrink:.3f}); std-scaled: cosine {scaled['cosine with grad J']:.4f} "
      f"(1 - cosine = {turn:.4f}, {turn / scaled['cosine' + chr(39) + 's standard error']:.0f} "
      "standard errors)")

# %% [markdown]
# The leave-one-out update is the exact gradient on average; the mean-centred one is $(G-1)/G$
# of it, within its standard errors, and points the same way. Dividing by each group's std
# turns the mean update away from $\nabla_\theta J$: its cosine with the exact gradient is
# below 1 by many standard errors. GRPO does not climb $J(\theta)$ itself but a reweighted
# objective in which prompts whose samples agree count more. On 0/1 rewards that means: a
# prompt solved 1 time in 8 and one solved 7 times in 8 get the same total push. Dr. GRPO
# (Liu et al., 2025) drops the division for this reason; TRL offers both
# (`scale_rewards="group"` or `"none"`).

# %% [markdown]
# ## 2. When correct answers are rare
#
# The task: sums of four two-digit numbers, `"Q: What is 81 + 66 + 26 + 49? A:"`. The SFT
# model learned from the corpus and the annotators to work them out step by step,
# `"81 + 66 = 147, 147 + 26 = 173, 173 + 49 = 222."`, and the reward is lesson 05's
# `exact_match_reward`: 1 when the last number written is the sum, 0 otherwise. It is hard for
# this model because every step must be right, and a slip in any of the three carries through
# to the end. The annotators' own working has such slips (a step of their worked sums is wrong
# `AnnotatorMix.p_chain_slip` = 30% of the time, and three steps are all right only
# $0.7^3 \approx 34\%$ of the time), and the SFT model copied the habit along with the working
# (lesson 11 measures its steps one by one). The held-out problems start with a pair of numbers
# the SFT data never summed.
#
# **pass@k** is the chance that at least one of $k$ samples is right. From $n \ge k$ samples of
# a problem of which $c$ are right, the unbiased estimate (Chen et al., 2021; exercise 9.2) is
#
# $$\text{pass@}k = 1 - \binom{n - c}{k} \Big/ \binom{n}{k},$$
#
# averaged over the problems. pass@1 is the sampled accuracy; pass@16 asks whether the right
# answer is *within reach* of the model at all.

# %%
sft_model, tokenizer = course_lib.load_sft_model(device=device)
test_prompts = grpo.chain_prompts("test", 200)
N_SAMPLES, KS = 16, (1, 4, 16)
sft_pass = sampled_pass_at_k(sft_model, tokenizer, test_prompts, R.exact_match_reward,
                             N_SAMPLES, KS, grpo.LESSON_CONFIG.max_new_tokens, seed=0)
for k, (p, se) in sft_pass.items():
    print(f"SFT model, {len(test_prompts)} held-out sums x {N_SAMPLES} samples: "
          f"pass@{k} = {p:.3f} +- {se:.3f}")
assert sft_pass[1][0] <= 0.3 and sft_pass[16][0] >= 0.6, sft_pass
claims.check("correct_answers_rare", sft_pass[1][0])
claims.check("correct_answers_in_reach", sft_pass[16][0])

# %% [markdown]
# A sampled answer is right about a quarter of the time, yet for nearly every problem some of
# the 16 samples are right: the right working is within the model's reach, rarely taken.
# Here is what a group of 8 samples of a held-out problem looks like, with its rewards and
# GRPO's advantages (the first problem, in order, whose group holds both right and wrong
# answers):

# %%
sampler = torch.Generator().manual_seed(3)
for prompt in test_prompts:  # the first held-out problem whose group has right and wrong answers
    group = sample_texts(sft_model, tokenizer, [prompt] * 8,
                         max_new_tokens=grpo.LESSON_CONFIG.max_new_tokens, generator=sampler)
    group_r = R.exact_match_reward([prompt] * 8, group)
    if 0 < group_r.sum() < 8:
        break
group_A = group_advantages(group_r, 8)
print(prompt, "  (the sum is", R.truth_of(prompt) + ")")
for text, r, a in zip(group, group_r, group_A):
    print(f"  r = {r:.0f}  A = {a:+.2f}  {text}")

# %% [markdown]
# The right samples are pushed up, the wrong ones down, each by its advantage, token by token.
# When all 8 samples are wrong (or all right), every advantage is 0 and the prompt teaches
# nothing: that is why GRPO "does not learn" on tasks that are too hard for the starting model
# (pass@8 near 0) and why the reward stops rising as the task becomes easy (every group right).
# The loop logs the share of such groups as `no_signal`.
#
# The training loop reads like lesson 08's, without the critic: sample a group per prompt,
# score, group advantages, `epochs` updates of the clipped loss, log.

# %%
print(inspect.getsource(train_grpo))

# %% [markdown]
# The lesson's run, `grpo.LESSON_CONFIG` (printed below): a group of 8 samples for each of
# the prompts of a step, two updates on each batch (`epochs=2`, TRL's `num_iterations`: the
# second update starts from weights the first has moved, so its ratios differ from 1 and PPO's
# clip holds it near the sampling policy), Adam at a learning rate small enough not to wreck
# the SFT model's working (at three times this rate a single step is enough to wreck it: try
# it). It takes too long to train while you read (the cell below prints how long the shipped
# run took on the machine that made it, from its history), so the course ships this run, made by
# `grpo.load_grpo_model` with this config, as it ships the SFT model (keyed like the SFT and
# reward models: a change to the SFT model, the task, the reward or the config trains it
# again, here, and caches it). Its training history comes with it. The sections below train
# GRPO live too, for fewer steps.

# %%
print(grpo.LESSON_CONFIG)
grpo_model, _, grpo_history = grpo.load_grpo_model(device=device)
print(f"{len(grpo_history)} steps, {grpo_history[-1]['samples']:,} samples; "
      f"training took {grpo_history[-1]['time'] / 60:.1f} minutes when this run was made")
fig = new_figure(figsize=(12, 3))
axes = fig.subplots(1, 3)
steps = [h["step"] for h in grpo_history]
for ax, key, label in zip(axes, ("reward", "no_signal", "solved"),
                          ("mean reward (training batch)", "share of groups with no signal",
                           "share of groups all right")):
    ax.plot(steps, [h[key] for h in grpo_history], lw=1)
    ax.set_title(label, fontsize=10)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
display(fig)
first, last = grpo_history[:10], grpo_history[-10:]
reward_start = sum(h["reward"] for h in first) / len(first)
reward_end = sum(h["reward"] for h in last) / len(last)
no_signal_end = sum(h["no_signal"] for h in last) / len(last)
solved_end = sum(h["solved"] for h in last) / len(last)
print(f"training reward: first 10 steps {reward_start:.3f}, last 10 {reward_end:.3f}; "
      f"groups with no signal in the last 10 steps {no_signal_end:.2f} "
      f"(all right: {solved_end:.2f})")
assert reward_end > reward_start + 0.15, (reward_start, reward_end)

# %% [markdown]
# Now the held-out problems again, with the same 16 samples each:

# %%
grpo_pass = sampled_pass_at_k(grpo_model, tokenizer, test_prompts, R.exact_match_reward,
                              N_SAMPLES, KS, grpo.LESSON_CONFIG.max_new_tokens, seed=0)
pass_rows = {"SFT model": {f"pass@{k}": p for k, (p, _) in sft_pass.items()},
             f"after GRPO ({len(grpo_history)} steps)":
                 {f"pass@{k}": p for k, (p, _) in grpo_pass.items()}}
display(HTML(html_table(pass_rows, digits=3,
                        index_name=f"{len(test_prompts)} held-out sums x {N_SAMPLES}")))
gain1 = grpo_pass[1][0] - sft_pass[1][0]
gain16 = grpo_pass[16][0] - sft_pass[16][0]
print(f"pass@1 {sft_pass[1][0]:.3f} -> {grpo_pass[1][0]:.3f} ({gain1:+.3f}); "
      f"pass@16 {sft_pass[16][0]:.3f} -> {grpo_pass[16][0]:.3f} ({gain16:+.3f})")
assert grpo_pass[1][0] >= 0.6 and gain1 >= 0.15, (sft_pass, grpo_pass)
claims.check("pulled_toward_correctness", grpo_pass[1][0])
assert gain16 < gain1, (gain1, gain16)

# %% [markdown]
# pass@1 rose far above its start: the model now takes the right working much more often.
# pass@16 did not rise with it (it was near 1 already, and it can fall a little as the model
# becomes surer of its answers, wrong ones included). That is the picture Yue et al. (2025) draw for
# reasoning RL at scale: RL with a correctness reward moves probability onto answers the model
# could already reach, so pass@1 climbs toward pass@k, while pass@k at large k, what the model
# can reach at all, does not grow (and at scale it often shrinks). In the essay's words the
# model *is* pulled toward correctness, here from one right sample in three to many more; it
# is pulled toward correct answers that were rare in its samples, not toward ones it could not
# produce. Problems whose 16 samples were all wrong stay out of reach: their groups give no
# signal.

# %% [markdown]
# ## 3. The three normalizations, and the length bias
#
# Every token of $y_i$ carries the clipped term $o_{it} = \min(\rho_{it} A_i,
# \operatorname{clip}(\rho_{it}, 1 - \varepsilon, 1 + \varepsilon) A_i)$ of lesson 08. How the
# terms are averaged is where GRPO's descendants differ:
#
# - **GRPO**: $-\frac{1}{B} \sum_i \frac{1}{|y_i|} \sum_t o_{it}$, each response's mean, then
#   the batch mean;
# - **DAPO**: $-\frac{1}{N} \sum_{i,t} o_{it}$ over the batch's $N$ response tokens (lesson
#   08's `clipped_surrogate_loss`);
# - **Dr. GRPO**: $-\frac{1}{B L} \sum_{i,t} o_{it}$, with $L$ the longest response allowed, a
#   constant.

# %%
print(inspect.getsource(grpo_loss))

# %% [markdown]
# Under GRPO's normalization each token of $y_i$ weighs $1/(B |y_i|)$: a wrong answer of 60
# tokens is pushed down half as hard per token as one of 30, so rambling is the cheaper way to
# be wrong, and wrong answers drift longer (understand-r1-zero #11). DAPO and Dr. GRPO give
# every token the same weight. The gradient of each loss at $\theta = \theta_\text{old}$ with
# respect to each token's log-probability *is* that weight times $-A_i$; on a batch of the SFT
# model's own samples:

# %%
weight_prompts = [p for p in grpo.chain_prompts("train", 8, seed=1) for _ in range(8)]
batch = fast_sample(sft_model, tokenizer, weight_prompts,
                                      grpo.LESSON_CONFIG.max_new_tokens,
                                      generator=torch.Generator().manual_seed(0))
m = batch.response_mask.float()
A = group_advantages(R.exact_match_reward(batch.prompts, batch.texts), 8)
lengths = m.sum(dim=1)
weight_rows = {}
for norm in grpo.NORMALIZATIONS:
    lp = batch.logprobs.clone().requires_grad_()
    grpo_loss(lp, batch.logprobs, A, m, normalization=norm,
              max_tokens=grpo.LESSON_CONFIG.max_new_tokens).backward()
    per_token = (lp.grad / -A[:, None])[A != 0][:, 0]  # the weight of each response's tokens
    L = lengths[A != 0]
    weight_rows[norm] = {"weight x B (shortest)": float(per_token[L.argmin()] * len(A)),
                         "weight x B (longest)": float(per_token[L.argmax()] * len(A)),
                         "weight x |y| x B, spread": float((per_token * L).std() * len(A))}
display(HTML(html_table(weight_rows, digits=4,
                        index_name=f"per-token weights, responses of {int(lengths.min())}-"
                                   f"{int(lengths.max())} tokens")))
grpo_w = weight_rows["grpo"]
assert grpo_w["weight x B (shortest)"] > grpo_w["weight x B (longest)"]
assert grpo_w["weight x |y| x B, spread"] < 1e-5  # weight x length is constant: 1/(B |y|)
for norm in ("dapo", "dr_grpo"):
    row = weight_rows[norm]
    assert math.isclose(row["weight x B (shortest)"], row["weight x B (longest)"],
                        rel_tol=1e-5), norm

# %% [markdown]
# Does the bias show here? Train from the SFT model under each normalization for a short run
# (20 steps of 8 prompts x 8 samples, one update per batch) and watch the length of the
# responses each step pushes down (negative advantage):

# %%
norm_runs = {}
for norm in grpo.NORMALIZATIONS:
    config = GRPOConfig(steps=20, prompts_per_step=8, group_size=8, lr=1e-4,
                        normalization=norm, max_new_tokens=grpo.LESSON_CONFIG.max_new_tokens)
    norm_runs[norm] = train_grpo(copy.deepcopy(sft_model), None, tokenizer,
                                 grpo.chain_prompts("train", grpo.CHAIN_TRAIN_PROMPTS),
                                 R.exact_match_reward, config, progress=False)
fig = new_figure(figsize=(8, 3))
ax = fig.subplots()
drift = {}
for norm, hist in norm_runs.items():
    down = [h["length_down"] for h in hist]
    ax.plot([h["step"] for h in hist], down, label=norm)
    known = [d for d in down if d == d]
    drift[norm] = sum(known[-5:]) / 5 - sum(known[:5]) / 5
ax.set_xlabel("step")
ax.set_ylabel("tokens")
ax.set_title("length of the responses pushed down (negative advantage)", fontsize=10)
ax.legend()
ax.grid(alpha=0.3)
display(fig)
print("change in the length of pushed-down responses, first 5 steps -> last 5:",
      {k: round(v, 2) for k, v in drift.items()})
assert all(abs(v) < 3 for v in drift.values()), drift

# %% [markdown]
# Not here, not in 20 steps: every normalization leaves the length of wrong answers where it
# was, within a few tokens. The answer's form fixes its length (three steps of working), and
# the SFT model hardly ever writes past it, so there is no longer wrong answer for the bias to
# favour. The bias is in the weights above, and it shows where responses *can* grow: open-ended
# reasoning whose length the model chooses, trained for thousands of steps. On such tasks
# DAPO's or Dr. GRPO's normalization is the usual fix; TRL's `loss_type` picks among them.

# %% [markdown]
# ## 4. The same job in TRL
#
# TRL's `GRPOTrainer` runs this algorithm on real models. It takes the course's reward
# function as it is (a function of the prompts and completions), the same SFT model and
# tokenizer, and a config whose names map to this lesson's:
#
# | this lesson | TRL's `GRPOConfig` |
# |---|---|
# | `group_size` | `num_generations` |
# | `prompts_per_step * group_size` | `per_device_train_batch_size` (completions per step) |
# | `epochs` | `num_iterations` |
# | `clip_eps` | `epsilon` |
# | `scale_std=True` / `False` | `scale_rewards="group"` / `"none"` |
# | `normalization="grpo"` / `"dapo"` / `"dr_grpo"` | `loss_type="grpo"` / `"dapo"` / `"dr_grpo"` |
# | `lr`, `beta`, `max_new_tokens`, `temperature` | `learning_rate`, `beta`, `max_completion_length`, `temperature` |
#
# A short matched run of each: 10 steps of 8 prompts x 8 samples, one update per batch, GRPO's
# normalization, the std scaling, no KL ($\beta = 0$, TRL's default), Adam at $10^{-4}$ with
# no schedule. Without TRL installed (Colab has none) the cell says how to install it and
# skips.

# %%
TRL_STEPS, TRL_PROMPTS, TRL_GROUP = 10, 8, 8
match = GRPOConfig(steps=TRL_STEPS, prompts_per_step=TRL_PROMPTS, group_size=TRL_GROUP,
                   lr=1e-4, max_new_tokens=grpo.LESSON_CONFIG.max_new_tokens)
train_prompts = grpo.chain_prompts("train", grpo.CHAIN_TRAIN_PROMPTS)
course_history = train_grpo(copy.deepcopy(sft_model), None, tokenizer, train_prompts,
                            R.exact_match_reward, match, progress=False)
course_rate = course_history[-1]["samples"] / course_history[-1]["time"]
try:
    import trl
except ImportError:
    trl = None
    print("TRL is not installed: `pip install trl` (or `pip install -e '.[dev]'` in the "
          "course's repository), then run this section again.")

# %%
trl_log = []
if trl is not None:
    import logging
    import os
    import tempfile
    import time
    import warnings

    os.environ["TQDM_DISABLE"] = "1"
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("trl").setLevel(logging.ERROR)

    def course_reward(prompts, completions, **kwargs):
        """TRL's reward signature around the course's reward function."""
        return R.exact_match_reward(list(prompts), list(completions)).tolist()

    class RewardLog(TrainerCallback):
        """Each step's mean reward and the seconds since training began."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.t0 = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "reward" in logs:
                trl_log.append({"step": state.global_step, "reward": logs["reward"],
                                "no_signal": logs.get("frac_reward_zero_std", float("nan")),
                                "time": time.perf_counter() - self.t0})

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trl_policy = copy.deepcopy(sft_model).cpu()
        trl_policy.config._name_or_path = tmp  # TRL reads the model's name for its logs
        trl_config = trl.GRPOConfig(
            output_dir=tmp, max_steps=TRL_STEPS, seed=0, data_seed=0,
            per_device_train_batch_size=TRL_PROMPTS * TRL_GROUP, num_generations=TRL_GROUP,
            gradient_accumulation_steps=1, steps_per_generation=1, num_iterations=1,
            max_completion_length=match.max_new_tokens, temperature=1.0, top_p=1.0, top_k=0,
            learning_rate=match.lr, lr_scheduler_type="constant", warmup_steps=0,
            weight_decay=0.0, max_grad_norm=match.max_grad_norm, beta=match.beta,
            epsilon=match.clip_eps, loss_type="grpo", scale_rewards="group",
            use_cpu=device.type == "cpu", bf16=False, fp16=False, report_to="none",
            disable_tqdm=True, logging_steps=1, save_strategy="no", log_completions=False,
            remove_unused_columns=False, dataloader_num_workers=0)
        trainer = trl.GRPOTrainer(model=trl_policy, reward_funcs=course_reward, args=trl_config,
                                  train_dataset=Dataset.from_dict({"prompt": train_prompts}),
                                  processing_class=tokenizer, callbacks=[RewardLog()])
        for callback in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(callback)
        trainer.train()
    trl_rate = len(trl_log) * TRL_PROMPTS * TRL_GROUP / trl_log[-1]["time"]
    print(f"TRL {trl.__version__}: {len(trl_log)} steps")
    assert len(trl_log) == TRL_STEPS, trl_log

# %% [markdown]
# Both runs against the samples generated and against the seconds of training:

# %%
fig = new_figure(figsize=(11, 3.2))
ax_samples, ax_time = fig.subplots(1, 2)
B = TRL_PROMPTS * TRL_GROUP
runs = {"course_lib train_grpo": course_history}
if trl is not None:
    runs[f"TRL GRPOTrainer {trl.__version__}"] = [
        dict(h, samples=i * B + B) for i, h in enumerate(trl_log)]
for name, hist in runs.items():
    ax_samples.plot([h["samples"] for h in hist], [h["reward"] for h in hist], marker=".",
                    label=name)
    ax_time.plot([h["time"] for h in hist], [h["reward"] for h in hist], marker=".",
                 label=name)
ax_samples.set_xlabel("samples generated")
ax_time.set_xlabel("seconds of training")
for ax in (ax_samples, ax_time):
    ax.set_ylabel("mean reward (training batch)")
    ax.grid(alpha=0.3)
ax_samples.legend(fontsize=8)
display(fig)
print(f"course_lib: {course_rate:.0f} samples/s")
if trl is not None:
    print(f"TRL: {trl_rate:.0f} samples/s ({course_rate / trl_rate:.1f}x fewer than course_lib)")
    mean_course = sum(h["reward"] for h in course_history) / len(course_history)
    mean_trl = sum(h["reward"] for h in trl_log) / len(trl_log)
    print(f"mean training reward over the {TRL_STEPS} steps: course_lib {mean_course:.3f}, "
          f"TRL {mean_trl:.3f}")
    assert abs(mean_course - mean_trl) < 0.15 and course_rate > trl_rate, (mean_course, mean_trl)

# %% [markdown]
# Same algorithm, same model, same reward: the two reward curves start at the SFT model's
# level and stay within each other's noise over ten steps (different random draws, so not the
# same numbers; their means are printed above). The speeds differ: TRL is built for large models on GPUs (batched generation,
# accelerate, logging, checkpoints), and on a model of a million parameters on a CPU that
# machinery costs more than the model does; the course's loop samples with its own KV-cache
# engine. On a real model the model's own forward and backward passes dominate both.
#
# On a real model, on several GPUs, the same job is a config and a command. It is not run
# here; it shows where each of this lesson's settings goes:
#
# ```python
# # grpo_job.py
# from datasets import load_dataset
# from trl import GRPOConfig, GRPOTrainer
#
# def correct(prompts, completions, answer, **kwargs):  # a column of the dataset
#     return [float(c.strip().endswith(a)) for c, a in zip(completions, answer)]
#
# config = GRPOConfig(
#     output_dir="qwen-grpo", num_generations=8, per_device_train_batch_size=16,
#     gradient_accumulation_steps=4, num_iterations=2, epsilon=0.2, beta=0.0,
#     loss_type="dr_grpo", scale_rewards="none", learning_rate=1e-6,
#     max_completion_length=1024, bf16=True, use_vllm=True, vllm_mode="colocate",
#     logging_steps=10, report_to="none")
# trainer = GRPOTrainer(model="Qwen/Qwen2.5-1.5B-Instruct", reward_funcs=correct,
#                       args=config, train_dataset=load_dataset("openai/gsm8k", "main")["train"])
# trainer.train()
# ```
#
# ```bash
# accelerate launch --num_processes 8 --config_file deepspeed_zero2.yaml grpo_job.py
# ```

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
trl_line = (f"TRL's GRPOTrainer at matched settings, {trl_rate:.0f} samples/s against "
            f"course_lib's {course_rate:.0f}" if trl is not None
            else f"TRL not installed; course_lib's loop ran at {course_rate:.0f} samples/s")
print(f"""- Group baselines on the tiny policy ({GROUPS:,} groups of {GROUP}): leave-one-out
  {loo['size along grad J']:.3f} of the exact step, mean-centred {centred['size along grad J']:.3f}
  ((G-1)/G = {shrink:.3f}), both along grad J; divided by the group's std, cosine
  {scaled['cosine with grad J']:.4f} +- {scaled["cosine's standard error"]:.4f} with grad J.
- Sums of four numbers, {len(test_prompts)} held-out problems x {N_SAMPLES} samples: the SFT
  model's pass@1 {sft_pass[1][0]:.3f}, pass@16 {sft_pass[16][0]:.3f}; after {len(grpo_history)}
  GRPO steps pass@1 {grpo_pass[1][0]:.3f}, pass@16 {grpo_pass[16][0]:.3f}.
- Training reward {reward_start:.3f} -> {reward_end:.3f}; in the last 10 steps
  {no_signal_end:.0%} of the groups gave no signal.
- GRPO's normalization weighs a token of the shortest response
  {grpo_w['weight x B (shortest)'] / grpo_w['weight x B (longest)']:.2f}x one of the longest;
  in 20 steps the length of pushed-down answers moved by
  {', '.join(f'{v:+.1f}' for v in drift.values())} tokens ({', '.join(drift)}).
- {trl_line}.""")

# %% [markdown]
# GRPO is REINFORCE with a group baseline and PPO's clip, and the group is both its strength
# (no critic to train) and its blind spot (a group that agrees teaches nothing). With a
# correctness reward it made right answers that were rare in the model's samples common;
# what the model could not reach at all, it did not learn.
