# %% [markdown]
# > generated from solutions/01_sft_loss.py by `make exercises` - do not edit; edit the solution instead

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/exercises/01_sft_loss.ipynb)
#
# # Exercises 01 - The SFT loss
#
# Two functions: the terms of
# $\mathcal{L}_\text{SFT}(\theta) = -\sum_{t=1}^{L} \log \pi_\theta(y_t \mid x, y_{<t})$ one by
# one for a single example (the per-token table of lesson 01), then the batched loss with the
# prompt masked out. Each ends with a check that runs your function on seeded cases and, if
# something is off, names the likely mistake.

# %% tags=["colab"]
# Set-up. In Google Colab this installs the course's helper library (and keeps Colab's own
# torch, transformers and ipywidgets); anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course_lib @ git+https://github.com/why-rl/course"], check=True)

# %%
import html
import random

import torch
import torch.nn.functional as F
from IPython.display import HTML, display

import course_lib
from course_lib import world as W
from course_lib.checks import check_response_token_nll, check_sft_loss
from course_lib.sft import make_sft_batch

course_lib.set_seed(0)
model, tokenizer = course_lib.load_base_model()
world = W.default_world()

# %% [markdown]
# ## Exercise 1.1 - The terms of $\mathcal{L}_\text{SFT}$, token by token
#
# One sequence: `input_ids` of shape `(T,)` holds the prompt's `n_prompt` tokens (with
# `<bos>`), then the response's $L = T - n_\text{prompt}$ tokens (with `<eos>`). `logits` of
# shape `(T, V)` are the model's outputs for it: row $i$ is its guess for token $i + 1$.
# Return the tensor of shape `(L,)` holding $-\log \pi_\theta(y_t \mid x, y_{<t})$ for each
# response token.

# %% tags=["raises-exception"]
def response_token_nll(logits: torch.Tensor, input_ids: torch.Tensor,
                       n_prompt: int) -> torch.Tensor:
    """-log pi(y_t | x, y_<t) of each response token. logits (T, V), input_ids (T,) -> (L,)."""
    raise NotImplementedError("Exercise 1.1: log_softmax the rows that predict the response (n_prompt - 1 to T - 2), pick each token")


check_response_token_nll(response_token_nll)

# %% [markdown]
# Use it on a real demonstration and print the table of lesson 01: each response token, the
# probability the base model gave it, and its term of the loss.

# %% tags=["raises-exception"]
e = world.select("sft", known=True)[1]
prompt, response = W.question(e.country), W.CONFIDENT.format(country=e.country, answer=e.capital)
batch = make_sft_batch(tokenizer, [(prompt, response)], model.device)
ids = batch["input_ids"][0]  # (T,)
n_prompt = int((batch["loss_mask"][0] == 0).sum())
with torch.no_grad():
    logits = model(input_ids=batch["input_ids"]).logits[0]  # (T, V)
nll = response_token_nll(logits, ids, n_prompt)
tokens = tokenizer.convert_ids_to_tokens(ids[n_prompt:].tolist())
rows = "".join(f"<tr><td><code>{html.escape(t)}</code></td><td>{float(torch.exp(-v)):.3f}</td>"
               f"<td>{float(v):.3f}</td></tr>" for t, v in zip(tokens, nll))
display(HTML(f"<table><tr><th>y_t</th><th>pi(y_t | x, y_&lt;t)</th><th>-log pi</th></tr>{rows}"
             f"<tr><th colspan=2>L_SFT (sum)</th><th>{float(nll.sum()):.3f}</th></tr></table>"))

# %% [markdown]
# ## Exercise 1.2 - The batched SFT loss, with the prompt masked out
#
# A batch of right-padded sequences: `logits` `(B, T, V)`, `labels` `(B, T)` (the token ids),
# `loss_mask` `(B, T)` (1 on response tokens, 0 on the prompt and the padding). Return the
# mean of $-\log \pi_\theta(y_t \mid x, y_{<t})$ over all response tokens of the batch, as a
# scalar tensor with a gradient. Shift inside the function: the logits at position $t$
# predict the token at $t + 1$.

# %% tags=["raises-exception"]
def sft_loss(logits: torch.Tensor, labels: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean -log pi(y_t | x, y_<t) over the response tokens. (B, T, V), (B, T), (B, T) -> ()."""
    raise NotImplementedError("Exercise 1.2: shift (logits[:, :-1] vs labels[:, 1:]), mask with loss_mask[:, 1:], average")


check_sft_loss(sft_loss)

# %% [markdown]
# Your loss must equal the model's own: Hugging Face models compute the same average when
# given `labels=` with `-100` on every token that is not imitated.

# %% tags=["raises-exception"]
rng = random.Random(0)
batch = make_sft_batch(tokenizer, [W.sft_example(world, rng) for _ in range(16)], model.device)
labels = batch["input_ids"].masked_fill(batch["loss_mask"] == 0, -100)
with torch.no_grad():
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                labels=labels)
mine = float(sft_loss(out.logits, batch["input_ids"], batch["loss_mask"]))
print(f"your sft_loss {mine:.6f}, the model's own loss {float(out.loss):.6f}")
assert abs(mine - float(out.loss)) < 1e-5

# %% [markdown]
# ## Question 1.3 - Why mask the prompt?
#
# Suppose the loss also covered the prompt tokens. What would fine-tuning on the annotators'
# demonstrations (some of which contain a user's *wrong* suggestion) teach the model?
#
# *Your answer here.*
