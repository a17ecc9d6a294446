# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/11_process_rewards.ipynb)
#
# # Lesson 11 - Process reward models: grading the partial work
#
# > *The reward arrives at the end once the full response can be scored, or at each step, if
# > you have a process reward model that grades partial work.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Every reward of this course so far arrived at the end: one number for the whole response.
# On a problem solved in steps, that number says *that* the answer is wrong, not *where* the
# work went wrong. A **process reward model** (PRM) scores each step. Lightman et al. (2023,
# "Let's verify step by step") trained one on 800,000 human step labels of solutions to MATH
# problems and used it to pick the best of many sampled solutions: at best-of-1860 the PRM
# picked a correct solution 78.2% of the time, an **outcome reward model** (ORM, one score per
# solution, trained on final-answer correctness) 72.4%, and a majority vote over the final
# answers 69.6%; the gap grew with the number of samples.
#
# We redo that experiment in miniature on the tiny world's **worked sums**: the SFT model answers
# "Q: What is 12 + 34 + 56 + 78? A:" with "12 + 34 = 46, 46 + 56 = 102, 102 + 78 = 180.", and
# its steps are sometimes wrong. An exact checker labels every step, standing in for the human
# labellers.
#
# **In this lesson you will**
# 1. see where the SFT model's working goes wrong (which step, which kind of slip), and how
#    often the final answer and the steps disagree (why outcome labels are noisy for steps);
# 2. train an outcome and a process reward model on the SFT model's own samples, and measure
#    them on held-out problems: step by step, and response by response;
# 3. use them to **verify at inference**: best-of-N for N = 1 to 64, choosing by the ORM, by
#    the PRM, and by majority vote;
# 4. use them to **verify in training**: RL with the outcome reward against RL with per-step
#    process rewards and reward-to-go, held-out accuracy against the samples drawn;
# 5. look for what a process reward can be gamed by.

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
from collections import Counter

import matplotlib.pyplot as plt
import torch
from IPython.display import HTML, display

import course_lib
from course_lib import claims
from course_lib import policy_gradient as PG
from course_lib import process_rewards as PR
from course_lib import rewards as R
from course_lib import verifiers as VF
from course_lib import world as W
from course_lib.evaluation import answer_accuracy
from course_lib.formats import parse_chain, parse_response
from course_lib.plots import html_table
from course_lib.policy_gradient import ReinforceConfig, train_reinforce
from course_lib.sampling import sample

course_lib.set_seed(0)
device = course_lib.get_device()

# %% [markdown]
# ## 1. What the SFT model writes on multi-step sums
#
# A held-out problem adds four two-digit numbers $a_1 + a_2 + a_3 + a_4$, and its first pair
# $(a_1, a_2)$ is one that no page of the corpus and no demonstration ever added. A response
# writes steps $(\text{running}_k, \text{term}_k, \text{written}_k)$, $k = 1, 2, 3$. Our
# definition of a **right step**:
#
# $$\text{right}_k \iff \text{running}_k = \text{written}_{k-1}\ (\text{written}_0 = a_1),\quad
#   \text{term}_k = a_{k+1},\quad \text{written}_k = \text{running}_k + \text{term}_k .$$
#
# So a step that carries on correctly from an earlier slip is right: each step is judged on
# its own, the way a teacher marks working. A response's **outcome** is whether its final
# number is the sum. Here is the checker, whole:

# %%
print(inspect.getsource(PR.step_labels))

# %% [markdown]
# We draw 64 samples at temperature 1 for each of 48 held-out problems, once: every number of
# this section and the next two comes from these 3,072 responses.

# %%
sft_model, tokenizer = course_lib.load_sft_model(device=device)
N_MAX, MAX_TOKENS = 64, 40
test_terms = W.chain_problems("test", 48, n_terms=4)
test_prompts = [W.chain_question(t) for t in test_terms]
prompts = [x for x in test_prompts for _ in range(N_MAX)]
generator = torch.Generator().manual_seed(0)
texts = []
for i in range(0, len(prompts), 1024):
    texts += sample(sft_model, tokenizer, prompts[i:i + 1024], MAX_TOKENS, 1.0,
                    generator=generator).texts
labels = [PR.check_response(x, y) for x, y in zip(prompts, texts)]  # None: not a worked sum
outcomes = [PR.outcome(x, y) for x, y in zip(prompts, texts)]
answers = [parse_response(y).answer for y in texts]

readable = [lab for lab in labels if lab]
complete = [lab for lab in readable if len(lab) == 3]
step_acc = {k + 1: sum(lab[k] for lab in readable if len(lab) > k)
            / sum(len(lab) > k for lab in readable) for k in range(3)}
all_steps = [v for lab in readable for v in lab]
sft_step_acc = sum(all_steps) / len(all_steps)
pass_1 = sum(outcomes) / len(outcomes)


def slip(x, steps, k) -> str:
    """What went wrong in step k (0-based) of a response to x."""
    terms = PR.terms_of(x)
    running, term, written = steps[k]
    previous = terms[0] if k == 0 else steps[k - 1][2]
    if running != previous:
        return "copied the running total wrong"
    if k + 1 >= len(terms) or term != terms[k + 1]:
        return "added the wrong term"
    return f"wrote the sum off by {written - running - term:+d}"


slips = Counter(slip(x, parse_chain(y), k) for x, y, lab in zip(prompts, texts, labels)
                if lab for k, ok in enumerate(lab) if not ok)
wrong_step_right_answer = sum(o and not all(lab) for o, lab in zip(outcomes, labels) if lab)
some_wrong = sum(not all(lab) for lab in readable)
print(f"{len(readable) / len(texts):.1%} of the responses are finished worked sums; "
      f"{len(complete) / len(readable):.1%} of those have exactly 3 steps")
print(f"step accuracy {sft_step_acc:.3f}; pass@1 (the final answer right) {pass_1:.3f}")
display(HTML(html_table({f"step {k}": {"right": v} for k, v in step_acc.items()}, digits=3,
                        index_name="")))
display(HTML(html_table({s: {"wrong steps": n} for s, n in slips.most_common(6)},
                        index_name="the slip")))
print(f"responses with a wrong step: {some_wrong}; of them, the final answer is still right in "
      f"{wrong_step_right_answer} ({wrong_step_right_answer / some_wrong:.1%})")

# %% [markdown]
# Most slips are carries: a sum written off by 10 (a carry dropped or invented) or by 1. Later
# steps go wrong more often: they add a two-digit number to a three-digit running total, which
# the corpus shows less often than two-digit sums. About one in ten responses with a wrong step
# still ends on the right answer (the share is printed above): two slips that cancel, such as a
# running total one too high and a sum one too low, which an outcome label calls right. And
# every other response with a wrong step gets an outcome label of 0 for *all* of its steps, the
# right ones included: an outcome label does not say which step to blame. Some responses,
# marked step by step:

# %%
def marked(x: str, y: str) -> str:
    lab = PR.check_response(x, y)
    if not lab:
        return f"{y!r}  (not a worked sum)"
    steps = parse_chain(y)
    work = ", ".join(f"{r} + {t} = {w} {'✓' if ok else '✗'}" for (r, t, w), ok in zip(steps, lab))
    return f"{work}   -> answer {'right' if PR.outcome(x, y) else 'wrong'}"


print(test_prompts[0], f"(the sum is {sum(test_terms[0])})")
for y in texts[:6]:
    print("   ", marked(test_prompts[0], y))
cancelled = [(x, y) for x, y, o, lab in zip(prompts, texts, outcomes, labels)
             if lab and o and not all(lab)]
if cancelled:
    print("A wrong step, a right answer:", cancelled[0][0], "\n   ", marked(*cancelled[0]))

# %%
assert 0.5 < sft_step_acc < 0.85, sft_step_acc
assert step_acc[1] > step_acc[3], step_acc
assert slips.most_common(1)[0][0] in ("wrote the sum off by +10", "wrote the sum off by -10")

# %% [markdown]
# ## 2. Two reward models: one score per response, one score per step
#
# Both verifiers are the SFT model reading its *own* confidence, with a logistic head fit to
# labels. The PRM's feature for step $k$ is the log-probability the SFT model gives that step's
# tokens (the total it copies, the term, the number it writes),
# $f_k = \sum_{t \in \text{step}_k} \log \pi_\text{SFT}(y_t \mid x, y_{<t})$,
# and its score is $p_k = \sigma(w f_k + c)$, fit to the checker's step labels with binary
# cross-entropy. The ORM knows nothing about steps: its feature is the log-probability of the
# whole response, $f = \log \pi_\text{SFT}(y \mid x)$, and $r_\text{ORM} = \sigma(w f + c)$ is
# fit to the outcomes. Both learn from the SFT model's samples on 256 *training* problems (4
# each), with the same plain loop:

# %%
print(inspect.getsource(VF.Verifier))
print(inspect.getsource(VF.train_verifier))

# %% [markdown]
# Why the model's own log-probability, and not a fresh classifier head? In trials while this
# lesson was built (not rerun here), a `GPT2ForTokenClassification` head at each step's last
# token, trained for 150 steps, learned nothing (held-out step accuracy 0.68, the share of right
# steps of the SFT model of that time), while the log-probability the model gives its own step
# already separates right from wrong sums; fine-tuning the whole body along with the head did no
# better, at three times the cost. The heads are trained on first use (about half a minute) and
# cached.

# %%
orm, prm, tokenizer, histories = VF.load_verifiers(device=device)
fig, ax = plt.subplots(figsize=(6, 2.8))
for kind, verifier in (("orm", orm), ("prm", prm)):
    w, c = verifier.head.tolist()
    ax.plot([h["loss"] for h in histories[kind]], label=f"{kind.upper()}: w = {w:.2f}, c = {c:.2f}")
ax.set(xlabel="training step", ylabel="binary cross-entropy", title="training the two heads")
ax.legend()
plt.show()

# %% [markdown]
# **The PRM, step by step, on held-out problems.** A step is called right when $p_k > 0.5$.
# The share of right steps (the accuracy of always saying "right") is the bar to beat.

# %%
scores, step_mask = VF.step_scores(prm, tokenizer, prompts, texts)  # (B, K) each
prm_step_pred = [bool(scores[i, k] > 0.5) for i, lab in enumerate(labels) if lab
                 for k in range(len(lab))]
prm_step_acc = sum(p == v for p, v in zip(prm_step_pred, all_steps)) / len(all_steps)
wrong_caught = (sum(not p for p, v in zip(prm_step_pred, all_steps) if not v)
                / sum(not v for v in all_steps))
print(f"PRM step accuracy on {len(all_steps):,} held-out steps: {prm_step_acc:.3f} "
      f"(always 'right': {sft_step_acc:.3f}); wrong steps caught: {wrong_caught:.1%}")
assert prm_step_acc >= 0.9, prm_step_acc
claims.check("process_reward_grades_steps", prm_step_acc)

# %% [markdown]
# **Both, response by response.** The PRM's response score aggregates its step scores. We use
# the **min**: a response is only as good as its weakest step, and a wrong step anywhere makes
# the answer wrong (the **product**, Lightman's choice, is the probability that every step is
# right if the steps' errors were independent; ours are not quite: a slip makes the next step
# less sure too). A response the checker cannot read scores 0.

# %%
print(inspect.getsource(PR.aggregate))
orm_score = VF.orm_scores(orm, tokenizer, prompts, texts)  # (B,)
prm_score = PR.aggregate(scores, step_mask, "min")  # (B,)
prm_product = PR.aggregate(scores, step_mask, "product")
right = torch.tensor(outcomes)
response_acc = {"ORM": ((orm_score > 0.5) == right).float().mean().item(),
                "PRM (min)": ((prm_score > 0.5) == right).float().mean().item(),
                "PRM (product)": ((prm_product > 0.5) == right).float().mean().item(),
                "always 'wrong'": 1 - pass_1}
display(HTML(html_table({k: {"response accuracy (score > 0.5 vs outcome)": v}
                         for k, v in response_acc.items()}, digits=3, index_name="verifier")))
assert response_acc["PRM (min)"] > response_acc["always 'wrong'"] + 0.1
assert response_acc["ORM"] > response_acc["always 'wrong'"] + 0.1

# %% [markdown]
# ## 3. Verification at inference: best-of-N
#
# Draw N responses, keep one: the one the ORM scores highest, the one the PRM scores highest,
# or (no verifier at all) the final answer most of the N responses give. We have 64 samples per
# problem; for each N we draw 200 random subsets of N of them and average, so one set of
# samples gives the whole curve. "Any of N right" (pass@N) is the ceiling no selector can beat.

# %%
print(inspect.getsource(PR.select_answer))
print(inspect.getsource(PR.majority_answer))

# %%
NS, TRIALS = (1, 2, 4, 8, 16, 32, 64), 200
rng = random.Random(0)
truths = [str(sum(t)) for t in test_terms]
curves = {name: [] for name in ("PRM", "PRM (product)", "ORM", "majority vote", "any of N right")}
for n in NS:
    hits = Counter()
    for j, truth in enumerate(truths):
        rows = range(j * N_MAX, (j + 1) * N_MAX)
        for _ in range(TRIALS if n < N_MAX else 1):
            pick = rng.sample(rows, n)
            ans = [answers[i] for i in pick]
            hits["PRM"] += PR.select_answer(ans, prm_score[pick]) == truth
            hits["PRM (product)"] += PR.select_answer(ans, prm_product[pick]) == truth
            hits["ORM"] += PR.select_answer(ans, orm_score[pick]) == truth
            hits["majority vote"] += PR.select_answer(ans) == truth
            hits["any of N right"] += truth in ans
    for name in curves:
        curves[name].append(hits[name] / (len(truths) * (TRIALS if n < N_MAX else 1)))
fig, ax = plt.subplots(figsize=(6.5, 3.4))
for name, ys in curves.items():
    ax.plot(NS, ys, "o-" if name != "any of N right" else "k:", label=name)
ax.set_xscale("log", base=2)
ax.set(xlabel="N (samples per problem)", ylabel="held-out accuracy", ylim=(0, 1.02),
       title="best-of-N on 48 held-out sums")
ax.legend()
plt.show()
display(HTML(html_table({name: dict(zip(map(str, NS), ys)) for name, ys in curves.items()},
                        digits=3, index_name="N")))

# %%
at64 = {name: ys[-1] for name, ys in curves.items()}
print(f"at N = 64: PRM {at64['PRM']:.3f}, ORM {at64['ORM']:.3f}, "
      f"majority vote {at64['majority vote']:.3f} (pass@1 {pass_1:.3f})")
one_problem = 1 / len(truths)  # at N = 64 each of the 48 problems is one pick
assert at64["PRM"] <= at64["ORM"] + one_problem + 1e-9, at64  # Lightman's PRM > ORM: not here
assert abs(at64["PRM"] - at64["ORM"]) < 0.1, at64  # ... a few problems of 48 apart at most
assert min(at64["PRM"], at64["ORM"]) > at64["majority vote"], at64  # both beat the vote
assert at64["any of N right"] - max(at64["PRM"], at64["ORM"]) >= 0.05, at64  # verifiers miss

# %% [markdown]
# **Lightman's ordering does not hold here**, not at N = 64: the PRM is not ahead of the ORM by
# more than one problem of 48 (both are printed above), and both beat the majority
# vote, which climbs slowly because a wrong answer is often shared (the same dropped carry). Two
# reasons, both visible above. Our two verifiers read the *same* confidences: the ORM's
# log-probability of the whole response is nearly the sum of the PRM's step features, so the two
# rank responses alike, and the step labels bought the PRM step-level accuracy (which we use in
# RL below), not a better ranking. And both picks level off below "any of N right": among 64
# samples there is nearly always a right response, but the best-scored one is still often a
# response whose slip the verifier missed (the PRM catches most wrong steps, not all). The gap
# between those curves at N = 64 is the verifiers' error, the proxy's error of lesson 07 at
# inference time. Lightman's PRM learned from humans who marked the first wrong step of long
# solutions, where an outcome-trained model can be right for the wrong reasons; in a world of
# three-step sums, the two kinds of label carry nearly the same information.

# %% [markdown]
# ## 4. Verification in training: outcome rewards against process rewards
#
# Now the reward models drive RL, from the SFT model, with lesson 05's `train_reinforce`
# (leave-one-out baseline among the 4 samples of each prompt, 8 training problems per step,
# 32 samples per step, 40 steps). Two rewards:
#
# - **outcome**: 1 if the final answer is right, else 0, on the last token; every token of the
#   response is weighted by it;
# - **process**: the PRM's $p_k / 3$ on the token that ends step $k$ (so three right steps earn
#   about 1, as a right answer does), and each token is weighted by its **reward-to-go** (lesson
#   04), $G_t = \sum_{t' \ge t} r_{t'}$: the tokens of step 2 are credited with steps 2 and 3,
#   not with step 1, and a slip in step 3 does not blame steps 1 and 2. The baseline is the mean
#   of the other samples' $G$ at the same position.
#
# One argument of `train_reinforce` carries the per-step rewards; the lines it adds to the loop:

# %%
print(inspect.getsource(VF.prm_process_reward))
print(inspect.getsource(PR.step_token_rewards))
print(inspect.getsource(PG._process_returns))

# %%
rl_prompts = [W.chain_question(t) for t in W.chain_problems("train", 512, 4, seed=1)]
eval_prompts, eval_truths = test_prompts, truths
EVAL_EVERY, EVAL_SAMPLES = 10, 4
rl_config = ReinforceConfig(steps=40, batch_size=8, samples_per_prompt=4, lr=5e-5,
                            max_new_tokens=MAX_TOKENS, seed=0)
per_step = rl_config.batch_size * rl_config.samples_per_prompt


def heldout_accuracy(model) -> float:
    return answer_accuracy(model, tokenizer, eval_prompts, eval_truths, n_samples=EVAL_SAMPLES,
                           max_new_tokens=MAX_TOKENS, seed=1)


sft_acc = heldout_accuracy(sft_model)
runs = {}
for name, extra in (("outcome", {}),
                    ("process", {"process_reward_fn": VF.prm_process_reward(prm, tokenizer)})):
    policy = copy.deepcopy(sft_model)
    curve = [(0, sft_acc)]

    def evaluate(metrics, policy=policy, curve=curve):
        if (metrics["step"] + 1) % EVAL_EVERY == 0:
            curve.append(((metrics["step"] + 1) * per_step, heldout_accuracy(policy)))

    reward_fn = R.exact_match_reward if name == "outcome" else (
        lambda x, y: torch.zeros(len(x)))  # the process run earns only its per-step rewards
    train_reinforce(policy, None, tokenizer, rl_prompts, reward_fn, rl_config, on_step=evaluate,
                    **extra)
    runs[name] = (policy, curve)
    print(name, [f"{n}: {a:.3f}" for n, a in curve])

# %%
THRESHOLD = round(sft_acc + 0.03, 3)  # 3 points above the SFT model's held-out accuracy


def samples_to_reach(curve, threshold=THRESHOLD):
    return next((n for n, acc in curve if acc >= threshold), None)


fig, ax = plt.subplots(figsize=(6.5, 3.2))
for name, (_, curve) in runs.items():
    ax.plot(*zip(*curve), "o-", label=f"{name} reward")
ax.axhline(THRESHOLD, color="gray", ls=":", label=f"threshold {THRESHOLD}")
ax.set(xlabel="samples drawn in training", ylabel=f"held-out accuracy ({EVAL_SAMPLES} samples "
       f"x {len(eval_prompts)} sums)", title="RL from the SFT model")
ax.legend()
plt.show()
reach = {name: samples_to_reach(curve) for name, (_, curve) in runs.items()}
budget = rl_config.steps * per_step
print({name: (f"{n:,} samples" if n else f"not within {budget:,}") for name, n in reach.items()})
final = {name: curve[-1][1] for name, (_, curve) in runs.items()}
during = {name: sum(acc for _, acc in curve[1:]) / (len(curve) - 1)  # the run's 4 evaluations
          for name, (_, curve) in runs.items()}
print(f"final held-out accuracy: {final}; averaged over the run's evaluations: {during}")
assert reach["process"] is not None, reach
assert reach["outcome"] is None or reach["outcome"] >= reach["process"], reach
assert during["process"] - during["outcome"] > 0, during
claims.check("process_reward_trains", during["process"] - during["outcome"])

# %% [markdown]
# The process reward climbs (and levels off); the outcome reward, at 32 samples a step, does
# not, and drifts down in this run. Its one number per response lands on all of the
# response's 30-odd tokens at once: a response with one slip pushes down its two right steps as
# hard as its wrong one, and a lucky right answer after two cancelling slips pushes both slips
# up. The process reward sends each step's credit to that step and the ones before it, so the
# same 32 samples carry more usable signal. Forty steps of 32 samples is short: with far more
# samples the outcome reward climbs too (lesson 09's GRPO, with many more samples a step and
# more steps on these same four-number sums, lifts the held-out pass@1 far above the SFT
# model's: that lesson measures it), but each of its samples teaches less.
#
# This is one seed. `benchmarks/process_reward_seeds.py` re-runs this cell with other seeds
# (its table is in `benchmarks/README.md`): averaged over the run's four evaluations the
# process run stayed ahead of the outcome run in every seed it measured, but at the last
# evaluation alone its lead was often much smaller than here, and once a hair below zero. One
# evaluation rests on a few hundred samples (4 per held-out sum), so it is noisy; that is why
# the cell above asserts the average over the run, not the last point.

# %% [markdown]
# ## 5. What a process reward can be gamed by
#
# The PRM grades each step it sees. It does not grade the steps that are *missing*, nor ask
# whether a step was *needed*. Two responses that game it, on each held-out problem: the first
# two steps right and then a stop (right but incomplete), and the three right steps followed by
# a fourth, useless one, "+ 10" (right arithmetic, wrong answer).

# %%
def worked(terms, extra=()):
    steps = W.chain_steps(tuple(terms) + tuple(extra))
    return W.chain_text(tuple(terms), steps)


games = {"right and complete": [worked(t) for t in test_terms],
         "two right steps, then stop": [worked(t[:3]) for t in test_terms],
         "three right steps + a useless '+ 10'": [worked(t, (10,)) for t in test_terms]}
game_rows = {}
for name, ys in games.items():
    game_rows[name] = {
        "answer right": sum(PR.outcome(x, y) for x, y in zip(test_prompts, ys)) / len(ys),
        "checker: all steps right": sum(all(PR.check_response(x, y))
                                        for x, y in zip(test_prompts, ys)) / len(ys),
        "PRM (min)": VF.prm_scores(prm, tokenizer, test_prompts, ys).mean().item(),
        "ORM": VF.orm_scores(orm, tokenizer, test_prompts, ys).mean().item()}
print(games["three right steps + a useless '+ 10'"][0])
display(HTML(html_table(game_rows, digits=3, index_name="response")))

# %%
lengths = {name: Counter(len(parse_chain(y) or []) for y in sample(
    model, tokenizer, [x for x in test_prompts for _ in range(8)], MAX_TOKENS, 1.0,
    generator=torch.Generator().manual_seed(2)).texts)
           for name, model in (("SFT", sft_model), ("outcome RL", runs["outcome"][0]),
                               ("process RL", runs["process"][0]))}
display(HTML(html_table({name: {f"{k} steps": c[k] / sum(c.values()) for k in (1, 2, 3, 4)}
                         for name, c in lengths.items()}, digits=3, index_name="policy")))
gamed = game_rows["two right steps, then stop"]["PRM (min)"]
useless = game_rows["three right steps + a useless '+ 10'"]["PRM (min)"]
assert gamed > 0.5 and game_rows["two right steps, then stop"]["answer right"] == 0, game_rows
assert game_rows["two right steps, then stop"]["ORM"] < 0.2, game_rows
assert useless < 0.2, game_rows
assert all(c[3] / sum(c.values()) > 0.9 for c in lengths.values()), lengths

# %% [markdown]
# The PRM gives the incomplete work a high score: every step it sees is right, and it has no
# notion of a step that is *missing* (the ORM, which reads the whole response, scores it near
# 0). The useless fourth step does not fool it here: the SFT model gives "+ 10" after the last
# term of the question almost no probability, so the PRM, which reads that probability, calls
# the step wrong. Neither hole was found by RL in section 4: the SFT model almost always writes
# three steps, the process reward pays $p_k / 3$ *per step*, so stopping early earns less, not
# more, and the policies after RL still write three steps (the second table). The incentive runs
# towards *more* steps, and a PRM that believed the arithmetic of a useless step would pay it
# like a useful one. Real PRMs are gamed these ways (steps that are right but do not advance the
# solution, repeated steps, many short steps), which is why practice mixes process rewards with
# an outcome check, caps or normalizes by the number of steps, or uses the PRM only to rank.

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- The SFT model's working on 48 held-out four-term sums (64 samples each): step accuracy
  {sft_step_acc:.3f} (step 1 {step_acc[1]:.3f}, step 3 {step_acc[3]:.3f}), pass@1 {pass_1:.3f}; the
  most common slip: {slips.most_common(1)[0][0]} ({slips.most_common(1)[0][1]} of
  {sum(slips.values())} wrong steps); {wrong_step_right_answer / some_wrong:.1%} of the responses
  with a wrong step still ended on the right answer.
- The PRM (the SFT model's log-probability of each step, a logistic head fit to step labels)
  judged {prm_step_acc:.3f} of held-out steps correctly (always 'right': {sft_step_acc:.3f});
  response accuracy PRM (min) {response_acc['PRM (min)']:.3f}, ORM {response_acc['ORM']:.3f}.
- Best-of-64: PRM {at64['PRM']:.3f} (its best, {max(curves['PRM']):.3f}, at N =
  {NS[curves['PRM'].index(max(curves['PRM']))]}), ORM {at64['ORM']:.3f}, majority vote
  {at64['majority vote']:.3f}, any of 64 right {at64['any of N right']:.3f}: Lightman's PRM > ORM
  does not hold here (PRM minus ORM {at64['PRM'] - at64['ORM']:+.3f}); both beat the vote.
- RL from the SFT model ({sft_acc:.3f} held out), 40 steps of 32 samples: samples to reach
  {THRESHOLD} held-out accuracy, process reward {reach['process']:,}, outcome reward
  {f"{reach['outcome']:,}" if reach['outcome'] else f"not within {budget:,}"}.
- Incomplete but right work ("two right steps, then stop") got a PRM score of {gamed:.3f} and an
  ORM score of {game_rows['two right steps, then stop']['ORM']:.3f}; its answer is never right. A
  useless fourth step got a PRM score of {useless:.3f}; after RL, {lengths['process RL'][3] / sum(lengths['process RL'].values()):.1%} of the process-trained
  policy's responses still have three steps.""")

# %% [markdown]
# An outcome reward tells the policy that it failed; a process reward tells it where. On sums
# worked in three steps, where both verifiers read the same confidences, that bought no better
# pick among 64 samples, but it bought a faster climb in RL: the credit for each step went to
# that step.
# Next: **lesson 12**, the recap: every claim of the essay with the number the course measured
# for it.
