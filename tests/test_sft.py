"""SFT: the loss equals the model's own loss, bad input is named, the loop survives Ctrl-C."""

import random

import pytest
import torch
import torch.nn.functional as F

import course_lib
from course_lib import world as W
from course_lib.evaluation import sequence_logprobs
from course_lib.sft import (
    SFTConfig,
    load_sft_model,
    make_sft_batch,
    response_token_nll,
    sft_history,
    sft_loss,
    token_table,
    train_sft,
)


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


def _random_batch(seed: int, vocab: int, B: int = 5, T: int = 14, masked: bool = True):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (B, T), generator=g)  # (B, T)
    mask = torch.ones(B, T, dtype=torch.long)
    if masked:
        for b in range(B):
            p = int(torch.randint(1, T - 2, (1,), generator=g))  # prompt length
            end = int(torch.randint(p + 1, T + 1, (1,), generator=g))  # response end
            mask[b] = 0
            mask[b, p:end] = 1
    return ids, mask


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sft_loss_equals_the_models_own_loss(base, seed, masked):
    model, tok = base
    ids, mask = _random_batch(seed, len(tok), masked=masked)
    labels = ids.masked_fill(mask == 0, -100)  # the model ignores -100
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
    ours = sft_loss(out.logits, ids, mask)
    assert abs(float(ours) - float(out.loss)) < 1e-5
    # and F.cross_entropy with ignore_index, shifted by hand
    ce = F.cross_entropy(out.logits[:, :-1].reshape(-1, out.logits.shape[-1]),
                         labels[:, 1:].reshape(-1), ignore_index=-100)
    assert abs(float(ours) - float(ce)) < 1e-5


def test_sft_loss_on_a_real_batch_and_bool_or_float_masks(base):
    model, tok = base
    world = W.default_world()
    rng = random.Random(0)
    batch = make_sft_batch(tok, [W.sft_example(world, rng) for _ in range(8)])
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["input_ids"].masked_fill(batch["loss_mask"] == 0, -100)
    ref = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                labels=labels).loss
    for m in (batch["loss_mask"], batch["loss_mask"].bool(), batch["loss_mask"].float()):
        assert abs(sft_loss(logits, batch["input_ids"], m).item() - ref.item()) < 1e-5
    loss = sft_loss(logits, batch["input_ids"], batch["loss_mask"])
    loss.backward()  # differentiable
    assert model.transformer.wte.weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_per_token_terms_sum_to_the_loss(base):
    model, tok = base
    e = W.default_world().select("sft", known=True)[0]
    prompt, response = W.question(e.country), W.CONFIDENT.format(country=e.country,
                                                                 answer=e.capital)
    rows = token_table(model, tok, prompt, response)
    assert rows[-1][0] == tok.eos_token
    batch = make_sft_batch(tok, [(prompt, response)])
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"]).logits
    n_prompt = int((batch["loss_mask"][0] == 0).sum())
    nll = response_token_nll(logits[0], batch["input_ids"][0], n_prompt)
    assert len(rows) == len(nll) == int(batch["loss_mask"].sum())
    mean = float(sft_loss(logits, batch["input_ids"], batch["loss_mask"]))
    assert abs(float(nll.mean()) - mean) < 1e-5
    assert abs(sum(r[2] for r in rows) / len(rows) - mean) < 1e-5
    lp = sequence_logprobs(model, tok, [prompt], [response])
    assert abs(float(lp[0]) + float(nll.sum())) < 1e-4  # log pi(y | x) = -L_SFT of the example


def test_make_sft_batch_masks_the_response_and_eos(base):
    _, tok = base
    batch = make_sft_batch(tok, [("12 + 34 =", "4 6 ."), ("Q: What is 1 + 2? A:", "3")])
    for ids, mask, att in zip(batch["input_ids"], batch["loss_mask"], batch["attention_mask"]):
        n = int(att.sum())
        assert ids[0] == tok.bos_token_id and ids[n - 1] == tok.eos_token_id
        assert mask[n - 1] == 1 and mask[0] == 0 and (mask[n:] == 0).all()
    with pytest.raises(ValueError, match="empty"):
        make_sft_batch(tok, [])


def test_bad_input_is_named():
    logits = torch.randn(2, 5, 7)
    labels = torch.randint(0, 7, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"logits must be a \(B, T, V\)"):
        sft_loss(logits[0], labels, mask)
    with pytest.raises(ValueError, match="floating-point"):
        sft_loss(labels[..., None].expand(2, 5, 7), labels, mask)
    with pytest.raises(ValueError, match="labels must have shape"):
        sft_loss(logits, labels[:, :4], mask)
    with pytest.raises(ValueError, match="integer token ids"):
        sft_loss(logits, labels.float(), mask)
    with pytest.raises(ValueError, match="loss_mask must have the same shape"):
        sft_loss(logits, labels, mask[:1])
    with pytest.raises(ValueError, match="no response token"):
        sft_loss(logits, labels, torch.zeros_like(mask))
    with pytest.raises(ValueError, match="no response token"):  # only the first token: shifted out
        sft_loss(logits, labels, torch.nn.functional.pad(torch.ones(2, 1), (0, 4)).long())
    with pytest.raises(ValueError, match="only 0 and 1"):
        sft_loss(logits, labels, mask * 0.5)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        sft_loss(logits[:, :1], labels[:, :1], mask[:, :1])
    with pytest.raises(ValueError, match="n_prompt"):
        response_token_nll(logits[0], labels[0], 5)


def _tiny_examples():
    world = W.default_world()
    rng = random.Random(1)
    return [W.sft_example(world, rng) for _ in range(32)]


def test_train_sft_calls_on_step_and_lowers_the_loss(base):
    _, tok = base
    model, _ = course_lib.load_base_model(device="cpu")
    seen = []
    history = train_sft(model, tok, _tiny_examples(), SFTConfig(steps=12, batch_size=16, lr=1e-3),
                        on_step=seen.append, progress=False)
    assert [m["step"] for m in seen] == list(range(12)) and seen == history
    assert history[-1]["loss"] < history[0]["loss"]
    assert not model.training


def test_interrupt_from_on_step_keeps_model_and_history_usable(base, capsys):
    _, tok = base
    model, _ = course_lib.load_base_model(device="cpu")

    def stop_at_3(metrics):
        if metrics["step"] == 3:
            raise KeyboardInterrupt

    history = train_sft(model, tok, _tiny_examples(), SFTConfig(steps=50, batch_size=8),
                        on_step=stop_at_3, progress=False)
    assert len(history) == 4 and "interrupted after 4 steps" in capsys.readouterr().out
    assert not model.training
    batch = make_sft_batch(tok, _tiny_examples()[:4])
    with torch.no_grad():
        loss = sft_loss(model(input_ids=batch["input_ids"]).logits, batch["input_ids"],
                        batch["loss_mask"])
    assert torch.isfinite(loss)
    more = train_sft(model, tok, _tiny_examples(), SFTConfig(steps=2, batch_size=8),
                     progress=False)  # training can go on
    assert len(more) == 2


def test_train_sft_rejects_bad_config(base):
    model, tok = base
    with pytest.raises(ValueError, match="positive"):
        train_sft(model, tok, _tiny_examples(), SFTConfig(steps=0), progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        train_sft(model, tok, [], SFTConfig(steps=1), progress=False)


def test_load_sft_model_caches_and_replays_its_history(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    config = SFTConfig(steps=3, batch_size=4)
    live = []
    model, tok = load_sft_model(config, device="cpu", progress=False, on_step=live.append)
    assert len(live) == 3
    cached = list(tmp_path.glob("sft-*"))
    assert len(cached) == 1 and sft_history(cached[0]) == live
    replayed = []
    model2, _ = load_sft_model(config, device="cpu", progress=False, on_step=replayed.append)
    assert replayed == live
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)


def test_the_shipped_sft_model_matches_the_default_settings(tmp_path, monkeypatch):
    """The SFT model in assets/sft is the one the default settings train (same key), so lessons
    load it at once, with its history, and never train or write a cache."""
    import json

    from course_lib.models import SFT_MODEL_DIR
    from course_lib.sft import sft_key

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    meta = json.loads((SFT_MODEL_DIR / "meta.json").read_text())
    assert meta["key"] == sft_key(), "assets/sft is stale: run `python -m course_lib.sft`"
    replayed = []
    model, _ = load_sft_model(device="cpu", progress=False, on_step=replayed.append)
    assert len(replayed) == SFTConfig().steps and not list(tmp_path.iterdir())
    assert replayed[-1]["loss"] < 0.6 * replayed[0]["loss"]


def test_other_settings_never_load_the_shipped_model():
    from course_lib.sft import sft_key

    assert sft_key(SFTConfig(steps=3)) != sft_key()
    assert sft_key(mix=W.AnnotatorMix(p_unsure=0.05)) != sft_key()
