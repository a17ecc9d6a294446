"""The bad-input sweep of issue 25, kept as a test: deliberately bad arguments to the public API
must each get a ValueError / TypeError / OSError whose message names the argument; no error from
deep inside a library (IndexError, AssertionError, RuntimeError, ...), nothing silently accepted.

Two parts: a fixed table of probes (the counts are printed: ``pytest -s``), and Hypothesis
properties over prompts, numbers and tensors (bounded: a few seconds in all).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import course_lib
import course_lib.widgets
from course_lib import formats as F
from course_lib import policy_gradient as PG
from course_lib import reward_model as RM
from course_lib import rewards as R
from course_lib import sampling as S
from course_lib import sft
from course_lib.models import ModelConfig
from course_lib.preferences import Comparison, check_comparisons

CLEAR = (ValueError, TypeError, OSError)
PROMPT = "Q: What is 12 + 34? A:"
NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


def _probes(model, tok):
    """``(argument named in the error, call)`` for each deliberately bad input."""
    m, t = model, tok
    z = torch.zeros
    return [
        # prompts and responses
        ("prompts", lambda: S.sample(m, t, [], max_new_tokens=4)),
        ("prompts", lambda: S.sample(m, t, [""], max_new_tokens=4)),
        ("prompts", lambda: S.sample(m, t, [3], max_new_tokens=4)),
        ("prompts", lambda: S.sample(m, t, None, max_new_tokens=4)),
        ("prompts", lambda: S.sample(m, t, ["Q: What is the capital of Narnia? A:"])),
        ("prompts", lambda: S.sample(m, t, ["Q: what is 1 + 2? A:"])),
        ("prompts", lambda: S.sample(m, t, ["Q: What is 1 + 2? <eos> A:"])),
        ("prompts", lambda: S.sample(m, t, [" ".join(["1 + 2 ="] * 20)], max_new_tokens=4)),
        ("max_new_tokens", lambda: S.sample(m, t, [PROMPT], max_new_tokens=0)),
        ("max_new_tokens", lambda: S.sample(m, t, [PROMPT], max_new_tokens=64)),
        ("max_new_tokens", lambda: S.sample(m, t, [PROMPT], max_new_tokens=2.5)),
        ("temperature", lambda: S.sample(m, t, [PROMPT], temperature=0)),
        ("temperature", lambda: S.sample(m, t, [PROMPT], temperature=INF)),
        ("temperature", lambda: S.sample(m, t, [PROMPT], temperature=NAN)),
        ("temperature", lambda: S.sample(m, t, [PROMPT], temperature=True)),
        ("temperature", lambda: S.sample(m, t, [PROMPT], temperature="hot")),
        ("top_k", lambda: S.sample(m, t, [PROMPT], top_k=0)),
        ("chunk_size", lambda: S.sample_texts(m, t, [PROMPT], chunk_size=0)),
        ("temperature", lambda: S.token_logprobs(m, z(1, 3, dtype=torch.long),
                                                 torch.ones(1, 3), temperature=0)),
        ("prompts", lambda: S.next_token_logits(m, t, [])),
        ("examples", lambda: sft.make_sft_batch(t, [])),
        ("examples", lambda: sft.make_sft_batch(t, "Q: A:")),
        ("examples", lambda: sft.make_sft_batch(t, [("only a prompt",)])),
        ("examples", lambda: sft.make_sft_batch(t, [(PROMPT, "")])),
        ("examples", lambda: sft.make_sft_batch(t, [(PROMPT, "12 + 34 = 46." * 20)])),
        ("examples", lambda: sft.make_sft_batch(t, [(PROMPT, "Atlantis is it.")])),
        ("response", lambda: sft.token_table(m, t, PROMPT, "Narnia.")),
        ("prompts", lambda: RM.encode(t, [], [])),
        ("prompts", lambda: RM.encode(t, "x", "y")),
        ("prompts", lambda: RM.encode(t, [PROMPT], ["a", "b"])),
        ("prompts", lambda: RM.encode(t, [PROMPT], ["12 + 34 = 46." * 20])),
        ("prompts", lambda: RM.encode(t, ["Q: What is the capital of Narnia? A:"], ["x."])),
        ("prompts", lambda: R.honesty_reward(["a"], ["b", "c"])),
        ("prompts", lambda: R.exact_match_reward("a", "b")),
        # tensors
        ("logits", lambda: sft.sft_loss(z(2, 3), z(2, 3, dtype=torch.long), z(2, 3))),
        ("logits", lambda: sft.sft_loss(z(2, 3, 5, dtype=torch.long), z(2, 3, dtype=torch.long),
                                        z(2, 3))),
        ("labels", lambda: sft.sft_loss(z(2, 3, 5), z(2, 4, dtype=torch.long), z(2, 4))),
        ("labels", lambda: sft.sft_loss(z(2, 3, 5), z(2, 3), z(2, 3))),
        ("labels", lambda: sft.sft_loss(z(1, 3, 5), torch.tensor([[1, -100, 2]]),
                                        torch.tensor([[0, 1, 1]]))),
        ("labels", lambda: sft.sft_loss(z(1, 3, 5), torch.tensor([[1, 7, 2]]),
                                        torch.tensor([[0, 1, 1]]))),
        ("loss_mask", lambda: sft.sft_loss(z(2, 3, 5), z(2, 3, dtype=torch.long), z(2, 2))),
        ("loss_mask", lambda: sft.sft_loss(z(2, 3, 5), z(2, 3, dtype=torch.long),
                                           torch.full((2, 3), 0.5))),
        ("loss_mask", lambda: sft.sft_loss(z(2, 3, 5), z(2, 3, dtype=torch.long), z(2, 3))),
        ("r_chosen", lambda: RM.bradley_terry_loss(z(2, 1), z(2))),
        ("r_chosen", lambda: RM.bradley_terry_loss(z(2, dtype=torch.long), z(2))),
        ("r_chosen", lambda: RM.bradley_terry_loss(z(2), z(3))),
        ("r_chosen", lambda: RM.bradley_terry_loss(torch.tensor([NAN]), z(1))),
        ("r_rejected", lambda: RM.bradley_terry_loss(z(1), torch.tensor([INF]))),
        ("pairs", lambda: RM.bradley_terry_loss(z(0), z(0))),
        ("logprobs", lambda: PG.kl_penalized_rewards(z(2), z(2), z(2), z(2), 0.1)),
        ("beta", lambda: PG.kl_penalized_rewards(z(2), z(2, 3), z(2, 3), torch.ones(2, 3), -1)),
        ("beta", lambda: PG.kl_penalized_rewards(z(2), z(2, 3), z(2, 3), torch.ones(2, 3), NAN)),
        ("scores", lambda: PG.kl_penalized_rewards(z(3), z(2, 3), z(2, 3), torch.ones(2, 3), 1)),
        ("mask", lambda: PG.kl_penalized_rewards(z(2), z(2, 3), z(2, 3), z(2, 3), 0.1)),
        ("step_rewards", lambda: PG.rewards_to_go(torch.tensor([[NAN, 1.0]]), torch.ones(1, 2))),
        # configs
        ("SFTConfig.lr", lambda: sft.SFTConfig(lr=INF)),
        ("SFTConfig.lr", lambda: sft.SFTConfig(lr=NAN)),
        ("SFTConfig.lr", lambda: sft.SFTConfig(lr=True)),
        ("SFTConfig.steps", lambda: sft.SFTConfig(steps=0)),
        ("SFTConfig.steps", lambda: sft.SFTConfig(steps=1.5)),
        ("SFTConfig.batch_size", lambda: sft.SFTConfig(batch_size=-1)),
        ("SFTConfig.lr_schedule", lambda: sft.SFTConfig(lr_schedule="cosine")),
        ("SFTConfig.freeze_embeddings", lambda: sft.SFTConfig(freeze_embeddings="yes")),
        ("RMConfig.lr", lambda: RM.RMConfig(lr=INF)),
        ("RMConfig.weight_decay", lambda: RM.RMConfig(weight_decay=-0.1)),
        ("RMConfig.seed", lambda: RM.RMConfig(seed=-1)),
        ("ReinforceConfig.lr", lambda: PG.ReinforceConfig(lr=0)),
        ("ReinforceConfig.temperature", lambda: PG.ReinforceConfig(temperature=INF)),
        ("ReinforceConfig.beta", lambda: PG.ReinforceConfig(beta=NAN)),
        ("ReinforceConfig.baseline", lambda: PG.ReinforceConfig(baseline="median")),
        ("ReinforceConfig.max_grad_norm", lambda: PG.ReinforceConfig(max_grad_norm=0)),
        ("ReinforceConfig.samples_per_prompt", lambda: PG.ReinforceConfig(samples_per_prompt=0)),
        ("ModelConfig.n_head", lambda: ModelConfig(n_head=3)),
        ("ModelConfig.n_positions", lambda: ModelConfig(n_positions=2.0)),
        # training entry points
        ("config", lambda: sft.train_sft(m, t, [(PROMPT, "46.")], config=PG.ReinforceConfig())),
        ("examples", lambda: sft.train_sft(m, t, [], progress=False)),
        ("examples", lambda: sft.train_sft(m, t, [(PROMPT, "Narnia.")], progress=False)),
        ("on_step", lambda: sft.train_sft(m, t, [(PROMPT, "46.")], sft.SFTConfig(steps=1),
                                          on_step="print", progress=False)),
        ("comparisons", lambda: RM.train_reward_model(m, t, [], progress=False)),
        ("comparisons", lambda: RM.train_reward_model(m, t, [("a", "b", "c")], progress=False)),
        ("prompts", lambda: PG.train_reinforce(m, None, t, [], R.honesty_reward,
                                               progress=False)),
        ("reward_fn", lambda: PG.train_reinforce(m, None, t, [PROMPT], None, progress=False)),
        ("ref_policy", lambda: PG.train_reinforce(m, m, t, [PROMPT], R.honesty_reward,
                                                  progress=False)),
        ("beta", lambda: PG.train_reinforce(m, None, t, [PROMPT], R.honesty_reward,
                                            PG.ReinforceConfig(beta=0.1), progress=False)),
        ("on_step", lambda: PG.train_reinforce(m, None, t, [PROMPT], R.honesty_reward,
                                               PG.ReinforceConfig(steps=1), on_step=1,
                                               progress=False)),
        # devices, seeds, files
        ("device", lambda: course_lib.load_base_model(device="gpu")),
        ("device", lambda: course_lib.load_base_model(device="cuda:x")),
        ("device", lambda: course_lib.load_base_model(device=0)),
        ("device", lambda: course_lib.load_sft_model(device="tpu")),
        ("device", lambda: RM.load_reward_model(device="gpu")),
        ("prefer", lambda: course_lib.get_device("gpu")),
        ("seed", lambda: course_lib.set_seed(-1)),
        ("seed", lambda: course_lib.set_seed(True)),
        ("model.safetensors", lambda: course_lib.models.load_model("/nonexistent")),
        ("config", lambda: course_lib.load_sft_model(config="default")),
        ("config", lambda: RM.load_reward_model(config=sft.SFTConfig())),
        ("config", lambda: RM.cache_reward_model(m, t, [], [], config="default")),
        ("rm", lambda: RM.cache_reward_model(m, t, [], [], RM.RMConfig(steps=1))),
        # formats and rewards
        ("table", lambda: R.optimal_style(0.5, table={})),
        ("p", lambda: R.optimal_style(1.5)),
        ("p", lambda: R.optimal_style(NAN)),
        ("responses", lambda: F.style_rates("one string")),
        ("comparisons", lambda: RM.accuracy(m, t, [])),
        ("comparisons", lambda: RM.scores_of_pairs(m, t, ["not a comparison"])),
        ("k", lambda: course_lib.widgets.response_viewer.probability_table(m, t, PROMPT, k=0)),
        ("temperature", lambda: course_lib.widgets.ResponseViewer(m, t, [PROMPT],
                                                                   temperature=True)),
        ("max_new_tokens", lambda: course_lib.widgets.ResponseViewer(m, t, [PROMPT],
                                                                      max_new_tokens=100)),
        ("n_samples", lambda: course_lib.widgets.ResponseViewer(m, t, [PROMPT], n_samples=0)),
        ("pairs", lambda: course_lib.widgets.PreferenceCollector([], "x.json")),
        ("pairs", lambda: course_lib.widgets.PreferenceCollector([("a", "b", "b")], "x.json")),
    ]


def _outcome(argument: str, call) -> str:
    try:
        call()
    except CLEAR as err:
        text = str(err) + " " + " ".join(getattr(err, "__notes__", []))
        return "clear" if argument.lower() in text.lower() else f"unclear: {err!r}"[:300]
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # an error from deep inside a library
        return f"crash: {err!r}"[:300]
    return "silently accepted"


def test_the_bad_input_sweep(base, capsys):
    model, tok = base
    probes = _probes(model, tok)
    outcomes = [(arg, _outcome(arg, call)) for arg, call in probes]
    counts = {k: sum(o.startswith(k) for _, o in outcomes)
              for k in ("clear", "unclear", "crash", "silently")}
    with capsys.disabled():
        print(f"\nbad-input sweep: {len(probes)} probes, {counts['clear']} clear errors naming "
              f"the argument ({counts['clear'] / len(probes):.0%}), {counts['unclear']} unclear, "
              f"{counts['crash']} crashes, {counts['silently']} silently accepted")
    bad = [(i, arg, o) for i, (arg, o) in enumerate(outcomes) if o != "clear"]
    assert counts["crash"] == 0 and counts["silently"] == 0, bad
    assert counts["clear"] / len(probes) >= 0.95, bad


# --- Hypothesis: properties over generated inputs -----------------------------------------------

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
WORDS = ["Q:", "What", "is", "the", "capital", "of", "Zapoudor", "?", "A:", "12", "+", "=",
         "Narnia", "what", "🙂", "<eos>", "<pad>", "", " ", "\n", "x" * 30, "Troumark"]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=80).map(" ".join)
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 100),
                    st.booleans(), st.none(), st.text(max_size=3))


def _clear_or_valid(argument_names, call, check=None):
    """``call()`` succeeds (and ``check`` holds of its result), or raises a clear error whose
    message names one of ``argument_names``."""
    try:
        out = call()
    except CLEAR as err:
        assert any(a in str(err) for a in argument_names), repr(err)
        return
    if check is not None:
        assert check(out), out


@FAST
@given(prompt=texts)
def test_any_prompt_is_sampled_or_refused_clearly(base, prompt):
    model, tok = base
    _clear_or_valid(["prompts"], lambda: S.sample(model, tok, [prompt], max_new_tokens=3,
                                                  generator=torch.Generator().manual_seed(0)),
                    lambda r: len(r.texts) == 1 and bool(torch.isfinite(r.logprobs).all()))


@FAST
@given(prompt=texts, response=texts)
def test_any_pair_is_batched_or_refused_clearly(base, prompt, response):
    model, tok = base
    _clear_or_valid(["examples"], lambda: sft.make_sft_batch(tok, [(prompt, response)]),
                    lambda b: b["input_ids"].shape[1] <= 64
                    and tok.unk_token_id not in b["input_ids"])
    _clear_or_valid(["prompts"], lambda: RM.encode(tok, [prompt], [response]),
                    lambda e: e[0].shape[1] <= 64 and tok.unk_token_id not in e[0])


@FAST
@given(value=numbers, field=st.sampled_from(["lr", "steps", "batch_size", "seed"]),
       config=st.sampled_from([sft.SFTConfig, RM.RMConfig, PG.ReinforceConfig]))
def test_any_config_value_is_valid_or_refused_naming_the_field(value, field, config):
    def valid(c):
        v = getattr(c, field)
        return (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                and v >= 0 and (field == "seed" or v > 0))
    _clear_or_valid([f"{config.__name__}.{field}"], lambda: config(**{field: value}), valid)


tensor_values = st.sampled_from([0.0, 1.0, -2.0, 1e4, NAN, INF, -INF])


@FAST
@given(n=st.integers(0, 4), m=st.integers(0, 4), a=tensor_values, b=tensor_values,
       dtype=st.sampled_from([torch.float32, torch.float64, torch.long]))
def test_bradley_terry_loss_is_finite_or_refused(n, m, a, b, dtype):
    def call():
        chosen = torch.full((n,), a) if dtype != torch.long else torch.zeros(n, dtype=dtype)
        return RM.bradley_terry_loss(chosen.to(dtype), torch.full((m,), b))
    _clear_or_valid(["r_chosen", "r_rejected", "pairs"], call,
                    lambda loss: bool(torch.isfinite(loss)))


@FAST
@given(B=st.integers(1, 3), T=st.integers(1, 4), V=st.integers(1, 5),
       bad_label=st.integers(-101, 8), value=tensor_values)
def test_sft_loss_is_finite_or_refused(B, T, V, bad_label, value):
    logits = torch.zeros(B, T, V)
    labels = torch.zeros(B, T, dtype=torch.long)
    labels[0, -1] = bad_label
    mask = torch.ones(B, T)
    logits[0, 0, 0] = value
    _clear_or_valid(["logits", "labels", "loss_mask", "sequences"],
                    lambda: sft.sft_loss(logits, labels, mask),
                    lambda loss: bool(torch.isfinite(loss)) or not math.isfinite(value))


@FAST
@given(device=st.one_of(st.sampled_from(["cpu", "CPU", "cuda", "cuda:0", "cuda:x", "gpu", "",
                                         "mps", "cpu:0", "tpu"]),
                        st.integers(-1, 2), st.none()))
def test_any_device_is_parsed_or_refused_naming_it(device):
    from course_lib.settings import parse_device

    _clear_or_valid(["device"], lambda: parse_device(device),
                    lambda d: isinstance(d, torch.device))


def test_comparisons_are_real_pairs():
    with pytest.raises(CLEAR, match="comparisons"):
        check_comparisons([Comparison("a", "b", "c"), "x"])
