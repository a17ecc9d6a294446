# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/solutions/00_tiny_world.ipynb)
#
# # Exercises 00 - Sampling from the tiny base model
#
# Two small functions that every later lesson relies on: turning logits into a sampling
# distribution at a temperature, and scoring a whole continuation with the model's
# log-probabilities. Each exercise ends with a check that runs your function on seeded cases
# and, if something is off, names the likely mistake.

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
import torch.nn.functional as F

import course_lib
from course_lib import world as W
from course_lib.checks import check_sequence_logprob, check_temperature_probs

course_lib.set_seed(0)
model, tokenizer = course_lib.load_base_model()

# %% [markdown]
# ## Exercise 0.1 - Temperature
#
# Given logits $z$ of shape `(B, V)` (one row per prompt, one column per token of the
# vocabulary) and a temperature $T > 0$, return the probabilities
#
# $$p_T(v) = \frac{\exp(z_v / T)}{\sum_u \exp(z_u / T)}$$
#
# as a tensor of shape `(B, V)` whose rows sum to one.

# %% tags=["exercise-check"]
def temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Next-token probabilities at ``temperature``. logits: (B, V) -> (B, V)."""
    # BEGIN SOLUTION: divide the logits by the temperature, then softmax over the vocabulary
    return F.softmax(logits / temperature, dim=-1)
    # END SOLUTION


check_temperature_probs(temperature_probs)

# %% [markdown]
# Now look at what temperature does to the base model's next token after a prompt about an
# unknown country: at low temperature it almost always names one capital; at high temperature
# it spreads out.

# %% tags=["exercise-check"]
unknown = W.default_world().select(level="unknown")[0]
ids = tokenizer(W.CORPUS_PROMPT.format(country=unknown.country), return_tensors="pt")
with torch.no_grad():
    logits = model(**ids).logits[:, -1]  # (1, V)
for T in (0.3, 1.0, 3.0):
    p = temperature_probs(logits, T)[0]
    print(f"T = {T}: most likely token {tokenizer.convert_ids_to_tokens(int(p.argmax()))!r} "
          f"with p = {float(p.max()):.2f}")

# %% [markdown]
# ## Exercise 0.2 - The log-probability of a continuation
#
# The model gives every token a probability given what came before it. The log-probability of
# a whole continuation $y = (y_1, \dots, y_L)$ after a prompt $x$ is
#
# $$\log \pi_\theta(y \mid x) = \sum_{t=1}^{L} \log \pi_\theta(y_t \mid x, y_{<t}).$$
#
# Write it. Tokenize the prompt with `tokenizer(prompt)` (this adds `<bos>` in front) and the
# continuation with `tokenizer(continuation, add_special_tokens=False)`; run the model once on
# the concatenation; remember that the logits at position $t$ predict the token at $t + 1$.

# %% tags=["exercise-check"]
def sequence_logprob(model, tokenizer, prompt: str, continuation: str) -> torch.Tensor:
    """log pi(continuation | prompt), a scalar tensor: the sum over the continuation's tokens."""
    # BEGIN SOLUTION: one forward pass, log_softmax, pick each next token, sum over the continuation
    p_ids = tokenizer(prompt)["input_ids"]
    c_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + c_ids], device=model.device)  # (1, P + L)
    with torch.no_grad():
        logp = F.log_softmax(model(input_ids=ids).logits[0], dim=-1)  # (P + L, V)
    total = torch.tensor(0.0)
    for t in range(len(p_ids), ids.shape[1]):  # each continuation token ...
        total = total + logp[t - 1, ids[0, t]]  # ... is predicted by the position before it
    return total
    # END SOLUTION


check_sequence_logprob(sequence_logprob, model, tokenizer)

# %% [markdown]
# Use it: which capital does the base model find most likely for a known country, and for an
# unknown one? For the known country the right capital is far ahead; for the unknown one the
# model cannot tell its true capital from any other.

# %% tags=["exercise-check"]
world = W.default_world()
for e in (world.select(level="known")[0], world.select(level="unknown")[0]):
    prompt = W.CORPUS_PROMPT.format(country=e.country)
    right = float(sequence_logprob(model, tokenizer, prompt, f" {e.capital}."))
    other = world.entities[7].capital if world.entities[7] is not e else world.entities[8].capital
    wrong = float(sequence_logprob(model, tokenizer, prompt, f" {other}."))
    print(f"{e.country:>12} ({e.level}): log p(true capital) = {right:6.2f}, "
          f"log p({other}) = {wrong:6.2f}")
