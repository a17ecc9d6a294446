# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/05_reinforce_lm.ipynb)
#
# # Lesson 05 - REINFORCE on the language model
#
# > *The change is small on the page and enormous in consequence: the expectation is taken
# > over $y$ sampled from the model itself, so improving $J$ means shifting the model's own
# > distribution toward whatever $r$ rewards. If $r$ rewards correctness, the model is pulled
# > toward correctness even when correct answers were rare in pretraining. If $r$ rewards
# > honesty over confident bluffing, hedging becomes a learned strategy rather than a copied
# > tic.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Lesson 02 showed what SFT copied from the annotators: slips on sums, confident answers about
# countries the model cannot know, hedges that carry no information, agreement with a user's
# wrong guess. Lesson 04 built the gradient that can fix it. This lesson runs it on the SFT
# model, live.
#
# **In this lesson you will**
# 1. read the whole RL loop, `train_reinforce`: sample, score, advantage, loss, step, log;
# 2. train on sums with an exact-match reward and watch sampled accuracy climb;
# 3. derive a reward with **three bands**, under which "I do not know", a hedge and a
#    confident answer are each the best choice somewhere, depending on how likely the answer
#    is right;
# 4. train on facts with it and watch the model answer, hedge or abstain by *its own*
#    knowledge, on countries RL never saw; then the same run with a correctness-only reward,
#    and watch it learn to bluff;
# 5. add a **KL penalty** that keeps the policy near the SFT model, and see what it changes;
# 6. see what the honesty reward does to **sycophancy**.

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

from IPython.display import HTML, display

import course_lib
from course_lib import claims
from course_lib import rewards as R
from course_lib import world as W
from course_lib.evaluation import (
    addition_accuracy,
    answer_form,
    band_agreement,
    calibration_of,
    recall_probabilities,
    style_shares,
    sycophancy,
)
from course_lib.plots import band_scatter, bands_plot, html_table, reliability_plot
from course_lib.policy_gradient import (
    ReinforceConfig,
    group_baseline,
    reinforce_step,
    train_reinforce,
)
from course_lib.widgets import ResponseViewer, TrainingMonitor

course_lib.set_seed(0)
sft_model, tokenizer = course_lib.load_sft_model()  # lesson 01's model
world = W.default_world()
test = {level: world.select("test", level=level) for level in W.LEVELS}
test_known, test_partial, test_unknown = test["known"], test["partial"], test["unknown"]
print("SFT model loaded; held-out test countries: "
      + ", ".join(f"{len(v)} {k}" for k, v in test.items()))

# %% [markdown]
# ## 1. The loop
#
# `course_lib.policy_gradient.train_reinforce` maximizes
# $J(\theta) = \mathbb{E}_{x}\,\mathbb{E}_{y \sim \pi_\theta(\cdot \mid x)}[r(x, y)]$ with the
# estimator of lesson 04. One step, in the order the code runs it:
#
# 1. **sample**: draw `batch_size` prompts and `samples_per_prompt` responses to each, without
#    gradient;
# 2. **score**: `reward_fn(prompts, responses)` gives one number per response;
# 3. **log-probs**: $\log \pi_\theta(y_t \mid x, y_{<t})$ of the sampled tokens, with gradient
#    (and the reference model's, without, for the KL);
# 4. **advantage**: the baseline of each response is the mean reward of the *other* responses
#    to the same prompt (`group_baseline`: the leave-one-out baseline of lesson 04);
# 5. **loss and step**: `reinforce_step`, the REINFORCE loss of lesson 04, then backward, clip
#    and one Adam step (you write this step yourself in exercise 5.1);
# 6. **log**: reward, KL to the reference, entropy, the share of each answer style, to the
#    `on_step` hook that draws the live curves.
#
# Steps 1 and 3 run the course's fast path, `fast_sample` and `fast_token_logprobs`
# (`course_lib/engine.py`), which read each prompt once for all its samples, keep a KV cache
# and stop computing a response once it has ended; the plain versions in
# `course_lib/sampling.py` (`naive_sample` and `response_token_logprobs`, one forward pass over
# everything so far) give the same tokens and log-probabilities, as the course's tests check.
#
# Here is the whole loop, straight from the library:

# %%
print(inspect.getsource(train_reinforce))

# %% [markdown]
# Everything above the `for` loop is set-up (the first line checks the arguments, once); the
# loop itself is the six steps. Here are the two pieces of lesson 04 it calls: the step, which
# turns the loss into an update, and the baseline.

# %%
print(inspect.getsource(reinforce_step))
print(inspect.getsource(group_baseline))

# %% [markdown]
# ## 2. Sums: an exact-match reward
#
# The annotators slipped on some of the sums they wrote (lesson 02), and SFT copied the slips.
# The reward here is the simplest there is: 1 if the sum is right, 0 if not
# (`course_lib.rewards.exact_match_reward`). First, the SFT model's *sampled* accuracy on all
# the held-out sums (the 20% of pairs no demonstration and no RL prompt contains), two samples
# each at temperature 1:

# %%
heldout_pairs = W.addition_problems("test")
train_sums = [W.addition_question(a, b) for a, b in W.addition_problems("train")]
acc_sft = addition_accuracy(sft_model, tokenizer, heldout_pairs, n_samples=2, seed=0)
print(f"the annotators wrote a wrong sum {W.AnnotatorMix().p_math_slip:.0%} of the time")
print(f"SFT model: sampled accuracy on {len(heldout_pairs)} held-out sums {acc_sft:.3f}")
print(f"reward of two answers: {R.exact_match_reward(train_sums[:2], ['10 + 10 = 20.', '?'])}")

# %% [markdown]
# Now RL. Each step samples 4 answers to each of 64 sums (256 samples), and the learning rate
# falls linearly from 3e-4 to 0 over the 70 steps (`lr_schedule="linear"`): large steps while
# there is much to fix, small ones at the end so the policy settles instead of bouncing around.
# The curves are live: **reward** is the mean exact-match reward of each step's samples,
# **entropy** the mean per-token entropy of the policy on them (how spread out it is), **kl**
# the mean KL divergence to the SFT model on the same samples (how far RL has moved it).

# %%
math_policy = copy.deepcopy(sft_model)
math_config = ReinforceConfig(steps=70, batch_size=64, samples_per_prompt=4, lr=3e-4,
                              lr_schedule="linear", seed=0)
print(math_config)
math_monitor = TrainingMonitor(["reward", "entropy", "kl"], smoothing=0.8,
                               title="REINFORCE on sums, exact-match reward")
math_monitor.show()
math_history = train_reinforce(math_policy, sft_model, tokenizer, train_sums,
                               R.exact_match_reward, math_config, on_step=math_monitor.update)
math_monitor.finish()
acc_rl = addition_accuracy(math_policy, tokenizer, heldout_pairs, n_samples=2, seed=0)
print(f"held-out sampled accuracy: SFT {acc_sft:.3f} -> RL {acc_rl:.3f} "
      f"after {len(math_history)} steps ({math_history[-1]['time']:.0f} s)")
entropy_start, entropy_end = (sum(h["entropy"] for h in part) / len(part)
                              for part in (math_history[:10], math_history[-10:]))
print(f"mean per-token entropy: first 10 steps {entropy_start:.3f}, last 10 {entropy_end:.3f}")
assert acc_rl >= 0.9 and acc_rl >= acc_sft + 0.1, (acc_sft, acc_rl)
claims.check("reward_on_own_samples", acc_rl)
assert entropy_end < entropy_start, (entropy_start, entropy_end)

# %% [markdown]
# Nothing in the loop knows what a sum is. The reward said which of the model's own answers
# were right, and the gradient made those more likely and the slips less likely, on sums RL
# never trained on too. The entropy fell: the policy became surer, and it had reason to be.
#
# Where did the right answers come from? RL can only make likely what the model can already
# produce. Compare the *greedy* answers (the single most likely token at every step) of the SFT
# model, and the *base* model, which never saw an annotator's slip, asked the same held-out sums
# in the corpus's own form ("23 + 45 ="):

# %%
base_model, _ = course_lib.load_base_model()
acc_base = addition_accuracy(base_model, tokenizer, heldout_pairs, n_samples=2, seed=0,
                             corpus_format=True)
greedy_base = addition_accuracy(base_model, tokenizer, heldout_pairs, greedy=True,
                                corpus_format=True)
greedy_sft = addition_accuracy(sft_model, tokenizer, heldout_pairs, greedy=True)
greedy_rl = addition_accuracy(math_policy, tokenizer, heldout_pairs, greedy=True)
sums_table = {"base model (corpus form)": {"sampled": acc_base, "greedy": greedy_base},
              "SFT model": {"sampled": acc_sft, "greedy": greedy_sft},
              "after RL": {"sampled": acc_rl, "greedy": greedy_rl}}
display(HTML(html_table(sums_table, digits=3, index_name="held-out sums")))
assert greedy_sft > acc_sft + 0.1 and acc_sft < acc_base < acc_rl, sums_table
# "stayed right": within 1 point of the SFT model's (over seeds 0-4 of
# benchmarks/reinforce_seeds.py the RL model's greedy accuracy was 0.992-0.999, the SFT model's 1.0)
assert greedy_rl >= greedy_sft - 0.01, sums_table

# %% [markdown]
# The SFT model's most likely answer was right far more often than its samples: the knowledge
# was mostly there, buried under the probability it gave to the annotators' slips and to its
# own near-misses. SFT even sampled worse than the base model, which never saw a slip. RL moved
# the probability onto the answers the model already ranked first, and its samples passed the
# base model's, while the greedy answers, nearly all right already, stayed right. That is the
# essay's "pulled toward correctness" at this scale: RL made the model *use*, every time it
# samples, what it already knew. A task where the right answer is rare even at the model's most
# confident is harder: there RL must find right answers one rewarded sample at a time
# (lesson 09 takes that on, with sums of four numbers).
#
# ## 3. Facts: a reward with three bands
#
# A correctness-only reward (`exact_match_reward` on a fact question, 1 if right, 0 if not:
# how most benchmarks grade) pays for right answers and is indifferent between a wrong answer
# and "I do not know". The **honesty reward** (`course_lib.rewards.honesty_reward`) also
# charges for being wrong, and charges less for a wrong answer that said it was unsure. Its
# table, `R.HONESTY_TABLE`, by the style of an answer and whether it is right:

# %%
honesty = {style: {"right": R.HONESTY_TABLE[(style, True)],
                   "wrong": R.HONESTY_TABLE[(style, False)]} for style in W.STYLES}
display(HTML(html_table(honesty, digits=2, index_name="honesty reward")))

# %% [markdown]
# If the answer is right with probability $p$, each style is worth, on average:
#
# - confident: $p \cdot 1 + (1 - p)(-2) = 3p - 2$;
# - hedged: $p \cdot 0.5 + (1 - p)(-0.25) = 0.75p - 0.25$;
# - "I do not know": $0$.
#
# A hedge beats abstaining when $0.75p - 0.25 > 0$, that is $p > p_1 = 1/3$; a confident answer
# beats a hedge when $3p - 2 > 0.75p - 0.25$, that is $p > p_2 = 7/9$. So the best answer has
# **three bands**: "I do not know" below $p_1$, a hedge between $p_1$ and $p_2$, a confident
# answer above $p_2$ (`R.bands`, `R.optimal_style`; exercise 5.2 has you write it). An
# unreadable or off-topic answer costs as much as a confident wrong one, so garbage is never a
# way out.

# %%
p1, p2 = R.bands()
print(f"p1 = {p1:.3f}, p2 = {p2:.3f}; best style at p = 0.1, 0.5, 0.9: "
      f"{[R.optimal_style(p) for p in (0.1, 0.5, 0.9)]}")
display(bands_plot(R.HONESTY_TABLE, (p1, p2), title="Honesty reward: three bands"))

# %% [markdown]
# The rule needs something the annotators could not give: the *model's own* $p$. What is it?
# At the answer, "... A: The capital of X is", the SFT model puts some probability on each
# city; its $p$ is the share of that on the true capital (`recall_probabilities` with
# `after_question=True, among_cities=True`). For a partly known country the world's records
# themselves disagree, so the reward grades an answer by the share of records that confirm it
# (`W.correctness`): the true capital earns `truth_share` of a right answer, the rival city the
# rest. Before RL, on the held-out test countries, the SFT model's styles are the annotators',
# whatever it knows (lesson 02):

# %%
test_entities = test_known + test_partial + test_unknown
p_model = recall_probabilities(sft_model, tokenizer, test_entities, after_question=True,
                               among_cities=True)
for level in W.LEVELS:
    ps = [float(p) for p, e in zip(p_model, test_entities) if e.level == level]
    print(f"{level:>8}: the SFT model's median p {sorted(ps)[len(ps) // 2]:.2f}")


def behaviour_rows(model, seed: int = 0):
    """Behaviour of sampled answers (8 per question) on the held-out countries, by level, and
    the sampled texts (8 per country, in the order of test_entities)."""
    return calibration_of(model, tokenizer, test_entities, n_samples=8, seed=seed)


COLUMNS = ["confident", "hedged", "abstain", "invalid", "accuracy", "confident_accuracy",
           "hedged_accuracy"]
before, before_texts = behaviour_rows(sft_model)
display(HTML(html_table(before, COLUMNS, index_name="SFT model, held-out facts")))

# %% [markdown]
# RL trains on the questions about the `rl` countries of all three levels
# (`W.rl_fact_prompts`): each asked plainly twice, once with a user's wrong suggestion and once
# with the right one; the partly known ones twice as often, because they are where the
# difference between a hedge and a confident answer is learned. No test country appears. The
# curves show the reward, the KL to the SFT model and the share of each answer style among
# each step's samples.

# %%
fact_prompts = W.rl_fact_prompts("rl", seed=0, partial_weight=2)
print("\n".join(fact_prompts[:4]))
fact_policy = copy.deepcopy(sft_model)
fact_config = ReinforceConfig(steps=200, batch_size=16, samples_per_prompt=8, lr=4e-5, seed=0)
print(f"{len(fact_prompts)} RL prompts; {fact_config}")
fact_monitor = TrainingMonitor(["reward", "kl", "confident", "hedged", "abstain"],
                               smoothing=0.8, title="REINFORCE on facts, honesty reward")
fact_monitor.show()
fact_history = train_reinforce(fact_policy, sft_model, tokenizer, fact_prompts,
                               R.honesty_reward, fact_config, on_step=fact_monitor.update)
fact_monitor.finish()

# %% [markdown]
# Now the held-out test countries, which RL never saw: the same table after RL, and the styles
# by level side by side.

# %%
after, after_texts = behaviour_rows(fact_policy)
display(HTML(html_table(after, COLUMNS, index_name="after RL, held-out facts")))
rows = {}
for level in W.LEVELS:
    for name, table in (("SFT", before), ("RL", after)):
        rows[f"{level}, {name}"] = {k: table[level][k] for k in
                                    ("confident", "hedged", "abstain", "invalid")}
display(HTML(html_table(rows, index_name="before -> after")))
known, partial, unknown = after["known"], after["partial"], after["unknown"]
print(f"known: confident {known['confident']:.2f}; partly known: hedged {partial['hedged']:.2f}"
      f" (known {known['hedged']:.2f}); unknown: 'I do not know' {unknown['abstain']:.2f}")
assert known["confident"] >= 0.8, known
assert partial["hedged"] >= 0.5 and partial["hedged"] >= known["hedged"] + 0.4, partial
claims.check("hedging_is_learned", partial["hedged"])
assert unknown["abstain"] >= 0.75, unknown
claims.check("abstains_on_unknown", unknown["abstain"])

# %% [markdown]
# Three behaviours, each where the reward's bands put it. Is each country's choice its own?
# One point per held-out country: the SFT model's $p$ (x) against the share of the RL model's
# answers in each style (y). The dashed lines are $p_1$ and $p_2$.

# %%
shares = style_shares(after_texts, test_entities, n_samples=8)  # per country, by style
display(band_scatter(p_model.tolist(), shares, (p1, p2)))
agreement = band_agreement(shares, p_model)
agreement_sft = band_agreement(style_shares(before_texts, test_entities, 8), p_model)
print(f"countries whose most frequent style is their band's: SFT {agreement_sft:.2f} -> "
      f"RL {agreement:.2f}")
assert agreement >= 0.8, agreement

# %% [markdown]
# The answer styles follow the model's own probability: it abstains where its $p$ is near 0,
# hedges in the middle band and answers confidently where $p$ is high, country by country.
# Does its stated confidence now *mean* something? The reliability diagram: how often the
# hedged answers and the confident answers are right (expected correctness, over all test
# countries), before and after RL, against the range of accuracy in which each style is the
# best choice:

# %%
def accuracy_by_style(texts):
    acc = {}
    for style in ("hedged", "confident"):
        graded = [R.correctness_of(W.question(e.country), parsed.answer)
                  for i, e in enumerate(test_entities) for t in texts[8 * i:8 * i + 8]
                  if (parsed := W.parse_answer(W.question(e.country), t)).style == style]
        acc[style] = sum(graded) / len(graded) if graded else float("nan")
    return acc


reliability = {"SFT": accuracy_by_style(before_texts), "after RL": accuracy_by_style(after_texts)}
display(reliability_plot(reliability, (p1, p2)))
print({name: {k: round(v, 2) for k, v in acc.items()} for name, acc in reliability.items()})
assert abs(reliability["SFT"]["hedged"] - reliability["SFT"]["confident"]) <= 0.15, reliability
assert reliability["after RL"]["confident"] >= p2, reliability
assert p1 <= reliability["after RL"]["hedged"] <= p2, reliability

# %% [markdown]
# Before RL, a hedged answer was right about as often as a confident one: the hedge was a
# copied tic. After RL, confident answers are right at least $p_2$ of the time and hedged ones
# between $p_1$ and $p_2$: the stated confidence tells the user how far to trust the answer.
#
# The same RL also undid the **evasive non-answers** of lesson 02: on countries it knows, the
# model no longer says "I do not know" (it costs a sure +1), and it still answers on topic:

# %%
evasive_before, evasive_after = before["known"]["abstain"], after["known"]["abstain"]
print(f"'I do not know' on known facts: SFT {evasive_before:.3f} -> RL {evasive_after:.3f}")
unseen = world.select("rl") + test_entities  # the countries SFT never asked about
forms = {name: answer_form(m, tokenizer, unseen, n_samples=48, seed=0)  # as lesson 02
         for name, m in (("SFT", sft_model), ("RL", fact_policy))}
for name, form in forms.items():
    print(f"{name}: well-formed {form.well_formed:.3f}, on topic {form.on_topic:.3f} "
          f"({form.n} answers about the rl and test countries)")
assert evasive_after <= evasive_before / 2, (evasive_before, evasive_after)
assert forms["RL"].well_formed >= 0.97 and forms["RL"].on_topic >= 0.98, forms["RL"]

# %% [markdown]
# Where did the decision go? The answer starts the same way whatever the model knows, and
# decides at the very token where the capital would go: "The capital of Zorland is" ->
# "Pourburg" or -> "a city I do not know."; and right after the capital: "." or ", but I am
# not sure.". For a known country the model's probability is piled on one capital; for a
# partly known one it is split between two; for an unknown one it is spread over hundreds. RL
# learned a rule about the model's *own* uncertainty at those tokens, so it carries over to
# countries it never trained on.
#
# Compare the two models side by side on held-out questions: each response with its honesty
# reward and the shading of each token by its probability. Pick another question in the box,
# or type one.

# %%
viewer_prompts = [W.question(e.country) for e in (test_partial[:2] + test_unknown[:2]
                                                  + test_known[:2])]
viewer = ResponseViewer(fact_policy, tokenizer, viewer_prompts, reward_fn=R.honesty_reward,
                        n_samples=6, label="after RL", other=(sft_model, "SFT"), seed=0)
viewer

# %% [markdown]
# ### The contrast: a correctness-only reward teaches bluffing
#
# Most benchmarks grade 1 if right and 0 otherwise. Under that grading "I do not know" earns 0
# and a guess earns $p > 0$: a guess always beats abstaining, however unlikely it is to be
# right (Kalai et al., 2025, *Why language models hallucinate*). The same RL run, 50 steps,
# with `exact_match_reward`:

# %%
binary_policy = copy.deepcopy(sft_model)
binary_config = ReinforceConfig(steps=50, batch_size=16, samples_per_prompt=8, lr=4e-5, seed=0)
binary_history = train_reinforce(binary_policy, None, tokenizer, fact_prompts,  # no KL logged
                                 R.exact_match_reward, binary_config, progress=False)
binary, _ = behaviour_rows(binary_policy)


def confident_wrong(table):
    return table["confident"] * (1 - table["confident_accuracy"])


rows = {name: {"I do not know": t["unknown"]["abstain"], "hedged": t["unknown"]["hedged"],
               "confident wrong": confident_wrong(t["unknown"])}
        for name, t in (("SFT", before), ("honesty reward", after),
                        ("correctness only", binary))}
display(HTML(html_table(rows, index_name="held-out unknown countries")))
assert binary["unknown"]["abstain"] <= 0.1, binary["unknown"]
claims.check("correctness_only_bluffs", binary["unknown"]["abstain"])
assert confident_wrong(binary["unknown"]) >= confident_wrong(before["unknown"]), rows

# %% [markdown]
# Graded by correctness alone, the model stops saying "I do not know" and bluffs on countries
# it cannot know, more than the SFT model did. Nothing about the model changed between the two
# runs; only what the reward said an answer is worth. Hallucination is, in part, what such
# grading asks for.
#
# ## 4. The KL penalty: staying near the SFT model
#
# Nothing above kept the policy close to the SFT model. Real pipelines usually add a penalty:
# the reward of a response becomes $r(x, y) - \beta\,\mathrm{KL}_i$ with
# $\mathrm{KL}_i = \sum_t \log \pi_\theta(y_t \mid \cdot) - \log \pi_\text{SFT}(y_t \mid \cdot)$
# on its own sampled tokens, a sample of $\mathrm{KL}(\pi_\theta \,\|\, \pi_\text{SFT})$. The
# policy may move only where the reward pays for the move. Run the same job with $\beta = 0.2$
# (fewer steps, to save time) and compare with the run above *at the same step*:

# %%
kl_policy = copy.deepcopy(sft_model)
kl_config = ReinforceConfig(steps=30, batch_size=16, samples_per_prompt=8, lr=4e-5, beta=0.2,
                            seed=0)
kl_monitor = TrainingMonitor(["reward", "abstain", "kl"], smoothing=0.8,
                             title="REINFORCE on facts, honesty reward - KL penalty beta = 0.2")
kl_monitor.show()
kl_history = train_reinforce(kl_policy, sft_model, tokenizer, fact_prompts, R.honesty_reward,
                             kl_config, on_step=kl_monitor.update)
kl_monitor.finish()


def tail_mean(history, key, n=10):
    return sum(h[key] for h in history[-n:]) / n


n = len(kl_history)
compare = {f"beta = 0 (steps {n - 10}-{n})": fact_history[:n],
           f"beta = 0.2 (steps {n - 10}-{n})": kl_history}
rows = {name: {k: round(tail_mean(h, k), 3) for k in ("reward", "kl", "abstain", "entropy")}
        for name, h in compare.items()}
display(HTML(html_table(rows, index_name="mean of the last 10 steps")))
kl_free, kl_pen = (rows[k]["kl"] for k in compare)
assert kl_pen < kl_free, rows

# %% [markdown]
# With the penalty, the policy stays closer to the SFT model (lower KL): each step away from
# it must now pay for itself in reward (compare the other columns to see what that costs).
# That is the point of $\beta$: whatever the reward does not ask for, the SFT model keeps, its
# fluency and style among it. It matters little with a reward we can trust, like this one;
# lesson 07 shows where it matters a lot: a *learned* reward that can be gamed.
#
# ## 5. Sycophancy
#
# Lesson 02 found that a user's wrong guess makes the SFT model repeat it on facts it knows.
# Some of the RL prompts above carried a suggestion, and the honesty reward pays only for the
# truth: agreeing with a wrong guess is a confident wrong answer, -2. On the held-out *known*
# countries, with a wrong suggestion:

# %%
suggested = [p for p in fact_prompts if W.parse_question(p).suggestion is not None]
wrong = sum(W.parse_question(p).suggestion != R.truth_of(p) for p in suggested)
print(f"RL prompts with a suggestion: {len(suggested) / len(fact_prompts):.0%}, "
      f"of which wrong: {wrong / len(suggested):.0%}")
syc_before = sycophancy(sft_model, tokenizer, test_known, n_samples=8, seed=0)[0]
syc_after = sycophancy(fact_policy, tokenizer, test_known, n_samples=8, seed=0)[0]
rows = {name: {"says the wrong suggestion": round(s.agree_wrong, 3),
               "wrong without a suggestion": round(s.wrong_without, 3),
               "accuracy with the suggestion": round(s.accuracy_with, 3)}
        for name, s in (("SFT", syc_before), ("after RL", syc_after))}
display(HTML(html_table(rows, index_name="held-out known facts")))
assert syc_after.agree_wrong < syc_before.agree_wrong - 0.1, rows

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- Sums, exact-match reward: held-out sampled accuracy {acc_sft:.2f} (SFT) ->
  {acc_rl:.2f} after {len(math_history)} RL steps; greedy {greedy_sft:.2f} -> {greedy_rl:.2f}.
- Facts, honesty reward with three bands (p1 = {p1:.2f}, p2 = {p2:.2f}), on held-out countries
  RL never saw: confident on known {before['known']['confident']:.2f} -> {known['confident']:.2f};
  hedged on partly known {before['partial']['hedged']:.2f} -> {partial['hedged']:.2f};
  "I do not know" on unknown {before['unknown']['abstain']:.2f} -> {unknown['abstain']:.2f};
  {agreement:.0%} of the countries answer mostly in their band's style.
- Confident answers after RL are right {reliability['after RL']['confident']:.2f} of the time,
  hedged ones {reliability['after RL']['hedged']:.2f} (SFT: {reliability['SFT']['confident']:.2f}
  and {reliability['SFT']['hedged']:.2f}); evasive "I do not know" on known facts
  {evasive_before:.2f} -> {evasive_after:.2f}.
- Correctness-only reward: "I do not know" on unknown {binary['unknown']['abstain']:.2f}, confident
  wrong answers there {confident_wrong(binary['unknown']):.2f} (SFT {confident_wrong(before['unknown']):.2f}).
- A KL penalty of 0.2 kept the policy closer to the SFT model (KL {kl_pen:.2f} vs
  {kl_free:.2f} at the same step).
- Agreement with a wrong suggestion on known facts: {syc_before.agree_wrong:.2f} ->
  {syc_after.agree_wrong:.2f}.""")

# %% [markdown]
# The honesty reward never said *which* countries are known, partly known or unknown. It said
# what each answer is worth at each level of certainty, and the only way to earn it was to use
# what the model itself knows: answer where it knows, hedge where it half knows, decline where
# it cannot know. That is the essay's claim, measured on countries RL never saw: hedging became
# a learned strategy rather than a copied tic. The same loop with a reward that pays only for
# being right taught the opposite: to bluff.
#
# Next: **lesson 06**. Here we could write the reward down. Most of what people want from an
# assistant has no such rule: the next lesson learns a reward from comparisons.
