# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/07_rlhf_overoptimization.ipynb)
#
# # Lesson 07 - RL against a learned reward, until it breaks
#
# > *But you can collect comparisons — given two responses, which is better? — train a reward
# > model to predict those comparisons, and then use RL to optimize the policy against it. The
# > model stops imitating text and starts optimizing an objective you define.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Lesson 06 turned comparisons into a reward model $r_\phi$. This lesson does the last step of
# the essay's recipe: RL against $r_\phi$. And it shows the part of the story that the recipe's
# one sentence leaves out. "An objective you define" is, here, a *learned* objective: a proxy
# for the rater, right where its data taught it and wrong elsewhere. Optimize a proxy hard
# enough and the policy finds where it is wrong.
#
# In a real pipeline nobody sees the rater's true judgment while training. In our tiny world we
# can: the hidden **gold** score $g(x, y)$ that labelled lesson 06's comparisons is still
# there, so every step we measure both the **proxy** reward (what RL maximizes) and the
# **gold** reward (what the rater wanted) of the same responses.
#
# **In this lesson you will**
# 1. write the objective: the reward model's score minus a **KL penalty** to the SFT model;
# 2. run RL against the reward model and watch proxy and gold **live**;
# 3. see **over-optimization**: the proxy keeps rising while the gold peaks and falls;
# 4. read the responses at the peak and at the end, and find *what* the policy exploits;
# 5. sweep the KL coefficient $\beta$ and compare with **best-of-n** sampling on the same axes.

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
from collections import Counter

import torch
from IPython.display import HTML, display

import course_lib
from course_lib import claims, rlhf
from course_lib import preferences as P
from course_lib import reward_model as RM
from course_lib import world as W
from course_lib.plots import html_table, overoptimization_plot
from course_lib.policy_gradient import ReinforceConfig
from course_lib.sampling import response_token_logprobs, sample, sample_texts
from course_lib.widgets import TrainingMonitor

course_lib.set_seed(0)
sft_model, tokenizer = course_lib.load_sft_model()  # lesson 01's model
reward_model, _ = RM.load_reward_model()  # lesson 06's reward model (cached)
rl_prompts = W.rl_fact_prompts("rl", seed=0)  # lesson 05's questions about the `rl` countries
print(f"SFT model and reward model loaded; {len(rl_prompts)} RL questions "
      f"(plain, and with a user's suggestion)")

# %% [markdown]
# ## 1. The objective: a learned reward, and a leash
#
# RL against a reward model maximizes
#
# $$J(\theta) = \mathbb{E}_{x}\,\mathbb{E}_{y \sim \pi_\theta(\cdot \mid x)}
#   \big[r_\phi(x, y)\big] \;-\; \beta\, \mathrm{KL}\big(\pi_\theta \,\|\, \pi_\text{SFT}\big).$$
#
# The KL term is the leash of lesson 05: the further the policy moves from the SFT model, the
# more it pays. For a sampled response $y$ the KL is estimated token by token,
# $\mathrm{KL}_y = \sum_t \big[\log \pi_\theta(y_t \mid x, y_{<t}) - \log
# \pi_\text{SFT}(y_t \mid x, y_{<t})\big]$, and the penalized reward is written **per token**
# (Ziegler et al., 2019; Stiennon et al., 2020; InstructGPT kept it):
# $-\beta\,(\log \pi_\theta - \log \pi_\text{SFT})$ at every token, and the reward
# model's score added at the last one. Summed over the tokens it is $r_\phi(x, y) - \beta
# \,\mathrm{KL}_y$, the reward `train_reinforce` uses when `config.beta > 0`.
#
# Here it is on four sampled responses, scored by a policy that is *not* the SFT model (the
# SFT model at temperature 0.7 plays that role for a moment), so the penalty is not zero:

# %%
demo = sample(sft_model, tokenizer, rl_prompts[::4][:4], temperature=0.7,  # the "policy"
              generator=torch.Generator().manual_seed(0))
logp = demo.logprobs  # log pi_theta of each sampled token, recorded while sampling
with torch.no_grad():
    ref_logp = response_token_logprobs(sft_model, demo, temperature=1.0)  # the reference: T = 1
scores = RM.score(reward_model, tokenizer, list(demo.prompts), list(demo.texts))
beta = 0.1
per_token = rlhf.kl_penalized_rewards(scores, logp, ref_logp, demo.response_mask, beta)
kl_y = ((logp - ref_logp) * demo.response_mask).sum(1)
for i, text in enumerate(demo.texts):
    print(f"r_phi {scores[i]:+.2f}  KL_y {kl_y[i]:+.2f}  sum_t r_t {per_token[i].sum():+.2f}  "
          f"{text}")
assert torch.allclose(per_token.sum(1), scores - beta * kl_y, atol=1e-5)

# %% [markdown]
# The last column is $r_\phi - \beta\,\mathrm{KL}_y$ in every row. One response's
# $\mathrm{KL}_y$ can be negative (a token the reference likes more than the policy does); its
# expectation over responses sampled from $\pi_\theta$, the KL itself, cannot (an average of a
# few samples can still dip below 0 by chance). You write
# `kl_penalized_rewards` yourself in exercise 7.2.
#
# ## 2. RL against the reward model, with a small $\beta$
#
# The same REINFORCE loop as lesson 05 (16 questions x 4 samples per step, leave-one-out
# baseline), now with $r_\phi$ as the reward and $\beta = 0.01$, a loose leash. The reward
# function is wrapped so that every step also records the **gold** score of the very same
# responses (`rlhf.ProxyAndGold`); the policy never sees it. Watch four curves: the proxy
# (what RL maximizes), the gold (what the rater wanted), the KL, and `off_topic`, the share of
# responses that state the capital of a country nobody asked about. Every 20 steps the policy
# is also measured on **held-out** questions (lesson 06's, about the `test` countries, one
# sampled answer each, the same seed every time): their gold score and KL are where the gold
# peak is read, not on the noisy training batches (`rlhf.HeldOutCheckpoints`).

# %%
BETAS = (0.01, 0.05, 0.2)
STEPS = 100


def rl_config(beta: float) -> ReinforceConfig:
    return ReinforceConfig(steps=STEPS, batch_size=16, samples_per_prompt=4, lr=8e-5,
                           beta=beta, seed=0)


policy = copy.deepcopy(sft_model)
monitor = TrainingMonitor(["proxy", "gold", "kl", "off_topic"], smoothing=0.8,
                          title=f"RL against the reward model, beta = {BETAS[0]}")
monitor.show()
_, test_prompts = P.course_prompts()  # lesson 06's held-out questions
checkpoints = rlhf.HeldOutCheckpoints(policy, sft_model, tokenizer, test_prompts, every=20,
                                      n_samples=1)
checkpoints.evaluate(0)  # the SFT model, before the first step


def on_step(metrics: dict[str, float]) -> None:
    monitor.update(metrics)
    checkpoints(metrics)


history, tracker = rlhf.train_against_reward_model(policy, sft_model, tokenizer, rl_prompts,
                                                   reward_model, rl_config(BETAS[0]),
                                                   on_step=on_step)
monitor.finish()
runs = {BETAS[0]: (history, tracker)}

# %% [markdown]
# ## 3. Proxy up, gold down
#
# Both curves of the training batches, smoothed over 10 steps, against the KL from the SFT
# model (how far the policy has moved); the star marks where their gold peaks. Then the
# held-out checkpoints, which say where the gold really peaked.

# %%
display(overoptimization_plot({f"beta = {BETAS[0]}": history}))
held = {f"step {r['step']:.0f}": {"KL": r["kl"], "gold": r["gold"]} for r in checkpoints.rows}
display(HTML(html_table(held, digits=3, index_name="held-out checkpoint")))
summary = rlhf.peak_and_end(checkpoints.rows, "gold", window=1, also=("kl",))
train = rlhf.peak_and_end(history, "gold", window=10)  # the training batches, for comparison
proxy = rlhf.moving_average([h["proxy"] for h in history])  # (steps,) smoothed over 10
peak_step = int(summary["peak_step"])
summary["proxy_at_peak"], summary["proxy_at_end"] = proxy[peak_step - 1], proxy[-1]
gold_start = checkpoints.rows[0]["gold"]
print(f"held-out gold: {gold_start:+.3f} for the SFT model, peak {summary['peak']:+.3f} after "
      f"{peak_step} steps (KL {summary['kl_at_peak']:.1f}), end {summary['end']:+.3f} "
      f"(KL {summary['kl_at_end']:.1f})")
print(f"proxy (training batches): {summary['proxy_at_peak']:+.3f} at the gold peak, "
      f"{summary['proxy_at_end']:+.3f} at the end")
print(f"on the training batches alone the smoothed gold peaks at step {train['peak_step']:.0f}")
assert summary["drop"] >= 0.1, summary  # gold ends at least 0.1 below its peak...
claims.check("over_optimization", summary["drop"])
assert summary["proxy_at_end"] > summary["proxy_at_peak"], summary  # ...while the proxy rose
assert summary["peak"] > gold_start > summary["end"], (gold_start, summary)  # up, then below

# %% [markdown]
# The first steps help: the reward model is right about much of what the SFT model does
# wrong, and gold rises with the proxy. Then the curves part: the proxy keeps climbing, and
# the gold falls, below where it started. The gold scale runs from -1.2 (unreadable, or about
# another country) through -1 (confident and wrong) and 0 (an honest "I do not know") to +1
# (confident and right): a fall of a few tenths is large. The policy gets better and better at
# pleasing the reward model, and worse at what the reward model was meant to stand for:
# **reward over-optimization** (Gao et al., 2023), the learned-reward version of Goodhart's law.
#
# The held-out questions are about countries that neither RL nor the reward model ever trained
# on, so their gold sits lower than the training batches'; what they measure without bias is
# *when* the gold peaked. The training batches' own smoothed curve puts the peak at another
# step (printed above): it averages ten noisy batches of a policy that keeps moving, scored on
# the very questions RL is fitting.

# %% [markdown]
# ## 4. What did the policy learn to exploit?
#
# The tracker kept every step's responses with both scores. Here are some from the last
# training step before the held-out gold peaked, and from the last step:

# %%
peak_step = int(summary["peak_step"]) - 1  # steps count from 0: the step that ended there


def sample_rows(step: int, k: int = 6) -> dict[str, dict[str, object]]:
    rows = {}
    for i, (x, y, proxy, gold) in enumerate(tracker.samples[step][::4][:k]):
        rows[f"{i}"] = {"question": x.removeprefix("Q: What is the capital of "), "response": y,
                        "proxy": round(proxy, 2), "gold": round(gold, 2)}
    return rows


display(HTML(f"<b>step {peak_step} (gold peak)</b>"
             + html_table(sample_rows(peak_step), index_name="")))
display(HTML(f"<b>step {STEPS - 1} (end)</b>" + html_table(sample_rows(STEPS - 1), index_name="")))


def window(last: int) -> list[tuple[str, str, float, float]]:
    """Every response of the 10 steps that end at step ``last``."""
    return [row for t in range(max(0, last - 9), last + 1) for row in tracker.samples[t]]


def styles(rows) -> dict[str, float]:
    """Share of confident / hedged / abstaining / unreadable responses, by their form alone
    (an answer about another country counts by its form here)."""
    counts = Counter(W.parse_response(y).style for _, y, _, _ in rows)
    return {k: counts[k] / len(rows) for k in ("confident", "hedged", "abstain", "invalid")}


start, at_peak, at_end = (styles(window(t)) for t in (9, peak_step, STEPS - 1))
off_topic = rlhf.moving_average(tracker.off_topic)
display(HTML(html_table({"first 10 steps": start, f"10 steps to the gold peak ({peak_step})":
                         at_peak, "last 10 steps": at_end}, index_name="share of responses")))
print(f"responses that name another country than the one asked: {off_topic[9]:.0%} in the "
      f"first 10 steps, {off_topic[peak_step]:.0%} at the gold peak, {off_topic[-1]:.0%} at "
      "the end")
assert at_end["invalid"] <= 0.05 and at_end["confident"] >= 0.75, at_end  # well-formed, sure
assert at_end["confident"] > start["confident"], (start, at_end)  # and surer than at the start
assert off_topic[-1] > max(0.5, off_topic[peak_step]), off_topic  # most, and more than at the peak

# %% [markdown]
# The responses are still well-formed sentences, most of them confident (the others say "a
# city I do not know", often about another country too), and most of them are about the
# wrong country: asked about one country, the policy answers about another. Which other
# country, and with which city? Sample the final policy once more, now on the held-out `test`
# countries (no RL question and no reward-model pair was about them), and look at what it says
# about the countries it names instead: is the city it gives *their* true capital?

# %%
world = W.default_world()
held_out = W.rl_fact_prompts("test", seed=0)  # questions about countries RL never saw


def changes_subject(x: str, y: str) -> bool:
    """A true capital, stated for another country than the one asked about."""
    said = W.parse_response(y)
    named = world.by_country.get(said.country)
    return (named is not None and said.country != W.asked_country(x)
            and named.capital == said.answer)


def subject_changes(model) -> tuple[float, float, list[str]]:
    """Off-topic rate, true-fact-about-another-country rate, and the texts, on ``held_out``."""
    texts = sample_texts(model, tokenizer, held_out, generator=torch.Generator().manual_seed(1))
    off = sum(map(rlhf.off_topic, held_out, texts)) / len(texts)
    return off, sum(map(changes_subject, held_out, texts)) / len(texts), texts


off_sft, change_sft, _ = subject_changes(sft_model)
off_rl, change_rl, rl_texts = subject_changes(policy)
stated = Counter(W.parse_response(y).country for x, y in zip(held_out, rl_texts)
                 if changes_subject(x, y))
print(f"on {len(held_out)} held-out questions (T = 1): off topic {off_sft:.1%} for the SFT "
      f"model, {off_rl:.1%} for the RL policy")
print(f"true capital of another country: {change_sft:.1%} (SFT) -> {change_rl:.1%} (RL), "
      f"about {len(stated)} different countries; the most common:")
for country, n in stated.most_common(4):
    e = world.entity(country)
    print(f"  {n:3d} x  {W.CONFIDENT.format(country=country, answer=e.capital)}  "
          f"({e.level}, a country of the {e.split!r} split)")
display(HTML(html_table({str(i): {"question": x, "RL policy": y, "gold": P.gold_score(x, y)}
                         for i, (x, y) in enumerate(zip(held_out[::37], rl_texts[::37]))},
                        index_name="held-out")))
assert off_sft <= 0.05 and change_rl >= 0.5 and change_rl >= 10 * max(change_sft, 0.01), (
    off_sft, change_sft, change_rl)

# %% [markdown]
# There is the exploit: the policy **changes the subject**. Asked about a country it does not
# know, or knows only partly, or even one it knows, it recites a fact it is sure of about
# another country, "The capital of Z is C.", true and fluent, and answers nothing that was
# asked. The gold rater scores an answer about another country as unreadable, -1.2, worse
# than a confident wrong answer. Why would the reward model pay for it? Ask it directly: for
# every held-out country, compare its score of the policy's favourite sentence with its score
# of the best answer the rater could get (the true capital for a known country, "I do not
# know." for an unknown one, whatever the gold score ranks highest):

# %%
favourite = Counter(y for x, y in zip(held_out, rl_texts)
                    if changes_subject(x, y)).most_common(1)[0][0]
countries = [c for c in dict.fromkeys(W.asked_country(x) for x in held_out)  # each country once
             if c != W.parse_response(favourite).country]


def best_answer(e: W.Entity) -> str:
    """The on-topic answer the gold rater scores highest for ``e``."""
    cities = [c for c in (e.capital, e.rival) if c is not None]
    options = ([W.CONFIDENT.format(country=e.country, answer=c) for c in cities]
               + [W.HEDGED.format(country=e.country, answer=c) for c in cities]
               + [W.abstain(e.country)])
    return max(options, key=lambda y: P.gold_score(W.question(e.country), y))


questions = [W.question(c) for c in countries]
best = [best_answer(world.entity(c)) for c in countries]
r_best = RM.score(reward_model, tokenizer, questions, best)
r_fav = RM.score(reward_model, tokenizer, questions, [favourite] * len(questions))
levels = [world.entity(c).level for c in countries]
wins = (r_fav > r_best).float()  # (countries,)
wins_by_level = {lv: wins[[i for i, v in enumerate(levels) if v == lv]].mean().item()
                 for lv in W.LEVELS}
fav_wins = wins.mean().item()
print(f'the policy\'s favourite sentence: "{favourite}"')
print(f"the reward model prefers it to the best on-topic answer for {fav_wins:.0%} of the "
      f"{len(countries)} held-out countries (mean score {r_fav.mean():+.2f} vs "
      f"{r_best.mean():+.2f})")
print("  by level: " + ", ".join(f"{lv} {w:.0%}" for lv, w in wins_by_level.items()))
print(f"  the gold rater: {P.gold_score(questions[0], favourite):+.1f} for it, "
      f"{min(P.gold_score(q, y) for q, y in zip(questions, best)):+.1f} or more for the best "
      "answer")
assert fav_wins >= 0.5, (fav_wins, wins_by_level)

# %% [markdown]
# There is the gap the policy found. The reward model learned from lesson 06's comparisons of
# the SFT model's own responses, and nearly all of those speak of the country asked about (a few
# percent of the held-out ones did not, lesson 06): almost no comparison showed it an answer
# about another country, so nothing taught it that the country in the answer must be the one in
# the question. What it did learn is how sure to be that a stated capital is true, from what its
# body, the SFT model, recalls; and for a few sentences about countries it knows very well it is
# surer than for any answer to the question asked, even the true capital of a known country.
# Among the SFT model's responses this blind spot costs nothing: the SFT model rarely changes
# the subject. RL changes that. It searches for whatever scores highest, moves the policy to
# responses the reward model was never trained on, and there the reward model's errors are
# unconstrained.

# %% [markdown]
# ## 5. The KL coefficient and best-of-n
#
# Two more runs with tighter leashes, $\beta$ = 0.05 and 0.2, the same steps and seed.

# %%
for beta in BETAS[1:]:
    p = copy.deepcopy(sft_model)
    runs[beta] = rlhf.train_against_reward_model(p, sft_model, tokenizer, rl_prompts,
                                                 reward_model, rl_config(beta))
    del p  # only the histories are needed from here on
summaries = {beta: rlhf.peak_and_end(h, "gold", window=10) for beta, (h, _) in runs.items()}

# %% [markdown]
# **Best-of-n** is the simplest way to optimize against a reward model, with no training at
# all: sample $n$ responses from the SFT model and keep the one $r_\phi$ scores highest. Its
# KL from the SFT model is at most $\log n - (n-1)/n$ (selecting 1 of $n$ costs at most
# $\log n$ nats): an upper bound (Beirami et al., 2024), tight when the $n$ samples rarely
# repeat, loose when they do, as the SFT model's often do (lesson 10 measures how loose). Drawn
# at that bound, best-of-n goes on the same axes as RL, placed no nearer than it really is.

# %%
bon = rlhf.best_of_n(sft_model, tokenizer, rl_prompts[::4], reward_model,
                     ns=(1, 2, 4, 8, 16), seed=0)
display(HTML(html_table({f"n = {r['n']}": {k: r[k] for k in ("kl", "proxy", "gold")}
                         for r in bon}, index_name="best-of-n")))
display(overoptimization_plot({f"beta = {b}": h for b, (h, _) in runs.items()}, best_of_n=bon,
                              title="The beta sweep and best-of-n: proxy and gold against KL"))
rows = {f"beta = {b}": {"KL at end": s["kl_at_end"], "proxy at end": s["proxy_at_end"],
                        "gold peak": s["peak"], "gold at end": s["end"], "gold drop": s["drop"]}
        for b, s in summaries.items()}
display(HTML(html_table(rows, index_name="run (smoothed over 10 steps)")))
smallest, largest = summaries[BETAS[0]], summaries[BETAS[-1]]
assert all(summaries[b]["drop"] < smallest["drop"] for b in BETAS[1:]), summaries
assert largest["kl_at_end"] < smallest["kl_at_end"], summaries

# %% [markdown]
# Read the table and the right-hand panel together:
#
# - With $\beta$ = 0.01 the policy travels far (a large KL), and the gold rises, peaks and
#   falls: the further it goes, the more of its proxy reward comes from the reward model's
#   mistakes.
# - A larger $\beta$ keeps the policy closer to the SFT model. It gives up proxy reward, and it
#   stays nearer the region where the reward model is still right, so its gold falls less far
#   than with $\beta$ = 0.01.
#   $\beta$ is a trade: how much you trust the reward model away from the data it was
#   trained on.
# - Best-of-n reaches its gains at a KL of a few nats at most, with no gradient step at all. It
#   is a strong baseline that real pipelines use to check that RL earns its complexity.
#
# There is no free lunch in the choice of $\beta$: the best one depends on how good the reward
# model is, which is exactly what cannot be measured without the gold rater. Real pipelines
# watch for the signs you saw (a proxy that keeps rising, a KL that keeps growing, responses
# that read strangely), refresh the reward model on the new policy's responses, and stop early.

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
s0 = summary  # the held-out checkpoints of the run with beta = 0.01
print(f"""- RL against the learned reward model with beta = {BETAS[0]}: the proxy rose to
  {s0['proxy_at_end']:+.2f} while the held-out gold rose from {gold_start:+.2f} to a peak of
  {s0['peak']:+.2f} after {s0['peak_step']:.0f} steps (KL {s0['kl_at_peak']:.1f} nats) and ended
  at {s0['end']:+.2f} (KL {s0['kl_at_end']:.1f}): a drop of {s0['drop']:.2f} on a scale from -1.2
  to +1.
- The exploit, changing the subject: {off_topic[-1]:.0%} of the last responses speak of a
  country nobody asked about (first 10 steps: {off_topic[9]:.0%}). On held-out countries
  {change_rl:.0%} of the final policy's answers state the true capital of another country
  (SFT model: {change_sft:.1%}), and the reward model prefers "{favourite}" to the best
  on-topic answer for {fav_wins:.0%} of the held-out countries; the gold rater gives it -1.2.""")
for b in BETAS[1:]:
    s = summaries[b]
    print(f"- beta = {b}: KL {s['kl_at_end']:.1f} at the end, gold peak {s['peak']:+.2f}, end "
          f"{s['end']:+.2f} (drop {s['drop']:.2f}).")
best = max(bon, key=lambda r: r["gold"])
print(f"- Best-of-n: gold {best['gold']:+.2f} at n = {best['n']} (KL at most "
      f"{best['kl']:.2f}), from {bon[0]['gold']:+.2f} at n = 1.")
print("- A learned reward is a proxy. RL optimizes the proxy, not the intent behind it; the KL "
      "leash, early stopping and fresh comparisons are how practice keeps the two together.")

# %% [markdown]
# This is where the essay's argument lands. Imitation (lessons 01-02) copies the surface of
# what annotators wrote. RL (lessons 03-05) optimizes what you reward, which is its power: it
# can find behaviour no demonstration contained. Lessons 06-07 show the other side of the same
# power: it optimizes *exactly* what you reward, so the reward must say what you mean. In the
# exercises you write the two pieces of this lesson's loop that are easiest to get subtly wrong.
