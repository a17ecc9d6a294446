# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/03_generation_as_mdp.ipynb)
#
# # Lesson 03 - Generation is a Markov decision process
#
# > *Generating a response is a sequence of decisions: at each step the model is in a state -
# > the prompt plus the tokens generated so far - and it chooses an action, the next token, from
# > its vocabulary. The state evolves deterministically by appending that token, and a reward
# > arrives, usually at the end once the full response $y$ can be scored (or at each step, if
# > you have a process reward model that grades partial work). State, action, transition,
# > reward: this is exactly a Markov decision process, and a language model is exactly a policy
# > $\pi_\theta(y_t \mid x, y_{<t})$ over it.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Lessons 01-02 trained the model to imitate. From here on it will *optimize*
# $J(\theta) = \mathbb{E}_{y \sim \pi_\theta(\cdot \mid x)}[r(x, y)]$. Before we can optimize
# anything we need to say precisely what the model is doing when it generates: it is acting in
# an MDP.
#
# **In this lesson you will**
# 1. name the four parts of the MDP on the course's own model: state, action, transition, reward;
# 2. step through a generation by hand, one action at a time, with the **MDPExplorer**;
# 3. see that rolling out the policy in the MDP *is* sampling, token for token;
# 4. compare a terminal reward with a process (per-step) reward on the same trajectories;
# 5. compute $J(\theta)$ **exactly**, by listing every response of a tiny policy, and check it
#    against a Monte Carlo average of the policy's own samples.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import matplotlib.pyplot as plt
import torch

import course_lib
from course_lib import claims, mdp
from course_lib import world as W
from course_lib.sampling import sample
from course_lib.widgets import MDPExplorer

course_lib.set_seed(0)
model, tokenizer = course_lib.load_base_model()
print(f"policy: {type(model).__name__}, vocabulary of {len(tokenizer)} tokens")

# %% [markdown]
# ## 1. The four parts, on the tiny course model
#
# We use the task the base model already does well: a sum in the corpus's own form,
# `"a + b ="`. The prompt $x$ is the sum; the response $y$ should be its digits.
#
# | MDP part | in text generation | in `course_lib.mdp.TextMDP` |
# |---|---|---|
# | state $s_t$ | the prompt plus the tokens so far, $(x, y_{<t})$ | `State.ids` |
# | action $a_t$ | the next token $y_t$, any of the vocabulary | an int token id |
# | transition | append the token: $s_{t+1} = (x, y_{\le t})$, deterministic | `env.transition` |
# | reward $r_t$ | $r(x, y)$ at the end; optionally a process reward at each step | `reward_fn`, `step_reward_fn` |
#
# The episode ends when the policy takes `<eos>` or after a horizon of $H$ actions.

# %%
a, b = W.addition_problems("test")[5]
prompt, answer = f"{a} + {b} =", str(a + b)


def exact_match(prompt: str, response: str) -> float:
    """Terminal reward r(x, y): 1 if the first sentence of the response is the right sum."""
    return float(W.parse_response(response).answer == answer)


env = mdp.TextMDP(tokenizer, reward_fn=exact_match, max_new_tokens=4)
s0 = env.reset(prompt)
print(f"prompt x = {prompt!r}, right answer {answer}")
print("state s_0 (token ids):", s0.ids)
print("state s_0 (tokens):   ", tokenizer.convert_ids_to_tokens(list(s0.ids)))
print(f"actions: any of the {env.vocab_size} tokens; horizon H = {env.max_new_tokens}")

# %% [markdown]
# The policy is the language model itself: in state $s_t$ it gives a distribution over every
# token, $\pi_\theta(\cdot \mid s_t)$. `mdp.model_policy(model)` wraps the model as a function
# from a state to log-probabilities. Take the most likely action and look at the transition:
# the next state is the old one with the token appended. Do it twice from the same state: the
# same state comes out, because the transition is deterministic. The randomness of generation
# lives entirely in the policy.

# %%
policy = mdp.model_policy(model)
logp = policy(s0)  # (V,) log pi(a | s_0)
a0 = int(logp.argmax())
s1, r0, done = env.step_from(s0, a0)
again, _, _ = env.step_from(s0, a0)
print(f"most likely action: {tokenizer.convert_ids_to_tokens(a0)!r} "
      f"with pi = {float(logp[a0].exp()):.3f}")
print("s_1 tokens:", tokenizer.convert_ids_to_tokens(list(s1.ids)))
print(f"reward r_0 = {r0}, done = {done}")
assert s1.ids == s0.ids + (a0,) and again == s1  # append, deterministically
assert abs(float(logp.exp().sum()) - 1) < 1e-4

# %% [markdown]
# Here is that first decision as a picture: the policy's distribution over the next token in
# state $s_0$.

# %%
top = torch.topk(logp.exp(), 8)
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.bar(tokenizer.convert_ids_to_tokens(top.indices.tolist()), top.values.tolist())
ax.set_ylabel(r"$\pi_\theta(a \mid s_0)$")
ax.set_title(f"The first action after {prompt!r}: a distribution over the vocabulary")
plt.show()

# %% [markdown]
# ## 2. Step through a generation by hand
#
# The **MDPExplorer** shows the current state, the policy's most likely next tokens, and buttons
# to take one of them or to sample one as generation would. **Undo** takes the last action back.
# When the episode ends (after $H = 4$ actions here) it shows the reward. Try to make the model
# write a wrong sum: the terminal reward is then 0.

# %%
explorer = MDPExplorer(env, policy, prompt, top_k=5, seed=0)
explorer

# %% [markdown]
# The same clicks, in code: take the most likely token at every step (greedy decoding), then
# undo the last action and take the second most likely instead.

# %%
while not explorer.done:
    explorer.take(0)
greedy_text, greedy_reward = explorer.state.text, explorer.rewards[-1]
explorer.undo()
explorer.take(1)
print(f"greedy:            {greedy_text!r:14} terminal reward {greedy_reward}")
print(f"second-best last:  {explorer.state.text!r:14} terminal reward {explorer.rewards[-1]}")
assert greedy_reward == 1.0  # the base model adds this sum correctly

# %% [markdown]
# ## 3. Trajectories and returns; rolling out = sampling
#
# An episode is a trajectory $\tau = (s_0, a_0, r_0, s_1, a_1, r_1, \dots, s_T)$, and its
# return is $G(\tau) = \sum_t r_t$. With only a terminal reward, $G = r(x, y)$.
#
# `mdp.rollout` runs the policy in the MDP: in each state, draw $a_t \sim \pi_\theta(\cdot \mid
# s_t)$, step. That is exactly what `course_lib.sampling.sample` does when it generates: with the
# same random seed, the two give the same tokens, and every step's log-probability agrees.

# %%
agree = 0
for seed in range(5):
    traj = mdp.rollout(env, policy, prompt, generator=torch.Generator().manual_seed(seed))
    r = sample(model, tokenizer, [prompt], max_new_tokens=4,
               generator=torch.Generator().manual_seed(seed))
    n = int(r.response_mask[0].sum())
    same = traj.actions == r.response_ids[0, :n].tolist()
    logp_gap = max(abs(x - float(y)) for x, y in zip(traj.logprobs, r.logprobs[0, :n]))
    agree += same
    print(f"seed {seed}: {traj.text!r:12} rewards {traj.rewards} return G = {traj.return_}  "
          f"same tokens as sample(): {same}, largest log-prob gap {logp_gap:.1e}")
assert agree == 5

# %% [markdown]
# ## 4. Terminal reward vs process reward
#
# A terminal reward scores the whole response once, at the end. A **process reward** grades
# partial work: here, +0.5 for each digit written correctly at its place (a process reward model
# would *learn* such a grader; we can write it down because we know the sum). Sample at a high
# temperature so that the model makes mistakes, and compare the two reward signals on the same
# trajectories.

# %%
def digit_reward(state: mdp.State, action: int, next_state: mdp.State) -> float:
    """Process reward: +0.5 when the token just written is the right digit at its place."""
    t = state.t
    token = tokenizer.convert_ids_to_tokens(action)
    return 0.5 if t < len(answer) and token == answer[t] else 0.0


terminal_env = mdp.TextMDP(tokenizer, reward_fn=exact_match, max_new_tokens=4)
process_env = mdp.TextMDP(tokenizer, step_reward_fn=digit_reward, max_new_tokens=4)
hot = mdp.model_policy(model, temperature=2.0)
g = torch.Generator().manual_seed(1)
rows = []
for _ in range(40):
    traj = mdp.rollout(terminal_env, hot, prompt, generator=g)
    state, process_rewards = process_env.reset(prompt), []
    for action in traj.actions:  # replay the same actions in the process-reward MDP
        state, r, _ = process_env.step(action)
        process_rewards.append(r)
    rows.append((traj.text, traj.rewards, process_rewards))
for text, term, proc in rows[:8]:
    print(f"{text!r:16} terminal {term}   process {proc}")
partial = [row for row in rows if sum(row[1]) == 0 and sum(row[2]) > 0]
print(f"\n{len(partial)} of {len(rows)} responses get terminal reward 0 but partial credit from "
      "the process reward")

# %% [markdown]
# With a terminal reward, a response with one right digit and one wrong digit scores exactly
# like gibberish; the process reward tells them apart, and says *where* the response went wrong.
# The price: someone has to grade every step.
#
# ## 5. $J(\theta)$, computed exactly
#
# $$J(\theta) = \mathbb{E}_{y \sim \pi_\theta(\cdot \mid x)}\big[r(x, y)\big]
#            = \sum_{y} \pi_\theta(y \mid x)\, G(y),
#   \qquad \pi_\theta(y \mid x) = \prod_t \pi_\theta(y_t \mid x, y_{<t})$$
#
# For the course model the sum has $V^H$ terms (with its vocabulary of $V$ tokens and a
# horizon of only $H = 4$, the number printed below): nobody can list them. So we build a policy small enough to list: `mdp.TinyPolicy`, a *bigram* language
# model over three words `a b c` and `<eos>`, $\pi_\theta(y_t \mid y_{t-1}) =
# \mathrm{softmax}(\theta[y_{t-1}])$, with a horizon of $H = 3$. Its $\theta$ is a $4 \times 4$
# table of logits. Its task (`mdp.tiny_task`): *say "a" as often as you can, and finish your
# sentence*: the return is the number of "a" plus a bonus of 2 for ending with `<eos>` within
# the horizon.

# %%
V, H = len(tokenizer), 4
print(f"V = {V} tokens, H = {H}: V^H = {V ** H:.2e} responses to sum over")
tiny = mdp.TinyPolicy(seed=0)
tiny_env = mdp.tiny_task(tiny)
ids, mask = mdp.enumerate_sequences(tiny)
probs = tiny.sequence_logprobs(ids, mask).exp().detach()  # (N,) pi(y) of every response
returns = mdp.step_rewards(tiny_env, "", ids, mask).sum(dim=1)  # (N,) G(y)
texts = tiny.texts(ids, mask)
print(f"the tiny policy can say {len(texts)} different things; their probabilities sum to "
      f"{float(probs.sum()):.6f}")
order = torch.argsort(probs, descending=True)
for i in order[:8].tolist():
    print(f"  {texts[i]:16} pi = {float(probs[i]):.4f}   G = {float(returns[i]):.0f}")
assert len(texts) == 1 + 3 + 9 + 27 and abs(float(probs.sum()) - 1) < 1e-9

# %% [markdown]
# $J(\theta)$ is then a sum of 40 terms. `mdp.exact_objective` computes it as a differentiable
# tensor, which lesson 04 will differentiate to get the *exact* gradient.

# %%
J_exact = float(mdp.exact_objective(tiny, tiny_env).detach())
J_by_hand = float((probs * returns).sum())
print(f"J(theta) = {J_exact:.4f}  (by hand: {J_by_hand:.4f})")
assert abs(J_exact - J_by_hand) < 1e-10

# %% [markdown]
# The expectation can also be *estimated* the way RL always will: sample responses from the
# policy itself and average their returns. With $n$ samples the standard error is
# $\mathrm{std}(G)/\sqrt{n}$. The Monte Carlo average should land within 3 standard errors of
# the exact value.

# %%
n_mc = 20_000
sample_ids, sample_mask = tiny.sample(n_mc, torch.Generator().manual_seed(0))
sample_returns = mdp.step_rewards(tiny_env, "", sample_ids, sample_mask).sum(dim=1)
J_mc = float(sample_returns.mean())
J_se = float(sample_returns.std()) / n_mc ** 0.5
print(f"exact J = {J_exact:.4f}; Monte Carlo over {n_mc:,} samples: {J_mc:.4f} +- {J_se:.4f} "
      f"({abs(J_mc - J_exact) / J_se:.2f} standard errors away)")
assert abs(J_mc - J_exact) < 3 * J_se
claims.check("expected_reward_over_own_outputs", abs(J_mc - J_exact) / J_se)

# %%
running = sample_returns.cumsum(0) / torch.arange(1, n_mc + 1)
band = 3 * float(sample_returns.std()) / torch.arange(1, n_mc + 1).sqrt()
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(running.numpy(), label="Monte Carlo average of the policy's own samples")
ax.fill_between(range(n_mc), (J_exact - band).numpy(), (J_exact + band).numpy(), alpha=0.2,
                label="exact J +- 3 standard errors")
ax.axhline(J_exact, color="black", lw=1, label="exact J (enumeration)")
ax.set_xscale("log")
ax.set_ylim(J_exact - 1, J_exact + 1)
ax.set_xlabel("number of samples")
ax.set_ylabel("estimate of J")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### The same J with a process reward
#
# The task can pay its reward in two ways: all at the end (`tiny_task(tiny)`), or +1 the moment
# each "a" is said with only the finishing bonus at the end (`tiny_task(tiny, per_step=True)`).
# Each response gets the same *return* either way, so $J$ is the same. What differs is *when*
# the reward arrives, which lesson 04 exploits (reward-to-go).

# %%
process_tiny_env = mdp.tiny_task(tiny, per_step=True)
J_process = float(mdp.exact_objective(tiny, process_tiny_env).detach())
steps_terminal = mdp.step_rewards(tiny_env, "", ids, mask)
steps_process = mdp.step_rewards(process_tiny_env, "", ids, mask)
i = texts.index("a a <eos>")
print(f"'a a <eos>': terminal rewards {steps_terminal[i].tolist()}, "
      f"process rewards {steps_process[i].tolist()}")
print(f"J with the terminal reward {J_exact:.4f}, with the process reward {J_process:.4f}")
assert abs(J_process - J_exact) < 1e-10

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- Generation is an MDP: the state is the prompt plus the tokens so far, the action is one
  of {env.vocab_size} tokens, the transition appends it (the same state and action always gave
  the same next state), and the reward arrives at the end or at every step.
- Rolling the model out in the MDP gave the same tokens as `sample()` for 5 of 5 seeds: the
  MDP is not a new model of generation, it *is* generation.
- On {len(rows)} hot samples of {prompt!r}, {len(partial)} responses got terminal reward 0 but
  partial credit from a digit-by-digit process reward.
- A tiny bigram policy can say {len(texts)} things; listing them gives J(theta) =
  {J_exact:.4f} exactly, and the average return of {n_mc:,} of its own samples was
  {J_mc:.4f} +- {J_se:.4f}, {abs(J_mc - J_exact) / J_se:.1f} standard errors away.""")

# %% [markdown]
# Next: **lesson 04** differentiates $J(\theta)$. The exact sum above has a gradient that
# autograd computes in one line; sampling does not. The policy gradient recovers it from samples.
