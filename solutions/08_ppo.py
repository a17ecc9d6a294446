# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/08_ppo.ipynb)
#
# # Exercises 08 - The clipped surrogate loss and GAE
#
# > *That correspondence is what makes the whole apparatus of RL available to language
# > modeling.*
#
# Two exercises: write PPO's clipped surrogate loss, then generalized advantage estimation.
# Each is checked against the reference on seeded cases; a wrong answer gets the name of the
# mistake it matches. Then use both: reuse one batch of the tiny policy with your loss, and
# read what your GAE does with a value function that is right, and with one that is wrong.

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

import torch

import course_lib
from course_lib import mdp
from course_lib.checks import check_clipped_surrogate_loss, check_gae

course_lib.set_seed(0)

# %% [markdown]
# ## Exercise 8.1 - The clipped surrogate loss
#
# $$L^\text{CLIP}(\theta) = -\frac{1}{\sum_{i,t} m_{it}} \sum_{i,t} m_{it}\,
#   \min\big(\rho_{it} A_{it},\ \mathrm{clip}(\rho_{it}, 1 - \epsilon, 1 + \epsilon)\, A_{it}\big),
#   \qquad \rho_{it} = \exp\big(\log \pi_\theta(y_{it} \mid \cdot) - \log \pi_\text{old}(y_{it}
#   \mid \cdot)\big).$$
#
# - `logprobs`, `old_logprobs`, `mask`: `(B, T)`; `old_logprobs` come from the policy that
#   sampled, a constant for the gradient;
# - `advantages`: `(B,)` (one per response, the same on each of its tokens) or `(B, T)`;
# - return a scalar: minus the mean over the batch's response tokens (masked sum / `mask.sum()`).

# %% tags=["exercise-check"]
def clipped_surrogate_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor,
                           advantages: torch.Tensor, mask: torch.Tensor,
                           clip_eps: float = 0.2) -> torch.Tensor:
    """PPO's clipped surrogate loss over the response tokens: a scalar."""
    # BEGIN SOLUTION: ratio = exp(logprobs - old_logprobs.detach()); min of ratio*A and clip(ratio)*A; minus the masked token mean
    A = advantages[:, None] if advantages.dim() == 1 else advantages  # (B, 1) or (B, T)
    ratio = torch.exp(logprobs - old_logprobs.detach())  # (B, T)
    objective = torch.min(ratio * A, ratio.clamp(1 - clip_eps, 1 + clip_eps) * A)
    return -(objective * mask).sum() / mask.sum()
    # END SOLUTION


check_clipped_surrogate_loss(clipped_surrogate_loss)

# %% [markdown]
# <details><summary>Hint</summary>
#
# `torch.min` of two tensors is elementwise; `tensor.clamp(low, high)` clips. Broadcast a `(B,)`
# advantage over the tokens with `advantages[:, None]`.
# </details>
#
# **Your loss at work.** One batch of 16 responses of lesson 04's tiny policy, 30 Adam steps
# on it with your loss, unclipped ($\epsilon = \infty$) and clipped ($\epsilon = 0.2$). Before
# you run it: which one ends further from the policy that sampled, and by roughly how much?

# %% tags=["exercise-check"]
tiny = mdp.TinyPolicy(seed=0)
env = mdp.tiny_task(tiny)
all_ids, all_mask = mdp.enumerate_sequences(tiny)


def kl_to(p, q) -> float:
    lp = p.sequence_logprobs(all_ids, all_mask).detach()
    lq = q.sequence_logprobs(all_ids, all_mask).detach()
    return float((lp.exp() * (lp - lq)).sum())


ids, mask = tiny.sample(16, torch.Generator().manual_seed(0))
G = mdp.step_rewards(env, "", ids, mask).sum(1)
old = tiny.token_logprobs(ids, mask).detach()
kl_after = {}
for eps in (float("inf"), 0.2):
    policy = copy.deepcopy(tiny)
    opt = torch.optim.Adam(policy.parameters(), lr=0.1)
    for _ in range(30):
        loss = clipped_surrogate_loss(policy.token_logprobs(ids, mask), old, G - G.mean(), mask,
                                      eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
    kl_after[eps] = kl_to(policy, tiny)
print(f"exact KL to the sampling policy after 30 epochs: unclipped {kl_after[float('inf')]:.3f}, "
      f"clipped {kl_after[0.2]:.3f}")
assert kl_after[float("inf")] > 2 * kl_after[0.2]

# %% [markdown]
# ## Exercise 8.2 - Generalized advantage estimation
#
# $$\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t), \qquad A_t = \delta_t + \gamma \lambda A_{t+1},
#   \qquad \text{returns}_t = A_t + V(s_t),$$
#
# - `rewards`, `values`, `mask`: `(B, T)`, responses left-aligned (token 1 in column 0), 1 in
#   `mask` on response tokens;
# - after a response's last token the episode is over: $V(s_{t+1}) = 0$ there, and $A$ does
#   not run on into the padding (whatever `values` holds on the padding must not matter);
# - return `(advantages, returns)`, both 0 on the padding.

# %% tags=["exercise-check"]
def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages and returns, (B, T) each, 0 on the padding."""
    # BEGIN SOLUTION: next values masked to 0 after the last token; deltas; A_t = delta_t + gamma*lam*A_{t+1}, backwards
    B, T = rewards.shape
    next_mask = torch.cat([mask[:, 1:], torch.zeros(B, 1, dtype=mask.dtype)], dim=1)
    next_values = torch.cat([values[:, 1:], torch.zeros(B, 1, dtype=values.dtype)], dim=1)
    deltas = (rewards + gamma * next_values * next_mask - values) * mask  # (B, T)
    advantages = torch.zeros_like(deltas)
    running = torch.zeros(B, dtype=deltas.dtype)
    for t in reversed(range(T)):
        running = deltas[:, t] + gamma * lam * next_mask[:, t] * running
        advantages[:, t] = running
    return advantages, (advantages + values) * mask
    # END SOLUTION


check_gae(gae)

# %% [markdown]
# <details><summary>Hint</summary>
#
# Shift `values` and `mask` one column to the left (append a column of zeros) to get
# $V(s_{t+1})$ and "is there a next token?". Then run one loop from the last column back.
# </details>
#
# **What the critic buys.** One response of four tokens and a reward of 1 at the end, with no
# discount. One critic knows that the second token decided the reward: its value is 0.5 before
# that token and 1 after it. Another knows nothing (V = 0). Run your GAE with both, at
# $\lambda = 0.95$. Predict first: which tokens get an advantage from each?

# %% tags=["exercise-check"]
rewards = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
mask = torch.ones_like(rewards)
critics = {"knows (V = 0.5, 0.5, 1, 1)": torch.tensor([[0.5, 0.5, 1.0, 1.0]], dtype=torch.float64),
           "knows nothing (V = 0)": torch.zeros_like(rewards)}
for name, values in critics.items():
    adv, ret = gae(rewards, values, mask, 1.0, 0.95)
    print(f"{name:>27}: advantages {[round(a, 3) for a in adv[0].tolist()]}")
adv_good = gae(rewards, critics["knows (V = 0.5, 0.5, 1, 1)"], mask, 1.0, 0.95)[0][0]
adv_none = gae(rewards, critics["knows nothing (V = 0)"], mask, 1.0, 0.95)[0][0]
assert torch.allclose(adv_good, torch.tensor([0.475, 0.5, 0.0, 0.0], dtype=torch.float64))
assert bool((adv_none > 0.8).all())  # no critic: every token shares the credit

# %% [markdown]
# With the informed critic, the tokens after the decision get no advantage at all (nothing they
# did changed the reward), and the credit sits on the token that decided it (and, through
# $\lambda$, a little on the one before). Without a critic every token gets nearly the whole
# reward: that is REINFORCE's credit assignment, the same weight on every token of a response.
