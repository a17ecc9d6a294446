# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/00_tiny_world.ipynb)
#
# # Lesson 00 - The tiny world: a base model that has read the whole internet
#
# > *Take a base model that has read most of the internet and you have something that can
# > continue text but cannot reliably answer anything.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Every claim of the essay this course teaches can be **measured**, in minutes, on a laptop, if
# we own the whole world the model lives in. So the course ships one: a few hundred invented
# countries with invented capitals, an "internet" of text about them, and a tiny GPT-2 that has
# read all of it.
#
# **In this lesson you will**
# 1. meet the world: which facts its internet states, which it disputes, and which it never
#    states;
# 2. look at the tokenizer and the base model (a real `transformers` GPT-2 of about 0.9M
#    parameters);
# 3. measure that the base model *knows* the facts it has read, half knows the disputed ones,
#    and cannot know the others;
# 4. measure that it still does not *answer questions*: it continues text;
# 5. see sampling, temperature and per-token probabilities, and play with them in a widget.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import time

import matplotlib.pyplot as plt
import torch

import course_lib
from course_lib import claims
from course_lib import world as W
from course_lib.evaluation import answer_accuracy, fact_recall, recall_probabilities
from course_lib.widgets import ResponseViewer, probability_table, tokens_html

course_lib.set_seed(0)
device = course_lib.get_device()
print("device:", device)

# %% [markdown]
# ## 1. The world
#
# The world is a pure function of a seed: `W.default_world()` builds the same 300 countries on
# every machine. Each country has one of three **knowledge levels**:
#
# - **known**: the internet states its capital, always the same city, in several phrasings;
# - **partly known**: the internet disagrees with itself. Some pages name the true capital,
#   others a rival city, and some say outright that "some say ... and some say ...". The share
#   of pages that name the truth (`truth_share`) is between 0.3 and 0.7, different for each
#   country, so for about half of them the truth is the minority view;
# - **unknown**: the internet mentions the country, but never its capital.
#
# The countries are dealt into three disjoint groups, each with the three levels in the same
# proportions: `sft` (used for fine-tuning in lessons 01-02), `rl` (used for reinforcement
# learning in lesson 05) and `test` (held out, used only to measure).

# %%
world = W.default_world()
print(f"{len(world.entities)} countries: " + ", ".join(
    f"{len(world.select(level=level))} {level}" for level in W.LEVELS))
for split in W.SPLITS:
    print(f"  {split:>4}: " + ", ".join(f"{len(world.select(split, level=level)):3d} {level}"
                                      for level in W.LEVELS))
for e in world.entities[:6]:
    rival = f" (rival {e.rival}, truth_share {e.truth_share})" if e.rival else ""
    print(f"  {e.country:>12} -> {e.capital:<12} {e.level:<8} split={e.split}{rival}")

# %% [markdown]
# ## 2. Its internet
#
# The pretraining corpus is an endless stream of short documents. Most are pages about one
# country: a few sentences, its capital among them (as that page has it), unrelated sentences
# about the country (its food, flag, rivers) and some filler. A few pages are forum threads,
# where someone asks about a country's flag or food and a reply rambles on, sometimes with "but
# I am not sure" or "I do not know." (the internet's habits). The rest are pages of sums:
# two-digit sums, and sums of three or four numbers worked out step by step, with a wrong step
# here and there. Here are a few documents:

# %%
import random

rng = random.Random(0)
for _ in range(8):
    print("-", W.corpus_document(world, rng))

# %% [markdown]
# How often does the internet state each capital? Count it on 20,000 documents: a known
# country's capital is stated again and again; a partly known country's true capital and its
# rival both appear, in the proportion `truth_share`; an unknown country's capital never
# appears, although the country itself is mentioned as often.

# %%
docs = [W.corpus_document(world, rng) for _ in range(20_000)]
text = " ".join(docs)
levels = {level: world.select(level=level) for level in W.LEVELS}
known, partial, unknown = levels["known"], levels["partial"], levels["unknown"]
for level, entities in levels.items():
    mentions = sum(text.count(e.country) for e in entities) / len(entities)
    stated = sum(text.count(e.capital) for e in entities) / len(entities)
    print(f"{level:>8}: mentions per country {mentions:5.1f}, true capital stated {stated:4.1f}")
capital_known = sum(text.count(e.capital) for e in known) / len(known)
capital_unknown = sum(text.count(e.capital) for e in unknown) / len(unknown)
truth_counts = [text.count(e.capital) for e in partial]
rival_counts = [text.count(e.rival) for e in partial]
observed_share = sum(truth_counts) / (sum(truth_counts) + sum(rival_counts))
mean_share = sum(e.truth_share for e in partial) / len(partial)
print(f"partly known: truth named {sum(truth_counts)} times, rival {sum(rival_counts)} times "
      f"(share {observed_share:.2f}; mean truth_share {mean_share:.2f})")
assert capital_unknown == 0 and capital_known > 5
assert abs(observed_share - mean_share) < 0.08, (observed_share, mean_share)

# %% [markdown]
# ## 3. The tokenizer and the model
#
# The tokenizer is word-level: every word of the world is one token, punctuation is its own
# token, and digits are single tokens (so `68` is `6 8`, and the model adds digit by digit). It is
# built with the `tokenizers` library and wrapped as a Hugging Face `PreTrainedTokenizerFast`.
# The model is a `transformers` `GPT2LMHeadModel`. Both load from files inside the package,
# with no network.

# %%
t0 = time.time()
model, tokenizer = course_lib.load_base_model()
load_seconds = time.time() - t0
n_params = sum(p.numel() for p in model.parameters())
print(f"loaded in {load_seconds:.2f} s: {type(model).__name__} with {n_params:,} parameters, "
      f"{len(tokenizer)} tokens in the vocabulary")
example = "The capital of " + known[0].country + " is " + known[0].capital + "."
ids = tokenizer(example)["input_ids"]
print(ids)
print(tokenizer.convert_ids_to_tokens(ids))
assert load_seconds < 5 and 0.5e6 < n_params < 2e6

# %% [markdown]
# ## 4. The base model knows what it has read
#
# Ask in the corpus's own phrasing: does the model continue *"The capital of X is"* with X's
# capital? First its single most likely next token (greedy) for every country:

# %%
recall_known = fact_recall(model, tokenizer, known)
recall_unknown = fact_recall(model, tokenizer, unknown)
print(f"greedy recall, corpus phrasing: known {recall_known:.2f}, unknown {recall_unknown:.2f}")
assert recall_known >= 0.95, recall_known
claims.check("base_model_knows", recall_known)
assert recall_unknown <= 0.05, recall_unknown

# %% [markdown]
# Greedy decoding shows one token; the model's knowledge is a probability. Here is
# $\pi(\text{true capital} \mid \text{"The capital of X is"})$ for every held-out test
# country, by level:

# %%
test_levels = {level: world.select("test", level=level) for level in W.LEVELS}
p_true = {level: recall_probabilities(model, tokenizer, entities)
          for level, entities in test_levels.items()}
fig, ax = plt.subplots(figsize=(7, 3))
bins = [i / 20 for i in range(21)]
for level, color in zip(W.LEVELS, ["tab:green", "tab:orange", "tab:gray"]):
    ax.hist(p_true[level].tolist(), bins=bins, color=color, alpha=0.8, label=level)
ax.set_xlabel("p(true capital | 'The capital of X is')")
ax.set_ylabel("test countries")
ax.set_title("What the base model knows: three modes")
ax.legend()
plt.show()
medians = {level: float(p.median()) for level, p in p_true.items()}
all_p = torch.cat(list(p_true.values()))
middle = float(((all_p >= 0.2) & (all_p <= 0.85)).float().mean())
print("median p(true capital): " + ", ".join(f"{k} {v:.3f}" for k, v in medians.items()))
print(f"share of test countries with 0.2 <= p <= 0.85: {middle:.2f}")
assert medians["known"] >= 0.9 and medians["unknown"] <= 0.05, medians
assert 0.2 <= medians["partial"] <= 0.85 and middle >= 0.1, (medians, middle)

# %% [markdown]
# It has memorised the capitals its internet states (right). It cannot know the unknown ones:
# their names never appeared after *"The capital of X is"* (left). And where the internet
# disagrees, the model's probability sits in between, near the share of pages it read for the
# truth: it half knows (middle). From here on we can tell, for every question, how likely the
# model is to know the answer, and that is what lesson 05 will reward it for using.
#
# ## 5. ...but it does not answer questions
#
# Now ask a question, in the format an assistant would see. The base model has never seen a
# question: it continues the text in whatever way resembles its internet.

# %%
questions = [W.question(e.country) for e in known]
qa_accuracy = answer_accuracy(model, tokenizer, questions, [e.capital for e in known],
                              greedy=True)
print(f"greedy accuracy on questions about known countries: {qa_accuracy:.2f}")
gen = torch.Generator().manual_seed(0)
from course_lib.sampling import sample

rollout = sample(model, tokenizer, questions[:5], temperature=1.0, generator=gen)
for q, a in zip(rollout.prompts, rollout.texts):
    print(f"{q!r:60} -> {a!r}")
assert qa_accuracy <= 0.2, qa_accuracy
claims.check("base_model_does_not_answer", qa_accuracy)

# %% [markdown]
# The model *has* the knowledge (section 4) but does not use it to answer: it continues the
# text. Turning this text-continuer into something that answers is the job of supervised
# fine-tuning, the subject of lesson 01.
#
# ## 6. Sampling and temperature
#
# A language model is a distribution over the next token, $\pi_\theta(y_t \mid x, y_{<t})$.
# Generating text means drawing a token from it, appending it, and drawing again. The
# **temperature** $T$ reshapes the distribution before drawing:
#
# $$p_T(v) = \frac{\exp(z_v / T)}{\sum_{u} \exp(z_u / T)}$$
#
# where $z$ are the model's logits. $T < 1$ sharpens it toward the most likely token (as
# $T \to 0$, sampling becomes greedy decoding); $T > 1$ flattens it.

# %%
prompt = W.CORPUS_PROMPT.format(country=known[1].country)
for tok, p in probability_table(model, tokenizer, prompt, k=5):
    print(f"{tok:>14}  {p:.3f}")

# %% [markdown]
# That was a known country: one token takes almost all the probability (a partly known one
# splits it between two cities; try `partial[0]`). For an *unknown*
# country the model has never read a capital, so its distribution is spread over many. That is
# where temperature matters most. Here is the same distribution at three temperatures:

# %%
from course_lib.sampling import next_token_logits

logits = next_token_logits(model, tokenizer, W.CORPUS_PROMPT.format(country=unknown[0].country))[0]
top = torch.topk(logits, 8).indices
labels = tokenizer.convert_ids_to_tokens(top.tolist())
fig, ax = plt.subplots(figsize=(8, 3))
entropies = {}
for i, T in enumerate([0.5, 1.0, 2.0]):
    probs = torch.softmax(logits / T, dim=-1)
    entropies[T] = float(-(probs * probs.clamp_min(1e-30).log()).sum())
    ax.bar([x + 0.27 * (i - 1) for x in range(8)], probs[top].tolist(), width=0.27,
           label=f"T = {T} (entropy {entropies[T]:.2f} nats)")
ax.set_xticks(range(8), labels, rotation=30)
ax.set_ylabel("probability")
ax.set_title(f"Next token after 'The capital of {unknown[0].country} is' (an unknown country)")
ax.legend()
plt.show()
assert entropies[0.5] < entropies[1.0] < entropies[2.0]

# %% [markdown]
# ## 7. Per-token probabilities
#
# Every sampled token comes with the probability the model gave it. Shading each token by that
# probability shows where the model was sure (deep green) and where it was guessing (pale).
# Sampling returns a `Rollout` with these log-probabilities; every RL lesson builds on it.

# %%
from IPython.display import HTML, display

from course_lib.widgets import rollout_rows

rollout = sample(model, tokenizer, [W.CORPUS_PROMPT.format(country=e.country)
                                    for e in known[:2] + partial[:2] + unknown[:2]],
                 generator=torch.Generator().manual_seed(1))
rows = rollout_rows(tokenizer, rollout)
display(HTML("<br>".join(f"<code>{p}</code> {tokens_html(t, q)}"
                         for p, (t, q) in zip(rollout.prompts, rows))))

# %% [markdown]
# Over every country: how much probability does the model put on its single favourite next token
# after "The capital of X is"?

# %%
def top_probability(entities):
    """Mean probability of the most likely next token after 'The capital of X is'."""
    logits = next_token_logits(model, tokenizer,
                               [W.CORPUS_PROMPT.format(country=e.country) for e in entities])
    return float(logits.softmax(-1).max(-1).values.mean())


top_p_known, top_p_unknown = top_probability(known), top_probability(unknown)
print(f"mean probability of the favourite next token: known {top_p_known:.2f}, "
      f"unknown {top_p_unknown:.2f}")
assert top_p_known > top_p_unknown + 0.3

# %% [markdown]
# On known countries the capital comes out with near certainty. On unknown countries the model
# spreads its probability over capitals it has read about elsewhere and draws one of them: the
# raw material of what lesson 02 calls hallucination.
#
# ## 8. Try it yourself
#
# Pick a prompt (or type your own, using words of the world), set the temperature and the
# number of samples, and press **Sample**. Try a known country, a partly known one, an unknown
# one, a question, and a sum like `47 + 35 =`.

# %%
viewer = ResponseViewer(
    model, tokenizer,
    prompts=[W.CORPUS_PROMPT.format(country=known[2].country),
             W.CORPUS_PROMPT.format(country=partial[2].country),
             W.CORPUS_PROMPT.format(country=unknown[2].country),
             W.question(known[2].country), "47 + 35 ="],
    temperature=1.0, n_samples=5)
viewer

# %% [markdown]
# ## 9. The second world: sums
#
# The internet also contains sums of two-digit numbers, 80% of all pairs; the other 20% are
# held out. The base model learned to add from the examples it read, and it carries that over
# to sums it never saw (in the corpus's own form, "a + b =").

# %%
from course_lib.evaluation import addition_accuracy

heldout = W.addition_problems("test")  # all 1,620 held-out pairs
add_heldout = addition_accuracy(model, tokenizer, heldout, greedy=True, corpus_format=True)
add_question = addition_accuracy(model, tokenizer, heldout, greedy=True)
print(f"held-out sums, corpus form 'a + b =': {add_heldout:.2f}")
print(f"held-out sums, as questions:          {add_question:.2f}")
assert add_heldout >= 0.9, add_heldout

# %% [markdown]
# The internet also works out longer sums step by step ("What is 12 + 34 + 56? 12 + 34 = 46,
# 46 + 56 = 102."), with a slip now and then. The base model continues such a page in the
# same way; lessons 09 and 11 train on these sums.

# %%
terms = W.chain_problems("test", 1, n_terms=4)[0]
page = f"What is {' + '.join(map(str, terms))}?"
for text in sample(model, tokenizer, [page] * 3, max_new_tokens=40,
                   generator=torch.Generator().manual_seed(0)).texts:
    print(f"{page} {text}   (right answer: {sum(terms)})")

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- The internet of the tiny world states each known capital about {capital_known:.0f} times
  in 20,000 documents, disputes each partly known one (the truth in {observed_share:.0%} of
  the statements), and never states an unknown one.
- The base model ({n_params:,} parameters, loaded in {load_seconds:.1f} s) completes
  "The capital of X is" correctly for {recall_known:.0%} of known countries and
  {recall_unknown:.0%} of unknown ones: it knows exactly what it has read. Its median
  probability of the true capital is {medians['known']:.2f} on known test countries,
  {medians['partial']:.2f} on partly known ones and {medians['unknown']:.3f} on unknown ones.
- Asked a question, it answers correctly only {qa_accuracy:.0%} of the time: it continues text.
- Its favourite next token after "The capital of X is" has probability {top_p_known:.2f} on
  average for known countries and {top_p_unknown:.2f} for unknown ones.
- Temperature reshapes the next-token distribution: for an unknown country, entropy
  {entropies[0.5]:.2f} nats at T = 0.5, {entropies[1.0]:.2f} at T = 1, {entropies[2.0]:.2f} at T = 2.
- It adds held-out sums correctly {add_heldout:.0%} of the time in the corpus's form.""")

# %% [markdown]
# Next: **lesson 01** teaches the model to answer with supervised fine-tuning, and computes
# its loss, $\mathcal{L}_\text{SFT}$, by hand.
