# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/05_reinforce_lm.ipynb)
#
# # Exercises 05 - One REINFORCE step on the language model
#
# > *You let it generate its own response, then score that response with a reward $r$, and
# > update the model to make high-scoring responses more likely.*
#
# One exercise: write the update step at the heart of `train_reinforce`. Then run your own
# step in a loop on sums and watch the reward rise.

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

import torch

import course_lib
from course_lib import rewards as R
from course_lib import world as W
from course_lib.checks import check_reinforce_step
from course_lib.evaluation import addition_accuracy
from course_lib.sampling import Rollout, sample, token_logprobs

course_lib.set_seed(0)

# %% [markdown]
# ## Exercise 5.1 - One REINFORCE update
#
# You get a `rollout` of $B$ sampled responses (a `course_lib.sampling.Rollout`: `prompt_ids`
# `(B, P)`, `response_ids` and `response_mask` `(B, R)`, `input_ids` and `attention_mask`
# `(B, P + R)`, `temperature`), one reward per response `rewards` `(B,)`, the `policy` and its
# `optimizer`. Do one update:
#
# 1. recompute the log-probabilities of the sampled response tokens **with gradient**
#    (`rollout.logprobs` were recorded under `no_grad`): `token_logprobs(policy,
#    rollout.input_ids, rollout.attention_mask, rollout.temperature)` gives `(B, P + R - 1)`;
#    the response tokens are the last $R$ columns, `[:, P - 1:]`;
# 2. advantages $A_i = r_i - \bar r$ with the batch mean as baseline, **detached** (the rewards
#    may come from a model with weights of its own);
# 3. the loss $-\frac{1}{B} \sum_i A_i \sum_t \text{mask}_{i,t} \log \pi_\theta(y_{i,t} \mid
#    x_i, y_{i,<t})$: every response token carries its response's advantage, padding none;
# 4. `zero_grad`, `backward`, `step`, in that order, and return the loss.

# %% tags=["exercise-check"]
def reinforce_step(policy, optimizer: torch.optim.Optimizer, rollout: Rollout,
                   rewards: torch.Tensor) -> torch.Tensor:
    """One REINFORCE update of ``policy`` on a sampled batch; returns the loss (a scalar)."""
    # BEGIN SOLUTION: log-probs with gradient, detached advantages (r - mean r) broadcast over the masked tokens, zero_grad/backward/step
    P = rollout.prompt_ids.shape[1]
    logprobs = token_logprobs(policy, rollout.input_ids, rollout.attention_mask,
                              rollout.temperature)[:, P - 1:]  # (B, R)
    mask = rollout.response_mask.to(logprobs.dtype)  # (B, R)
    r = rewards.detach().to(logprobs.dtype)  # (B,)
    advantages = r - r.mean()  # (B,)
    loss = -(advantages[:, None] * logprobs * mask).sum(dim=1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss
    # END SOLUTION


check_reinforce_step(reinforce_step)

# %% [markdown]
# ## Your step, in a loop
#
# Sample 64 answers to 16 sums from the SFT model, score them with the exact-match reward,
# take your step; 40 times. The loop is `train_reinforce` with nothing but its core (no
# leave-one-out baseline, no KL, no logging). Watch the mean reward of each batch.

# %%
sft_model, tokenizer = course_lib.load_sft_model(device="cpu")
train_sums = [W.addition_question(a, b) for a, b in W.addition_problems("train")]
heldout_pairs = W.addition_problems("test")  # all 1,620 held-out sums
acc_before = addition_accuracy(sft_model, tokenizer, heldout_pairs, seed=0)
print(f"SFT model: held-out sampled accuracy {acc_before:.3f}")

# %% tags=["exercise-check"]
policy = copy.deepcopy(sft_model)
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-4)
rng, generator = random.Random(0), torch.Generator().manual_seed(0)
mean_rewards = []
for step in range(40):
    prompts = [p for p in rng.sample(train_sums, 16) for _ in range(4)]
    rollout = sample(policy, tokenizer, prompts, max_new_tokens=12, generator=generator)
    rewards = R.exact_match_reward(rollout.prompts, rollout.texts)
    policy.train()
    reinforce_step(policy, optimizer, rollout, rewards)
    policy.eval()
    mean_rewards.append(float(rewards.mean()))
    if step % 10 == 9:
        print(f"step {step + 1}: mean reward of the last 10 batches "
              f"{sum(mean_rewards[-10:]) / 10:.3f}")
acc_after = addition_accuracy(policy, tokenizer, heldout_pairs, seed=0)
print(f"held-out sampled accuracy: SFT {acc_before:.3f} -> after your 40 steps {acc_after:.3f}")
assert acc_after > acc_before, (acc_before, acc_after)
