# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/03_generation_as_mdp.ipynb)
#
# # Exercises 03 - Generation as an MDP
#
# > *State, action, transition, reward: this is exactly a Markov decision process, and a
# > language model is exactly a policy $\pi_\theta(y_t \mid x, y_{<t})$ over it.*
#
# Two exercises: write one step of the text MDP, then compute $J(\theta)$ exactly by walking
# through every response a tiny policy can give. Each ends with a check that runs your function
# on seeded cases and, if something is off, names the likely mistake.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import torch

import course_lib
from course_lib import mdp
from course_lib.checks import check_exact_objective, check_step

course_lib.set_seed(0)
tiny = mdp.TinyPolicy(seed=0)  # a bigram policy over "a", "b", "c" and <eos>, horizon 3
env = mdp.tiny_task(tiny, per_step=True)  # +1 per "a" said, +2 for finishing with <eos>
print(f"{tiny.n_actions} actions (ids 0..{tiny.eos_id}, <eos> = {env.eos_id}), "
      f"horizon {env.max_new_tokens}")

# %% [markdown]
# ## Exercise 3.1 - One step of the MDP
#
# A `mdp.State` holds the prompt (`prompt`, `prompt_ids`), the actions taken so far
# (`response_ids`, a tuple of token ids), their text (`text`) and whether the episode is over
# (`done`). Write `step(env, state, action)` that returns `(next_state, reward, done)`:
#
# - **transition**: append `action` to `response_ids`; the text is `env.decode(response_ids)`;
# - **done** when the action is `env.eos_id` or the response has `env.max_new_tokens` tokens;
# - **reward**: the process reward `env.step_reward_fn(state, action, next_state)` (when it is
#   not `None`), plus, only when the episode ends, the terminal reward
#   `env.reward_fn(next_state.prompt, next_state.text)` (when it is not `None`).
#
# Build the next state with `mdp.State(prompt, prompt_ids, response_ids, text, done)`.

# %% tags=["exercise-check"]
def step(env: mdp.TextMDP, state: mdp.State, action: int) -> tuple[mdp.State, float, bool]:
    """One step of the text MDP: (next_state, reward, done)."""
    # BEGIN SOLUTION: append the action, decide done (<eos> or horizon), add process + terminal reward
    response = state.response_ids + (action,)
    done = action == env.eos_id or len(response) >= env.max_new_tokens
    next_state = mdp.State(state.prompt, state.prompt_ids, response, env.decode(response), done)
    reward = 0.0
    if env.step_reward_fn is not None:
        reward += env.step_reward_fn(state, action, next_state)
    if done and env.reward_fn is not None:
        reward += env.reward_fn(next_state.prompt, next_state.text)
    return next_state, reward, done
    # END SOLUTION


check_step(step)

# %% [markdown]
# Use your `step` to play one episode with the tiny policy: draw each action from
# $\pi_\theta(\cdot \mid s_t)$ (`tiny(state)` gives the log-probabilities) until the episode ends.

# %% tags=["exercise-check"]
g = torch.Generator().manual_seed(0)
state, rewards = env.reset(""), []
while not state.done:
    action = int(torch.multinomial(tiny(state).exp()[None], 1, generator=g))
    state, reward, done = step(env, state, action)
    rewards.append(reward)
print(f"response {state.text!r}, actions {list(state.response_ids)}, rewards {rewards}, "
      f"return G = {sum(rewards)}")

# %% [markdown]
# ## Exercise 3.2 - $J(\theta)$ by enumeration
#
# $$J(\theta) = \sum_y \pi_\theta(y \mid x)\, G(y) = \sum_y \pi_\theta(y \mid x) \sum_t r_t$$
#
# Every response the policy can produce counts: those that end with `<eos>` and those cut off at
# the horizon. One way: walk the tree of states from `env.reset(prompt)`. In each state, for
# every action with nonzero probability ($\pi$ = `policy(state).exp()`), take the step
# (`env.step_from(state, action)`, or your own `step`): the reward of that step counts with the
# probability of reaching it, and unless the episode ended, continue from the next state.
# Return $J$ as a number.

# %% tags=["exercise-check"]
def exact_J(env: mdp.TextMDP, policy, prompt: str) -> float:
    """J(theta) = sum over every response y of pi(y | x) * G(y)."""
    # BEGIN SOLUTION: recurse over every action with nonzero probability; sum probability x reward
    def value(state: mdp.State, reach: float) -> float:
        total = 0.0
        probs = policy(state).exp()
        for action in range(env.vocab_size):
            p = float(probs[action])
            if p == 0.0:
                continue
            next_state, reward, done = env.step_from(state, action)
            total += reach * p * reward
            if not done:
                total += value(next_state, reach * p)
        return total

    return value(env.reset(prompt), 1.0)
    # END SOLUTION


check_exact_objective(exact_J)

# %% [markdown]
# Compare your $J$ with the library's `mdp.exact_objective` and with a Monte Carlo average of
# 20,000 of the policy's own samples: the average should be within 3 standard errors.

# %% tags=["exercise-check"]
J = exact_J(env, tiny, "")
J_lib = float(mdp.exact_objective(tiny, env).detach())
J_mc, se = mdp.monte_carlo_objective(tiny, env, 20_000, generator=torch.Generator().manual_seed(0))
print(f"your J = {J:.4f}, library J = {J_lib:.4f}, Monte Carlo {J_mc:.4f} +- {se:.4f}")
assert abs(J - J_lib) < 1e-9 and abs(J_mc - J) < 3 * se
