# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/06_reward_models.ipynb)
#
# # Lesson 06 - Reward models from comparisons
#
# > *You cannot write down, as labeled text, the millions of judgments that distinguish a good
# > assistant from a plausible one. But you can collect comparisons — given two responses,
# > which is better? — train a reward model to predict those comparisons, and then use RL to
# > optimize the policy against it.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Lesson 05 optimized a reward we could write down: the honesty reward reads the answer and
# looks up the truth. Most of what people want from an assistant has no such rule. What they
# *can* do is look at two responses and say which is better. This lesson turns such judgments
# into a reward function $r_\phi(x, y)$ that RL can optimize.
#
# A notebook has no crowd of human raters, so a hidden **gold preference** stands in for them
# (`course_lib.preferences`): it prefers right to wrong, an honest "I do not know." to a
# confident wrong answer, an answer to the question asked to one about another country, and
# short to rambling, and it makes noisy, human-like choices. The reward model never sees the
# gold score, only which response of a pair was chosen.
#
# **In this lesson you will**
# 1. see why comparisons, not scores, are what raters give;
# 2. go from the essay's sentence to the **Bradley-Terry** loss;
# 3. sample pairs of the SFT model's own responses and label them with the gold preference;
# 4. train a reward model (a GPT-2 with a one-number head) and measure its **held-out pairwise
#    accuracy**, next to the **noise ceiling** no model can beat;
# 5. read what it learned from hand-written responses;
# 6. label pairs yourself and see your own reward model.

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
import random
import tempfile
from collections import Counter
from pathlib import Path

import torch
from IPython.display import HTML, display

import course_lib
from course_lib import claims
from course_lib import preferences as P
from course_lib import reward_model as RM
from course_lib import world as W
from course_lib.plots import html_table, new_figure
from course_lib.widgets import PreferenceCollector, TrainingMonitor, static_mode

course_lib.set_seed(0)
policy, tokenizer = course_lib.load_sft_model()  # lesson 01's model (cached)
world = W.default_world()
print(f"SFT model loaded; gold Bradley-Terry temperature {P.GOLD_TEMPERATURE}")

# %% [markdown]
# ## 1. Why comparisons?
#
# Ask a rater to score a response from -1 to 1 and the number depends on the rater's mood,
# scale and anchor: one gives 0.6 where another gives 0.9 to the same answer. Ask which of two
# responses is better and raters agree far more often. So real pipelines collect
# **comparisons**. Here is what our simulated rater would *like* to score, the gold score
# $g(x, y)$, on a few responses to one question (never shown to the reward model). A
# response about another country than the one asked answers nothing: the rater scores it as
# unreadable. On a *partly known* country, whose records disagree between the true capital
# and a rival city, an answer counts as right with the share of the records that confirm it
# (lesson 05's expected correctness).

# %%
known = world.select("test", known=True)[0]
q = W.question(known.country)
other = world.select("test", known=True)[1]
wrong = other.capital
examples = {
    "confident, right": W.CONFIDENT.format(country=known.country, answer=known.capital),
    "hedged, right": W.HEDGED.format(country=known.country, answer=known.capital),
    "I do not know.": W.abstain(known.country),
    "hedged, wrong": W.HEDGED.format(country=known.country, answer=wrong),
    "confident, wrong": W.CONFIDENT.format(country=known.country, answer=wrong),
    "confident, right, rambling": W.CONFIDENT.format(country=known.country, answer=known.capital)
    + f" {known.country} has many {known.thing} and people like {known.food}.",
    "right, about another country": W.CONFIDENT.format(country=other.country,
                                                       answer=other.capital),
}
print(q)
for name, y in examples.items():
    print(f"  g = {P.gold_score(q, y):+.2f}  {name:28} {y}")
partial = world.select("test", level="partial")[0]
q_partial = W.question(partial.country)
print(f"\n{q_partial}  (records: {partial.capital} {partial.truth_share:.0%}, "
      f"{partial.rival} {1 - partial.truth_share:.0%})")
for city in (partial.capital, partial.rival):
    y = W.CONFIDENT.format(country=partial.country, answer=city)
    print(f"  g = {P.gold_score(q_partial, y):+.2f}  {y}")
assert P.gold_score(q, examples["right, about another country"]) == P.GOLD_TABLE["invalid", False]

# %% [markdown]
# ## 2. From "which is better?" to a loss
#
# The **Bradley-Terry** model says: each response has a hidden strength, and the chance that
# $y_A$ is preferred to $y_B$ depends only on the difference of strengths,
#
# $$P(y_A \succ y_B \mid x) = \sigma\big(r(x, y_A) - r(x, y_B)\big), \qquad
#   \sigma(z) = \frac{1}{1 + e^{-z}}.$$
#
# Our gold rater follows exactly this model with $r = g / T$ (temperature $T$): a clear
# difference is labelled right almost always, a close call is close to a coin flip. A reward
# model $r_\phi$ is trained to make the observed labels likely: for each pair where $y_c$
# (chosen) beat $y_r$ (rejected), maximize $\log P(y_c \succ y_r)$, i.e. minimize
#
# $$\mathcal{L}_\text{BT}(\phi) = -\,\mathbb{E}_{(x, y_c, y_r)}
#   \Big[\log \sigma\big(r_\phi(x, y_c) - r_\phi(x, y_r)\big)\Big].$$
#
# Only differences of $r_\phi$ matter: adding a constant to every score changes nothing. In
# code, $\log\sigma(m)$ must be computed as one stable function (`F.logsigmoid`): at a margin
# of $m = -10^4$, $\sigma(m)$ rounds to 0 and $\log 0 = -\infty$.

# %%
margins = torch.tensor([-1e4, -2.0, 0.0, 2.0, 1e4])
naive = -torch.log(torch.sigmoid(margins))
stable = -torch.nn.functional.logsigmoid(margins)
for m, a, b in zip(margins, naive, stable):
    print(f"margin {float(m):>9.0f}: -log(sigmoid) = {float(a):>9.4f}   -logsigmoid = {float(b):>9.4f}")
loss = RM.bradley_terry_loss(margins, torch.zeros(5))
assert torch.isinf(naive[0]) and torch.isfinite(loss)
print(f"bradley_terry_loss on these margins: {float(loss):.2f} (finite)")

# %% [markdown]
# ## 3. Comparison data: pairs of the model's own responses
#
# For each question, sample 8 responses from the SFT model, form pairs of *different*
# responses, and ask the gold rater which is better (a Bradley-Terry coin flip). The reward
# model must score the responses the policy actually writes, so it learns from those. Training
# questions are about the `sft` and `rl` countries, each asked plainly and once with a user's
# suggestion; the held-out pairs are about the `test` countries, which no training pair
# mentions. The pairs are worth judging only if the responses answer the question asked: the
# cell counts how many speak of another country instead.

# %%
print(P.COURSE_DATA)  # the recipe of the course's reward model, which lessons 07 and 10 use
train_prompts, test_prompts = P.course_prompts()  # the questions of that recipe
train_pairs, test_pairs = P.course_comparisons(policy, tokenizer)  # sample, pair, label
ties = sum(P.gold_score(c.prompt, c.chosen) == P.gold_score(c.prompt, c.rejected)
           for c in test_pairs) / len(test_pairs)
ceiling = P.noise_ceiling(test_pairs)
decided = [i for i, c in enumerate(test_pairs)
           if P.gold_score(c.prompt, c.chosen) != P.gold_score(c.prompt, c.rejected)]
decided_ceiling = P.noise_ceiling([test_pairs[i] for i in decided])
held_out = [(c.prompt, y) for c in test_pairs for y in (c.chosen, c.rejected)]
named = [(W.parse_response(y).country, W.asked_country(x)) for x, y in held_out]
off_topic = sum(c is not None and c != asked for c, asked in named) / len(named)
no_country = sum(c is None for c, _ in named) / len(named)  # garbled, or a bare answer
print(f"{len(train_prompts)} training questions -> {len(train_pairs)} labelled pairs; "
      f"{len(test_prompts)} held-out questions -> {len(test_pairs)} pairs")
print(f"held-out responses about another country than the one asked: {off_topic:.1%} "
      f"(naming no country at all, mostly garbled: {no_country:.1%})")
print(f"held-out pairs that the gold score calls a tie (a pure coin flip): {ties:.0%}")
print(f"noise ceiling E[max(p, 1-p)]: {ceiling:.3f} on all held-out pairs, "
      f"{decided_ceiling:.3f} on the {len(decided)} that are not ties")
assert off_topic <= 0.06, off_topic
assert 0.2 <= ties <= 0.5, ties
rows = {f"pair {i}": {"prompt": c.prompt, "chosen": c.chosen, "rejected": c.rejected,
                      "P(chosen)": round(c.p_chosen, 2)}
        for i, c in enumerate(train_pairs[:6])}
display(HTML(html_table(rows)))

# %% [markdown]
# Read a few rows: some labels go *against* the gold score (P(chosen) below 0.5): the rater
# is noisy, like a real one. The **noise ceiling** is the accuracy of an oracle that knows
# $g$ and always picks the response with the higher score: on a pair labelled with
# probability $p$ it is right with probability $\max(p, 1-p)$. No reward model can beat it on
# average, however much data it sees.
#
# **Ties.** About a third of the pairs are gold ties: nine in ten of them are two confident
# answers naming two different wrong cities (both -1), the rest mostly "Yes, the capital of X
# is Y." against "The capital of X is Y.".
# The rater flips a fair coin on them, so their labels carry no ranking, and their ceiling is
# 0.5. Real pipelines drop the pairs their raters mark "about the same". Should we? We tried
# both (`benchmarks/reward_model_ties.py`, two seeds, this lesson's data and settings): on the
# held-out pairs that are *not* ties, the reward model trained without the ties ranked 0.700
# and 0.702 right, the one trained with them 0.713 and 0.700. Dropping a third of the labels
# changed nothing we can measure, and our rater never says "about the same" (it always picks
# one), so a pipeline could not even tell which pairs were ties without the hidden gold score.
# We keep them, and report the accuracy on the pairs that are not ties next to *their* ceiling.
#
# ## 4. Train the reward model
#
# The reward model is the SFT model's transformer with a new head (as in InstructGPT, it starts
# from the model whose answers it will judge): a `GPT2ForSequenceClassification` with one
# output. It reads `<bos> prompt response <eos>` and
# its score is the output at `<eos>`. Each step draws 32 pairs, scores chosen and rejected in
# one batch, and takes a step on $\mathcal{L}_\text{BT}$.

# %%
reward_model = RM.build_reward_model(policy, seed=0)
config = RM.RMConfig()
print(config)
monitor = TrainingMonitor(["loss", "accuracy"], smoothing=0.9, title="reward model training")
monitor.show()
history = RM.train_reward_model(reward_model, tokenizer, train_pairs, config,
                                on_step=monitor.update)
monitor.finish()
# Lessons 07 and 10 use this model: keep it in the course's cache (the call checks that these
# are the recipe's pairs and a complete run), so they load it instead of training it again.
cached_at = RM.cache_reward_model(reward_model, tokenizer, train_pairs, history, config)
print("kept for lessons 07 and 10" if cached_at else "not kept (see the warning above)")

# %% [markdown]
# ## 5. Held-out pairwise accuracy
#
# On the held-out pairs, how often does $r_\phi$ score the chosen response higher? Compare
# with chance (0.5) and with the noise ceiling.

# %%
r_chosen, r_rejected = RM.scores_of_pairs(reward_model, tokenizer, test_pairs)
test_accuracy = RM.pairwise_accuracy(r_chosen, r_rejected)
train_accuracy = RM.accuracy(reward_model, tokenizer, train_pairs)
decided_accuracy = RM.pairwise_accuracy(r_chosen[decided], r_rejected[decided])
print(f"pairwise accuracy: train {train_accuracy:.3f}, held-out {test_accuracy:.3f} "
      f"(noise ceiling {ceiling:.3f}, chance 0.5)")
print(f"on the {len(decided)} held-out pairs that are not gold ties: {decided_accuracy:.3f} "
      f"(noise ceiling {decided_ceiling:.3f})")

fig = new_figure(figsize=(7, 2.8))
ax = fig.subplots()
x = torch.arange(2).float()
for k, (name, values, color) in enumerate([
        ("chance", [0.5, 0.5], "tab:gray"),
        ("reward model", [test_accuracy, decided_accuracy], "tab:blue"),
        ("noise ceiling", [ceiling, decided_ceiling], "tab:green")]):
    bars = ax.bar(x + 0.27 * (k - 1), values, width=0.27, color=color, label=name)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
ax.set_xticks(x, ["all held-out pairs", "held-out pairs that are not ties"])
ax.set_ylim(0, 1.05)
ax.set_ylabel("pairwise accuracy on noisy labels")
ax.set_title("How often the reward model agrees with the rater")
ax.legend(loc="lower right", fontsize=8)
display(fig)
assert 0.55 <= test_accuracy <= ceiling + 0.02, (test_accuracy, ceiling)
claims.check("reward_model_from_comparisons", test_accuracy)
assert decided_accuracy >= 0.65, decided_accuracy
assert decided_ceiling - decided_accuracy >= 0.1, (decided_accuracy, decided_ceiling)

# %% [markdown]
# The reward model is clearly better than chance, and clearly below the ceiling: on the pairs
# where the rater has a real preference, it agrees with the rater about two times in three,
# where an oracle that knows the gold score would agree nearly nine times in ten. Training
# accuracy is higher than held-out accuracy: part of what it learned is about the training
# countries, not about what makes an answer good. The next two sections look at where it
# goes wrong.

# %% [markdown]
# ## 6. What did it learn?
#
# Score hand-written responses for a *known* held-out country (its capital is in the corpus)
# and an *unknown* one (never stated: no model can know it). The scores have no unit: only
# differences matter.

# %%
unknown = world.select("test", level="unknown")[0]
rows = {}
for e in (known, unknown):
    q_e = W.question(e.country)
    written = {
        "confident, right": W.CONFIDENT.format(country=e.country, answer=e.capital),
        "hedged, right": W.HEDGED.format(country=e.country, answer=e.capital),
        "I do not know.": W.abstain(e.country),
        "hedged, wrong": W.HEDGED.format(country=e.country, answer=wrong),
        "confident, wrong": W.CONFIDENT.format(country=e.country, answer=wrong),
        "rambling": W.CONFIDENT.format(country=e.country, answer=e.capital)
        + f" {e.country} has many {e.thing} and people like {e.food}.",
    }
    scores = RM.score(reward_model, tokenizer, [q_e] * len(written), list(written.values()))
    for (name, y), s in zip(written.items(), scores):
        rows[f"{e.level}: {name}"] = {
            "gold g": round(P.gold_score(q_e, y), 2), "reward model": round(float(s), 2)}
display(HTML(html_table(rows, index_name="response")))
kr = {k.split(": ")[1]: v["reward model"] for k, v in rows.items() if k.startswith("known")}
assert kr["confident, right"] > kr["I do not know."], kr

# %% [markdown]
# Compare the two columns. The style of a response (confident, hedged, abstaining) is written
# on its surface, and the reward model reads it easily. Whether a capital is *right* is not:
# the reward model has to recall it from what the base model read, and its comparisons teach
# that only partly. Where the two columns disagree, a policy optimized against $r_\phi$ will
# find it: that is lesson 07.
#
# Is the reward model short of *knowledge*, or short of *learning*? Its body started as the SFT
# model, which recalls most capitals of the known countries. Test that knowledge directly with a
# rule written by hand, `P.recall_scores`: it knows the rater's table (confident right +1,
# confident wrong -1, "I do not know." 0, ...) but not the truth. For each response it asks the
# SFT model how likely the stated capital is after the corpus's own words "The capital of X
# is", calls that $p$, and scores the gold score expected under $p$, e.g.
# $p \cdot 1 + (1 - p) \cdot (-1)$ for a confident answer. No comparison trains it. Two
# responses it scores equally (two abstentions) count as half right, since the rater flips a
# coin on those. The table puts the two side by side, by kind of pair.

# %%
n_pairs = len(test_pairs)
recall = P.recall_scores(policy, tokenizer, [c.prompt for c in test_pairs] * 2,
                         [c.chosen for c in test_pairs] + [c.rejected for c in test_pairs])
recall_chosen, recall_rejected = recall[:n_pairs], recall[n_pairs:]  # (N,) each
recall_right = ((recall_chosen > recall_rejected).float()
                + 0.5 * (recall_chosen == recall_rejected).float())  # (N,): 1, 1/2 or 0
recall_accuracy = float(recall_right.mean())
print(f"held-out pairwise accuracy: reward model {test_accuracy:.3f}, hand-written recall rule "
      f"{recall_accuracy:.3f}, noise ceiling {ceiling:.3f}")

kinds, rm_right, rule_right = Counter(), Counter(), Counter()
for i, c in enumerate(test_pairs):
    kind = " vs ".join(sorted((W.parse_response(c.chosen).style,
                               W.parse_response(c.rejected).style)))
    kinds[kind] += 1
    rm_right[kind] += int(r_chosen[i] > r_rejected[i])
    rule_right[kind] += float(recall_right[i])
rows = {k: {"pairs": n, "reward model": round(rm_right[k] / n, 2),
            "recall rule": round(rule_right[k] / n, 2)} for k, n in kinds.most_common(8)}
display(HTML(html_table(rows, index_name="kind of pair (accuracy)")))
assert recall_accuracy >= ceiling - 0.05, (recall_accuracy, ceiling)
assert recall_accuracy > test_accuracy + 0.03, (recall_accuracy, test_accuracy)

# %% [markdown]
# The rule, built from nothing but the SFT model's recall, comes within a few points of the
# ceiling; the trained reward model does not. So the knowledge is in the weights the reward
# model started from. What it failed to learn, from a couple of thousand noisy comparisons, is
# to *use* it: to compare the capital a response states with the one the model would recall.
# A reward model's errors come from what its data taught it, not only from what it knows, and
# in the course's benchmarks more data of the same kind did not help (`benchmarks/README.md`
# lists what was tried and measured).
# Lesson 07's policy finds a gap of another kind, one no comparison here could show: only a few
# percent of the held-out responses above spoke of another country than the one asked (the
# share printed in section 3), so the reward model was hardly ever asked to judge such an
# answer.

# %% [markdown]
# ## 7. Your own comparisons
#
# Now you are the rater. The collector shows a question about a held-out country (one no
# training pair mentions) and two responses of the SFT model; click the better one (or
# skip). Pairs where a response speaks of another country are left out: they would ask you to
# rank an answer to a question nobody asked. Every click is saved to `my_preferences.json` at once, so
# nothing is lost if the notebook stops; run the cell again and it resumes where you left.
# Without a front end (on CI) nobody can click, and the gold rater labels the pairs instead.

# %%
rng = random.Random(3)
grouped = [P.sample_comparisons(policy, tokenizer, [p], n_samples=6, max_pairs_per_prompt=1,
                                seed=i) for i, p in enumerate(rng.sample(test_prompts, 16))]
sampled = [(c.prompt, c.chosen, c.rejected) for g in grouped for c in g]
my_pairs = [(x, a, b) for x, a, b in sampled
            if W.parse_response(a).country == W.parse_response(b).country == W.asked_country(x)]
my_pairs = my_pairs[:12]
print(f"{len(sampled)} sampled pairs, {len(my_pairs)} on topic shown; the first: {my_pairs[0]}")
assert len(my_pairs) >= 10 and all(W.asked_country(x) in a and W.asked_country(x) in b
                                   for x, a, b in my_pairs), my_pairs
path = (Path(tempfile.mkdtemp()) if static_mode() else Path(".")) / "my_preferences.json"
collector = PreferenceCollector(my_pairs, path)
collector.show()

# %% [markdown]
# When you have labelled what you want, run the next cell. It fills the remaining pairs with
# the gold rater only in static mode, then fine-tunes a copy of the reward model on *your*
# comparisons (mixed with as many of the gold pairs) and shows how the scores moved.

# %%
if static_mode():
    collector.fill_with_gold(seed=0)
mine = collector.comparisons
print(f"{len(mine)} comparisons of yours in {collector.path.name}")
if mine:
    my_rm = copy.deepcopy(reward_model)
    mixed = mine + random.Random(0).sample(train_pairs, len(mine))
    RM.train_reward_model(my_rm, tokenizer, mixed, RM.RMConfig(steps=20, batch_size=16),
                          progress=False)
    before = RM.accuracy(reward_model, tokenizer, mine)
    after = RM.accuracy(my_rm, tokenizer, mine)
    print(f"agreement with your labels: {before:.2f} before, {after:.2f} after fine-tuning")
    names = list(examples)
    s0 = RM.score(reward_model, tokenizer, [q] * len(names), list(examples.values()))
    s1 = RM.score(my_rm, tokenizer, [q] * len(names), list(examples.values()))
    display(HTML(html_table({n: {"reward model": round(float(a), 2), "yours": round(float(b), 2)}
                             for n, a, b in zip(names, s0, s1)}, index_name=q)))

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- Raters give comparisons; Bradley-Terry turns them into the loss
  -log sigmoid(r_chosen - r_rejected), computed with logsigmoid so it stays finite.
- {len(train_pairs)} training pairs of the SFT model's own responses, labelled by a noisy gold
  rater. {off_topic:.1%} of the held-out responses speak of another country than the asked
  one; {ties:.0%} of the held-out pairs are gold ties, pure coin flips (kept: dropping them did
  not change the accuracy on the other pairs).
- The reward model ranks {test_accuracy:.1%} of {len(test_pairs)} held-out pairs like the rater
  (train {train_accuracy:.1%}); an oracle that knows the gold score would reach {ceiling:.1%},
  chance is 50%. On the pairs that are not ties: {decided_accuracy:.1%}, against a ceiling of
  {decided_ceiling:.1%}.
- A hand-written rule that reads only the SFT model's recall reaches {recall_accuracy:.1%}:
  the knowledge was there; learning to use it from comparisons is what fell short.
- It reads style easily and correctness only partly: a reward model is a *proxy* for the
  rater, right where its data taught it and wrong elsewhere.""")

# %% [markdown]
# Next: **lesson 07** optimizes a policy against this proxy with RL, and watches the gold
# score: first it rises with the proxy, then the policy learns to please the reward model
# rather than the rater.
