# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/12_recap.ipynb)
#
# # Lesson 12 - Recap: every claim of the essay, with the number the course measured
#
# > *You are no longer constrained by what humans happened to write — you are constrained by
# > what you can measure.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Eleven lessons turned the essay's sentences into experiments. Each lesson asserted the numbers
# it argued from, so that the story fails loudly when it stops being true. This lesson gathers
# them: one row per claim, with the sentence of the essay it tests, the lesson that tests it,
# what was measured, the number and the threshold the lesson asserted. Then it says what a
# world this small cannot show.
#
# **In this lesson you will**
# 1. see how a lesson records a claim it checks, and read back what the lessons you ran
#    recorded;
# 2. measure the claims that take a few seconds here, for the lessons you have not run, and see
#    which lesson to run for the rest;
# 3. read the whole argument of the essay as one table of numbers;
# 4. list what the toy world does not show, and why each matters for real language models.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import dataclasses
import inspect
import time

from IPython.display import HTML, display

from course_lib import claims
from course_lib.plots import html_table, new_figure

# %% [markdown]
# ## 1. How a lesson records a claim
#
# The course keeps one table of its claims, `claims.CLAIMS`. Each row names the essay's
# sentence, the lesson, what the lesson measures and the threshold it asserts. Here is one:

# %%
for field, value in dataclasses.asdict(claims.BY_ID["hedging_is_learned"]).items():
    print(f"{field:>9}: {value!r}")

# %% [markdown]
# Where a lesson asserts one of them, it also calls `claims.check(claim_id, value)`. That call
# asserts the value against the table's threshold, prints one line, and records the result in a
# small JSON file per lesson in the course cache (written atomically, so a run interrupted
# half-way never leaves half a file):

# %%
print(inspect.getsource(claims.check))

# %% [markdown]
# Read back what the lessons you ran have recorded. A lesson not yet run in this cache has no
# file; a file that cannot be read (damaged, half-written by an old version) counts as not
# measured.

# %%
results = claims.load_results()
lessons = list(dict.fromkeys(c.lesson for c in claims.CLAIMS))
print(f"{len(claims.CLAIMS)} claims from {len(lessons)} lessons; results in {claims.results_dir()}")
for lesson in lessons:
    ids = [c.id for c in claims.CLAIMS if c.lesson == lesson]
    done = [i for i in ids if i in results]
    when = max((results[i]["recorded_at"] for i in done), default="")
    print(f"  {lesson:26} {len(done)} of {len(ids)} recorded" + (f" ({when})" if when else ""))

# %% [markdown]
# ## 2. Measuring what takes seconds, pointing to the rest
#
# A few claims need only the shipped base model or lesson 03's enumerable policy, so this
# lesson can measure them itself, with the same code as their lesson, in a few seconds. The
# others need a model trained by their lesson (the SFT model, an RL run, a reward model): for
# those the table says which lesson to run, and about how long it takes on two CPU cores
# (`benchmarks/README.md`, with lesson 01's SFT model already cached; a lesson trains whatever
# it needs that is not in the cache yet). The fast versions run even where their lesson has
# recorded a number: then the two must agree, which checks that the recap measures what the
# lesson measured.

# %%
missing = {c.id for c in claims.CLAIMS if c.id not in results}
t0 = time.time()
measured_here = claims.measure_fast(claims.fast_claims())
fast_seconds = time.time() - t0
fast = {k: v for k, v in measured_here.items() if k in missing}
both = {k: (results[k]["value"], v) for k, v in measured_here.items() if k in results}
print(f"not recorded: {len(missing)} claims; measured here: {len(fast)} of them, in "
      f"{fast_seconds:.1f} s for all {len(measured_here)} fast versions")
for k, (lesson_value, here) in both.items():
    print(f"  {k}: the lesson recorded {lesson_value:.6f}, the fast version gives {here:.6f}")
pointers = sorted(missing - set(fast))
print(f"still to run a lesson for: {len(pointers)} claims")
disagree = {k: v for k, v in both.items() if abs(v[0] - v[1]) > 1e-6}
assert not disagree, f"the fast version and the lesson's record differ (re-run the lesson?): {disagree}"

# %% [markdown]
# ## 3. The essay, claim by claim
#
# The column *number* is what the lesson measured (or, marked *here*, what this lesson just
# measured with its fast version); *asserted* is the threshold the lesson checks. A claim whose
# lesson has not run in this cache shows the lesson to run instead of a number.


# %%
def row(claim: claims.Claim) -> dict[str, str]:
    entry = results.get(claim.id)
    if entry is not None:
        value, threshold, source = entry["value"], entry["threshold"], "lesson run"
    elif claim.id in fast:
        value, threshold, source = fast[claim.id], claim.threshold, "here (fast version)"
    else:
        value, threshold = None, claim.threshold
        source = (f"run notebooks/{claim.lesson}.ipynb "
                  f"(about {claims.LESSON_SECONDS[claim.lesson]} s)")
    if claim.threshold is not None:  # a fixed threshold: the table's, even if a run recorded
        threshold = claim.threshold  # another one under an older version
    asserted = (f"{claim.op} {threshold:.3g}" if threshold is not None
                else f"{claim.op} {claim.rule}")
    return {"lesson": claim.lesson[:2], "the essay says": claim.essay,
            "measured": claim.measured, "number": "-" if value is None else f"{value:.3f}",
            "asserted": asserted, "from": source, "_value": value, "_threshold": threshold}


rows = {c.id: row(c) for c in claims.CLAIMS}
COLUMNS = ["lesson", "the essay says", "measured", "number", "asserted", "from"]
display(HTML(html_table(rows, COLUMNS, index_name="claim")))

# %% [markdown]
# Every number in the table must satisfy the threshold its lesson asserts (a lesson records a
# failing check too, so a claim that stopped being true shows up here), and every claim has
# either a number or the lesson to run:

# %%
numbers = {i: r for i, r in rows.items() if r["_value"] is not None}
failed = {i: (r["number"], r["asserted"]) for i, r in numbers.items()
          if not claims.BY_ID[i].passes(r["_value"], r["_threshold"])}
no_row = [i for i, r in rows.items() if r["_value"] is None and not r["from"].startswith("run ")]
print(f"{len(numbers)} of {len(rows)} claims have a number ({len(results)} from lesson runs, "
      f"{len(fast)} measured here); {len(rows) - len(numbers)} point to a lesson")
assert not failed, f"claims whose number breaks its threshold: {failed}"
assert not no_row, no_row
assert len(rows) == len(claims.CLAIMS) >= 20 and len(lessons) == 12, (len(rows), lessons)
assert set(claims.fast_claims()) <= set(numbers), "a fast measurement did not run"

# %% [markdown]
# The same table as one picture: for each claim, how far its number lies past the threshold its
# lesson asserts (the number minus the threshold for "at least" claims, the threshold minus the
# number for "at most" ones), in the claim's own units; most are rates, so 0.1 is ten
# percentage points. A short bar is a claim that holds with little room; a claim whose lesson
# has not run in this cache has no bar.


# %%
def margin(claim_id: str) -> float | None:
    r = rows[claim_id]
    if r["_value"] is None:
        return None
    at_least = claims.BY_ID[claim_id].op.startswith(">")
    return r["_value"] - r["_threshold"] if at_least else r["_threshold"] - r["_value"]


CLIP = 1.0  # margins beyond this (a ratio, standard errors) are drawn to the edge, labelled
ids = [c.id for c in claims.CLAIMS][::-1]  # lesson 00 at the top
fig = new_figure(figsize=(7.5, 0.28 * len(ids) + 1.2))
ax = fig.add_subplot()
for y, claim_id in enumerate(ids):
    m, r = margin(claim_id), rows[claim_id]
    if m is None:
        ax.text(0.01, y, "not run in this cache", va="center", fontsize=7, color="0.5")
        continue
    ax.barh(y, min(m, CLIP), color="tab:green" if m >= 0 else "tab:red", height=0.6)
    ax.text(min(max(m, 0), CLIP) + 0.01, y, f"{r['number']} {r['asserted']}", va="center",
            fontsize=7)
ax.set_yticks(range(len(ids)), [f"{rows[i]['lesson']} {i}" for i in ids], fontsize=7)
ax.axvline(0, color="black", linewidth=0.8)
ax.set_xlim(min([0.0] + [margin(i) or 0.0 for i in ids]) - 0.02, CLIP + 0.35)
ax.set_xlabel("margin past the asserted threshold (the claim's units, drawn up to 1)")
ax.set_title("Every claim of the essay and the room by which it holds")
display(fig)

# %% [markdown]
# Read down the table and it is the essay's argument. A base model knows what it read but
# does not answer (lesson 00); SFT makes it answer (01) and copies the surface of its
# annotators: hedges unrelated to what the model knows, confident answers about facts it never
# read, evasions, agreement with the user, the common answer over the good one (02). Generation
# is an MDP whose objective is an expectation over the model's own samples (03); its gradient
# can be estimated from those samples (04). Reward the model's own samples and it learns what
# the reward says: to add, to hedge where it half knows and abstain where it cannot know, or,
# under a correctness-only reward, to bluff (05). Comparisons train a reward model (06), and RL
# against it over-optimizes it (07). PPO (08), GRPO (09) and DPO (10) are ways of spending the
# same signal better, and a process reward grades the steps as well as the end (11).
#
# Each number is one seed's, on a 0.9M-parameter model in a world of 300 countries. The
# instructor notes (`docs/instructors/`) give their spread over seeds where it was measured.
#
# ## 4. What this toy world does not show
#
# The tiny world was built so that every claim could be *measured*: the course knows what the
# model read, what is true, and what the hidden rater prefers. That is exactly what a real
# language model's trainers do not have. Here is what the course does not show, and why it
# matters.
#
# - **Scale.** The model has 0.9M parameters and a 659-word vocabulary; RL ran for a few
#   hundred steps on one CPU. Real models have billions of parameters and were pretrained on
#   trillions of tokens: what they know is not a list of 300 capitals that can be probed with
#   one sentence, and whether RL mainly *sharpens* what the base model can already do (as
#   lesson 09's pass@16 suggests) or teaches it new abilities is debated at scale. Long chains
#   of thought, behaviour that emerges over thousands of RL steps, and training instabilities
#   that appear only in large runs (loss spikes, collapsed entropy, a critic as large as the
#   policy) do not occur here.
# - **Human raters who disagree.** The course's gold rater is one fixed function with
#   Bradley-Terry noise; its noise ceiling is known exactly. Real comparisons come from many
#   people who disagree for reasons (taste, culture, expertise, fatigue, instructions read
#   differently), so there is no single gold to over-optimize against, and a reward model
#   learns an average of preferences that may belong to no one. Whose preference the model
#   should follow is a question the toy world does not ask.
# - **Tasks with no verifier.** Sums have an exact checker, and capitals have a truth the
#   course owns. Most of what people ask an assistant (an essay, advice, code whose correctness
#   depends on intent, a summary) has no checker: the reward is a judgment, and errors in it are
#   not measurable the way lesson 07 measured the gold reward falling.
# - **Reward models that are themselves large language models.** Lesson 06's reward model is
#   the tiny model with a scalar head, and its blind spot (an answer about another country) was
#   found by the policy in a hundred steps and named by us in one table. A real reward model, or
#   an LLM used as a judge, is as large as the policy; its blind spots (length, flattery, a
#   confident tone, its own style) are many, subtle and found by the policy before anyone
#   names them.
# - **Knowledge that is easy to read.** Here a fact is known, disputed or absent, and the
#   model's probability of the true capital after one fixed sentence says which. A real model's
#   knowledge is spread over phrasings and contexts, its confidence is not one token's
#   probability, and rewarding honesty needs a judge of whether the model knew, which is the
#   hard part.
# - **Short, single-turn responses.** Every response is one sentence or three steps of a sum,
#   decided in a few tokens. Credit assignment over long responses, multi-turn dialogue, tool
#   use and a user who reacts to the answer are beyond it.
#
# What the toy world does show is the mechanism, with nothing hidden: the objective SFT
# optimizes, the objective RL optimizes, and what each one does to a model whose knowledge we
# can read. The essay's last sentence is where the series goes next, and it is what lessons 04
# to 11 built an answer to: "Getting a usable gradient out of that expectation is the entire
# problem".

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- {len(claims.CLAIMS)} claims of the essay, tested by lessons 00 to 11; in this cache
  {len(results)} were recorded by the lessons that ran, {len(fast)} measured here in
  {fast_seconds:.1f} s, and {len(pointers)} wait for their lesson ({', '.join(sorted({
      claims.BY_ID[i].lesson[:2] for i in pointers})) or 'none'}).
- Every recorded or measured number satisfies the threshold its lesson asserts.""")
