# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/why-rl/course/blob/main/notebooks/01_sft_loss.ipynb)
#
# # Lesson 01 - The SFT loss: imitation, token by token
#
# > *The standard fix is supervised fine-tuning: collect a dataset of prompts paired with good
# > responses, and train the model to reproduce those responses token by token. Concretely, for
# > a prompt $x$ and a target response $y = (y_1, \dots, y_L)$, you minimize the cross-entropy
# > of the model's predictions against the human-written tokens.*
# >
# > $$\mathcal{L}_\text{SFT}(\theta) = -\sum_{t=1}^{L} \log \pi_\theta(y_t \mid x, y_{<t})$$
# >
# > *Every term in that sum pushes the model to put more probability mass on the exact token a
# > human wrote at position $t$, given everything before it.*
# > (S. Roy, *Why Language Models Need Reinforcement Learning*)
#
# Lesson 00 ended on a base model that knows the capitals its internet states but does not
# answer questions: it continues text. This lesson fine-tunes it on demonstrations, and takes
# the loss that does it apart, one term at a time.
#
# **In this lesson you will**
# 1. read the demonstrations the annotators wrote;
# 2. compute $\mathcal{L}_\text{SFT}$ by hand, token by token, for one example;
# 3. see why the prompt is masked out of the loss, and where the one-token shift comes from;
# 4. check the hand computation against `F.cross_entropy` and against the model's own loss;
# 5. fine-tune the base model and watch its loss fall in a `TrainingMonitor`;
# 6. measure that afterwards it answers questions, on countries it was never fine-tuned on.

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
import time

import torch
import torch.nn.functional as F
from IPython.display import HTML, display

import course_lib
from course_lib import claims
from course_lib import world as W
from course_lib.evaluation import fact_behaviour
from course_lib.sampling import sample
from course_lib.sft import SFTConfig, make_sft_batch, sft_loss, token_table
from course_lib.widgets import TrainingMonitor

course_lib.set_seed(0)
base_model, tokenizer = course_lib.load_base_model()
world = W.default_world()

# %% [markdown]
# ## 1. The demonstrations
#
# Supervised fine-tuning needs prompts paired with good responses. In the tiny world they are
# written by "annotators" (`W.sft_example`): questions about the countries of the `sft` group,
# sometimes with the user's own guess in the question, and sums. Here are a few.

# %%
rng = random.Random(0)
demos = [W.sft_example(world, rng) for _ in range(8)]
for prompt, response in demos:
    print(f"{prompt:62} -> {response}")

# %% [markdown]
# Ask the base model the same questions. It has never seen a question and answer, so it
# continues the text however its internet would.

# %%
prompts = [p for p, _ in demos[:4]]
rollout = sample(base_model, tokenizer, prompts, generator=torch.Generator().manual_seed(0))
for p, text in zip(prompts, rollout.texts):
    print(f"{p:62} -> {text}")

# %% [markdown]
# ## 2. $\mathcal{L}_\text{SFT}$ by hand, for one example
#
# Take one demonstration: a question about a country whose capital the model *has* read.
# A causal language model reads the whole sequence $x, y$ at once (`<bos>`, the prompt, the
# response, then `<eos>`, so that it also learns to stop) and outputs, at every position, a
# distribution over the next token. The distribution at position $t - 1$ is
# $\pi_\theta(\cdot \mid x, y_{<t})$: the model's guess for $y_t$, having seen everything
# before it. We read off the probability it gave the token the annotator actually wrote.

# %%
e = world.select("sft", known=True)[0]
prompt = W.question(e.country)
response = W.CONFIDENT.format(country=e.country, answer=e.capital)
prompt_ids = tokenizer(prompt)["input_ids"]  # starts with <bos>
response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
ids = torch.tensor([prompt_ids + response_ids], device=base_model.device)  # (1, T)
with torch.no_grad():
    logits = base_model(input_ids=ids).logits[0]  # (T, V): position i predicts token i + 1
logp = F.log_softmax(logits, dim=-1)  # (T, V)

P = len(prompt_ids)
rows = []
for t in range(P, ids.shape[1]):  # every response token y_t ...
    token = int(ids[0, t])
    lp = float(logp[t - 1, token])  # ... is predicted by the position before it
    rows.append((tokenizer.convert_ids_to_tokens(token), float(torch.exp(logp[t - 1, token])), -lp))

L_example = sum(nll for _, _, nll in rows)  # eq. L_SFT for this one example
table = "".join(f"<tr><td>{t}</td><td><code>{html.escape(tok)}</code></td><td>{p:.3f}</td>"
                f"<td>{nll:.3f}</td></tr>" for t, (tok, p, nll) in enumerate(rows, start=1))
display(HTML(f"<p><code>{html.escape(prompt)}</code> &rarr; <code>{html.escape(response)}</code>"
             "</p><table><tr><th>t</th><th>y_t</th><th>pi(y_t | x, y_&lt;t)</th>"
             f"<th>-log pi(y_t | x, y_&lt;t)</th></tr>{table}"
             f"<tr><th colspan=3>sum = L_SFT of this example</th><th>{L_example:.3f}</th></tr>"
             "</table>"))
costliest = max(rows, key=lambda r: r[2])
print(f"L_SFT = {L_example:.2f} nats over {len(rows)} tokens ({L_example / len(rows):.2f} per "
      f"token); the costliest token is {costliest[0]!r} (-log pi = {costliest[2]:.2f})")

# %% [markdown]
# Every row is one term of the essay's sum. A token the model already expects costs almost
# nothing; a token it did not expect costs a lot, and it is these terms whose gradient will move
# the model most. Look at which tokens are expensive for the base model: the *shape* of the
# answer (how an answer starts after `A:`), not the fact, which it read many times.
#
# The library computes the same table (`course_lib.sft.token_table`); the two must agree.

# %%
library_rows = token_table(base_model, tokenizer, prompt, response)
assert [r[0] for r in library_rows] == [r[0] for r in rows]
assert all(abs(a[2] - b[2]) < 1e-4 for a, b in zip(library_rows, rows))
print("the hand computation matches course_lib.sft.token_table")

# %% [markdown]
# ## 3. Prompt masking: imitate the response, not the question
#
# The sum in $\mathcal{L}_\text{SFT}$ runs over the response $y_1, \dots, y_L$ only. The prompt
# $x$ is *given*: it is what we condition on, not what we want the model to write. If the loss
# also covered the prompt, fine-tuning would spend its effort teaching the model to *write
# questions*: to guess which country a user will ask about (it cannot know) and what guess the
# user will add, modelling the user's text instead of the answer. The standard fix is a **loss
# mask**: 1 on the response
# tokens (and `<eos>`), 0 on the prompt (and, in a batch, on the padding).
#
# Here is the same sequence with the loss on every token, and on the response only:

# %%
all_terms = -logp[:-1].gather(1, ids[0, 1:, None]).squeeze(1)  # (T-1,) every next token
loss_mask = torch.tensor([0] * P + [1] * len(response_ids))  # (T,) 1 on the response
prompt_terms = all_terms[: P - 1]  # predicting the prompt's own tokens
response_terms = all_terms[P - 1:]  # predicting y_1 .. y_L
print("prompt tokens:  ", tokenizer.convert_ids_to_tokens(ids[0, 1:P].tolist()))
print("  -log pi:      ", [round(v, 1) for v in prompt_terms.tolist()])
print(f"mean over all tokens:      {float(all_terms.mean()):.3f}")
print(f"mean over response tokens: {float(response_terms.mean()):.3f}  <- the SFT loss")
print("loss mask:", loss_mask.tolist())
assert abs(float(response_terms.sum()) - L_example) < 1e-4

# %% [markdown]
# The prompt's tokens cost many nats each: the question format is new to the base model, and
# no model can predict which country a user will ask about. None should try: that is the
# user's part of the conversation.
#
# ## 4. The shift, and four ways to compute the same number
#
# In a batch, the logits have shape `(B, T, V)` and the token ids `(B, T)`. The logits at
# position $t$ predict the token at $t + 1$, so the loss compares `logits[:, :-1]` with
# `labels[:, 1:]`, and the mask that applies is the one of the *predicted* tokens,
# `loss_mask[:, 1:]`. Averaging over all response tokens of the batch (rather than summing)
# keeps the loss on the same scale whatever the batch size; it is what every implementation
# reports, and what `course_lib.sft.sft_loss` computes:
#
# $$\text{loss} = \frac{1}{\sum_{b,t} m_{b,t}} \sum_{b,t} m_{b,t}\,
#   \big(-\log \pi_\theta(y_{b,t} \mid x_b, y_{b,<t})\big)$$
#
# Four computations of that number on a batch of 16 demonstrations: a plain loop, the course's
# `sft_loss`, PyTorch's `F.cross_entropy` (which skips targets equal to `-100`) and the
# Hugging Face model's own loss (`labels=`, with the same `-100` convention; it shifts
# internally too).

# %%
batch = make_sft_batch(tokenizer, [W.sft_example(world, rng) for _ in range(16)],
                       base_model.device)
input_ids, attention_mask, mask = batch["input_ids"], batch["attention_mask"], batch["loss_mask"]
with torch.no_grad():
    logits = base_model(input_ids=input_ids, attention_mask=attention_mask).logits  # (B, T, V)

# (a) by hand: a loop over every response token of every sequence
total, count = 0.0, 0
for b in range(input_ids.shape[0]):
    for t in range(1, input_ids.shape[1]):
        if mask[b, t]:
            total -= float(F.log_softmax(logits[b, t - 1], dim=-1)[input_ids[b, t]])
            count += 1
loss_loop = total / count
# (b) the course's sft_loss
loss_ours = float(sft_loss(logits, input_ids, mask))
# (c) F.cross_entropy: shift by hand, -100 where the mask is 0
labels = input_ids.masked_fill(mask == 0, -100)  # (B, T)
loss_ce = float(F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                labels[:, 1:].reshape(-1), ignore_index=-100))
# (d) the model's own loss
with torch.no_grad():
    loss_hf = float(base_model(input_ids=input_ids, attention_mask=attention_mask,
                               labels=labels).loss)
for name, v in [("loop", loss_loop), ("sft_loss", loss_ours), ("F.cross_entropy", loss_ce),
                ("model(labels=...)", loss_hf)]:
    print(f"{name:>18}: {v:.6f}")
print(f"{count} response tokens out of {int(attention_mask.sum())} real tokens")
assert max(abs(v - loss_ours) for v in (loss_loop, loss_ce, loss_hf)) < 1e-5

# %% [markdown]
# The four agree to within $10^{-5}$: the SFT loss of every library is this one number, the
# average of the essay's terms over the response tokens.
#
# ## 5. Fine-tuning: watch the loss fall
#
# `course_lib.sft.train_sft` is a plain loop: draw a batch of fresh demonstrations, compute
# $\mathcal{L}_\text{SFT}$, take an AdamW step, report the metrics to an `on_step` hook:
#
# ```python
# for step in range(config.steps):
#     batch = make_sft_batch(tokenizer, [draw(rng) for _ in range(config.batch_size)])
#     logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
#     loss = sft_loss(logits, batch["input_ids"], batch["loss_mask"])
#     opt.zero_grad(); loss.backward(); opt.step()
#     on_step({"step": step, "loss": loss.item()})
# ```
#
# The course's recipe adds two things (`SFTConfig`): the learning rate decays linearly to 0,
# and the token embeddings stay as pretraining left them (`freeze_embeddings=True`). SFT shows
# the model the questions about 120 countries only; with its embeddings frozen, it learns *how*
# to answer (copy the country's name from the question, then the capital the corpus gave it)
# without moving those 120 names away from the other 180, so the answers stay on topic on
# countries it never saw in SFT (lesson 02 measures it).
#
# `course_lib.load_sft_model()` returns the result of one such run (1,000 steps of 64
# demonstrations, about four minutes on two CPU cores). The course ships that model with its loss curve,
# so every later lesson starts from the same weights at once; with other settings (say
# `SFTConfig(steps=300)` or another `W.AnnotatorMix`) it trains them first and caches them. The
# `TrainingMonitor` below draws the loss while it trains, or replays the saved curve. The faint
# line is the loss of each batch; the bold one its moving average.

# %%
monitor = TrainingMonitor(["loss"], smoothing=0.95, title="SFT of the base model")
monitor.show()
t0 = time.time()
sft_model, _ = course_lib.load_sft_model(on_step=monitor.update)
sft_seconds = time.time() - t0
monitor.finish()
losses = monitor.series("loss")[1]
loss_start, loss_end = monitor.smoothed("loss")[9], monitor.smoothed("loss")[-1]
print(f"{len(losses)} steps (ready in {sft_seconds:.0f} s); smoothed loss {loss_start:.2f} "
      f"after 10 steps -> {loss_end:.2f} at the end")
assert len(losses) == SFTConfig().steps and loss_end < 0.6 * loss_start

# %% [markdown]
# The loss falls fast, then flattens well above zero. It cannot reach zero: the annotators
# answer the same question in different ways (confidently, hedging, "I do not know.", each by
# what *they* knew), make slips on sums, and know capitals the model never read. Lesson 02 looks at what the model
# learned from that.
#
# *Try it*: train your own copy and watch it live, for example
# `train_sft(model, tokenizer, lambda rng: W.sft_example(world, rng), SFTConfig(steps=100),
# on_step=monitor.update)` with a fresh `monitor` and `model = course_lib.load_base_model()[0]`.
# Stop it with the stop button: the model keeps the weights of the last finished step.
#
# ## 6. After SFT, the model answers
#
# The real test is on countries of the held-out `test` group, which no demonstration
# mentioned: does the model now *answer* a question about a country whose capital it read
# during pretraining? We sample 8 answers per question at temperature 1, for both models.

# %%
test_known = world.select("test", level="known")
questions = [W.question(x.country) for x in test_known]
acc_base = fact_behaviour(base_model, tokenizer, test_known, n_samples=8)[0].accuracy
acc_sft = fact_behaviour(sft_model, tokenizer, test_known, n_samples=8)[0].accuracy
print(f"{len(test_known)} held-out known countries, 8 sampled answers each:")
print(f"  base model answers correctly {acc_base:.2f} of the time")
print(f"  SFT model answers correctly  {acc_sft:.2f} of the time")
gen = torch.Generator().manual_seed(1)
after = sample(sft_model, tokenizer, questions[:4], generator=gen)
for q, text in zip(questions[:4], after.texts):
    print(f"{q:48} -> {text}")
assert acc_sft > acc_base + 0.5, (acc_base, acc_sft)
claims.check("sft_makes_it_answer", acc_sft - acc_base)

# %% [markdown]
# The loss on demonstrations the model never trained on (the held-out `test` group) tells the
# same story in the loss's own units.

# %%
test_rng = random.Random(123)
heldout = make_sft_batch(tokenizer, [W.sft_example(world, test_rng, split="test")
                                     for _ in range(256)])
with torch.no_grad():
    heldout_loss = {name: float(sft_loss(m(input_ids=heldout["input_ids"],
                                           attention_mask=heldout["attention_mask"]).logits,
                                         heldout["input_ids"], heldout["loss_mask"]))
                    for name, m in (("base", base_model), ("SFT", sft_model))}
print(f"L_SFT on 256 held-out demonstrations: base {heldout_loss['base']:.2f}, "
      f"SFT {heldout_loss['SFT']:.2f} nats per token")
assert heldout_loss["SFT"] < heldout_loss["base"]

# %% [markdown]
# ## What you saw
#
# The numbers below are the ones measured in this run.

# %%
print(f"""- One demonstration costs the base model L_SFT = {L_example:.1f} nats: a sum of
  {len(rows)} terms -log pi(y_t | x, y_<t), the costliest being {costliest[0]!r}
  ({costliest[2]:.1f} nats).
- The prompt is masked out: its tokens (which no one should learn to predict) would have
  moved the mean from {float(response_terms.mean()):.2f} to {float(all_terms.mean()):.2f}.
- On a batch of 16, a loop, sft_loss, F.cross_entropy and the model's own labels= loss agree:
  {loss_loop:.5f}, {loss_ours:.5f}, {loss_ce:.5f}, {loss_hf:.5f}.
- {len(losses)} steps of SFT took the smoothed training loss from {loss_start:.2f} to {loss_end:.2f},
  and the loss on held-out demonstrations from {heldout_loss['base']:.2f} to
  {heldout_loss['SFT']:.2f}.
- On held-out known countries the model now answers correctly {acc_sft:.0%} of the time
  (base model: {acc_base:.0%}).""")

# %% [markdown]
# Next: **lesson 02** asks what else the model imitated. $\mathcal{L}_\text{SFT}$ rewards
# resemblance to the annotators; the annotators hedged when *they* were unsure (not when the
# model is), knew facts the model never read, sometimes evaded, and agreed with users. All of
# it is in the loss, so all of it is in the model.
