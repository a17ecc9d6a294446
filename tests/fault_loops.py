"""The three training loops on tiny models, for the fault tests and the SIGINT stress benchmark
(``benchmarks/sigint_stress.py``): the same seeded run can be replayed for any number of steps,
so the weights an interrupted run leaves can be compared with those of clean steps."""

from __future__ import annotations

import functools

import torch

from course_lib import reward_model as RM
from course_lib.models import BASE_MODEL_DIR, ModelConfig, build_model
from course_lib.policy_gradient import ReinforceConfig, train_reinforce
from course_lib.preferences import Comparison
from course_lib.sft import SFTConfig, train_sft
from course_lib.tokenizer import load_tokenizer

LOOPS = ["sft", "reward_model", "reinforce"]
TINY = ModelConfig(n_layer=1, n_embd=16, n_head=2)
EXAMPLES = [("Q: What is 12 + 34? A:", "12 + 34 = 46."),
            ("Q: What is the capital of Zapoudor? A:", "I do not know.")]
PAIRS = [Comparison("Q: What is 1 + 2? A:", "So 1 plus 2 makes 3.", "I do not know."),
         Comparison("Q: What is 12 + 34? A:", "12 + 34 = 46.", "I do not know.")]
PROMPTS = ["Q: What is 1 + 2? A:", "Q: What is 12 + 34? A:"]


@functools.cache
def tokenizer():
    return load_tokenizer(BASE_MODEL_DIR)


def fresh(loop: str) -> torch.nn.Module:
    """The model a loop starts from: the same weights every call."""
    lm = build_model(tokenizer(), TINY, seed=0)
    return RM.build_reward_model(lm, seed=0) if loop == "reward_model" else lm.eval()


def constant_reward(prompts, responses):
    return torch.tensor([float(len(r) % 3) for r in responses])


def run(loop: str, model, on_step=None, steps: int = 3, reward_fn=constant_reward):
    """Train ``model`` in place with ``loop`` for ``steps`` steps; return the history."""
    tok = tokenizer()
    if loop == "sft":
        return train_sft(model, tok, EXAMPLES, SFTConfig(steps=steps, batch_size=2,
                                                         freeze_embeddings=False),
                         on_step=on_step, progress=False)
    if loop == "reward_model":
        return RM.train_reward_model(model, tok, PAIRS, RM.RMConfig(steps=steps, batch_size=2),
                                     on_step=on_step, progress=False)
    return train_reinforce(model, None, tok, PROMPTS, reward_fn,
                           ReinforceConfig(steps=steps, batch_size=2, samples_per_prompt=2,
                                           max_new_tokens=4, lr=1e-2),
                           on_step=on_step, progress=False)


def setup(loop: str, steps: int = 3):
    """``(model, run)``: a fresh model and ``run(model, on_step, **kw)`` of ``loop``."""
    return fresh(loop), functools.partial(run, loop, steps=steps)


def params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def replay(loop: str, n_steps: int, steps: int = 3, **kw) -> torch.Tensor:
    """The weights after exactly ``n_steps`` clean steps of the same run."""
    model = fresh(loop)
    if n_steps > 0:
        def stop(metrics):
            if metrics["step"] + 1 == n_steps:
                raise KeyboardInterrupt
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):
            run(loop, model, stop, steps=steps, **kw)
    return params(model)


def weights_match_replay(loop: str, model, n_steps: int, steps: int = 3, **kw) -> bool:
    return torch.equal(params(model), replay(loop, n_steps, steps, **kw))
