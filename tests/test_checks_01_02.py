"""The checks of lessons 01-02 name every planted mistake and accept correct variants."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import world as W
from course_lib.checks import (
    ExerciseError,
    check_agreement_rate,
    check_behaviour_rates,
    check_response_token_nll,
    check_sft_loss,
)

# --- Exercise 1.1: per-token -log pi --------------------------------------------------------------


def nll_gather(logits, ids, n):
    logp = F.log_softmax(logits[n - 1:-1], dim=-1)
    return -logp.gather(1, ids[n:, None]).squeeze(1)


def nll_loop(logits, ids, n):  # a loop and logsumexp, written differently
    out = []
    for t in range(n, len(ids)):
        z = logits[t - 1]
        out.append(torch.logsumexp(z, 0) - z[ids[t]])
    return torch.stack(out)


def nll_cross_entropy(logits, ids, n):
    return F.cross_entropy(logits[:-1], ids[1:], reduction="none")[n - 1:]


NLL_MISTAKES = {
    "forgot the shift": lambda z, ids, n: -F.log_softmax(z[n:], -1).gather(
        1, ids[n:, None]).squeeze(1),
    "included the prompt tokens": lambda z, ids, n: -F.log_softmax(z[:-1], -1).gather(
        1, ids[1:, None]).squeeze(1),
    "started one token late": lambda z, ids, n: -F.log_softmax(z[n:-1], -1).gather(
        1, ids[n + 1:, None]).squeeze(1),
    "flipped the sign": lambda z, ids, n: -nll_gather(z, ids, n),
    "used softmax probabilities instead of log-softmax": lambda z, ids, n: -F.softmax(
        z[n - 1:-1], -1).gather(1, ids[n:, None]).squeeze(1),
    "returned probabilities": lambda z, ids, n: torch.exp(-nll_gather(z, ids, n)),
    "used the raw logits": lambda z, ids, n: -z[n - 1:-1].gather(1, ids[n:, None]).squeeze(1),
}


@pytest.mark.parametrize("fn", [nll_gather, nll_loop, nll_cross_entropy])
def test_token_nll_accepts_correct_variants(fn):
    check_response_token_nll(fn)


@pytest.mark.parametrize("name", list(NLL_MISTAKES))
def test_token_nll_names_each_mistake(name):
    with pytest.raises(ExerciseError, match="It looks like you " + name):
        check_response_token_nll(NLL_MISTAKES[name])


# --- Exercise 1.2: the batched SFT loss ----------------------------------------------------------


def loss_gather(logits, labels, mask):
    lp = F.log_softmax(logits[:, :-1], -1).gather(-1, labels[:, 1:, None]).squeeze(-1)
    m = mask[:, 1:].float()
    return -(lp * m).sum() / m.sum()


def loss_one_hot(logits, labels, mask):  # one-hot instead of gather, boolean indexing
    logits, labels, mask = logits[:, :-1], labels[:, 1:], mask[:, 1:].bool()
    one_hot = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    lp = (F.log_softmax(logits, -1) * one_hot).sum(-1)
    return -lp[mask].mean()


def loss_loops(logits, labels, mask):
    total, count = 0.0, 0
    B, T, _ = logits.shape
    for b in range(B):
        for t in range(1, T):
            if mask[b, t]:
                total = total - torch.log_softmax(logits[b, t - 1], 0)[labels[b, t]]
                count += 1
    return total / count


def loss_ignore_index(logits, labels, mask):
    target = labels.masked_fill(mask == 0, -100)[:, 1:]
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), target.reshape(-1),
                           ignore_index=-100)


def _lp(logits, labels):
    return F.log_softmax(logits[:, :-1], -1).gather(-1, labels[:, 1:, None]).squeeze(-1)


LOSS_MISTAKES = {
    "forgot the shift": lambda z, y, m: -(F.log_softmax(z, -1).gather(-1, y[..., None])
                                          .squeeze(-1) * m).sum() / m.sum(),
    "shifted the wrong way": lambda z, y, m: -(F.log_softmax(z[:, 1:], -1).gather(
        -1, y[:, :-1, None]).squeeze(-1) * m[:, 1:]).sum() / m[:, 1:].sum(),
    "forgot the mask": lambda z, y, m: -_lp(z, y).mean(),
    "applied the mask but divided by the number of ALL tokens":
        lambda z, y, m: -(_lp(z, y) * m[:, 1:]).sum() / m[:, 1:].numel(),
    "summed over the response tokens instead of averaging":
        lambda z, y, m: -(_lp(z, y) * m[:, 1:]).sum(),
    "flipped the sign": lambda z, y, m: -loss_gather(z, y, m),
    "used softmax probabilities instead of log-softmax": lambda z, y, m: -(
        F.softmax(z[:, :-1], -1).gather(-1, y[:, 1:, None]).squeeze(-1) * m[:, 1:]).sum()
    / m[:, 1:].sum(),
    "used the raw logits": lambda z, y, m: -(z[:, :-1].gather(-1, y[:, 1:, None]).squeeze(-1)
                                             * m[:, 1:]).sum() / m[:, 1:].sum(),
    "applied the mask on the wrong side of the shift": lambda z, y, m: -(
        _lp(z, y) * m[:, :-1]).sum() / m[:, :-1].sum(),
    "averaged each sequence first": lambda z, y, m: torch.stack([
        -(_lp(z, y)[b] * m[b, 1:]).sum() / m[b, 1:].sum()
        for b in range(len(m)) if m[b, 1:].sum() > 0]).mean(),
}


@pytest.mark.parametrize("fn", [loss_gather, loss_one_hot, loss_loops, loss_ignore_index])
def test_sft_loss_accepts_correct_variants(fn):
    check_sft_loss(fn)


@pytest.mark.parametrize("name", list(LOSS_MISTAKES))
def test_sft_loss_names_each_mistake(name):
    with pytest.raises(ExerciseError, match="It looks like you " + name):
        check_sft_loss(LOSS_MISTAKES[name])


def test_sft_loss_detached_or_not_scalar_is_named():
    with pytest.raises(ExerciseError, match="no gradient"):
        check_sft_loss(lambda z, y, m: loss_gather(z, y, m).detach())
    with pytest.raises(ExerciseError, match="scalar"):
        check_sft_loss(lambda z, y, m: _lp(z, y))


def test_stub_lets_not_implemented_through():
    def stub(*args):
        raise NotImplementedError("Exercise 1.2")

    with pytest.raises(NotImplementedError):
        check_sft_loss(stub)


# --- Exercise 2.1: behaviour rates from raw samples -----------------------------------------------


def rates_loop(texts, truths):
    counts = {"confident": 0, "hedged": 0, "abstain": 0}
    right = conf_right = 0
    for text, truth in zip(texts, truths):
        p = W.parse_response(text)
        if p.style in counts:
            counts[p.style] += 1
        right += p.answer == truth
        conf_right += p.style == "confident" and p.answer == truth
    n = len(texts)
    return {**{k: v / n for k, v in counts.items()}, "accuracy": right / n,
            "confident_accuracy": conf_right / counts["confident"]}


def rates_lists(texts, truths):  # comprehensions, and torch for the means
    parsed = [W.parse_response(t) for t in texts]
    style = [p.style for p in parsed]
    correct = torch.tensor([float(p.answer == y) for p, y in zip(parsed, truths)])
    conf = torch.tensor([s == "confident" for s in style])
    return {"confident": conf.float().mean(),
            "hedged": sum(s == "hedged" for s in style) / len(style),
            "abstain": style.count("abstain") / len(style),
            "accuracy": correct.mean().item(), "confident_accuracy": correct[conf].mean()}


def _with(**over):
    def fn(texts, truths):
        out = rates_loop(texts, truths)
        parsed = [W.parse_response(t) for t in texts]
        n = len(texts)
        conf = sum(p.style == "confident" for p in parsed)
        env = {"parsed": parsed, "truths": truths, "n": n, "conf": conf, "out": out}
        out.update({k: v(env) for k, v in over.items()})
        return out
    return fn


RATE_MISTAKES = {
    "counted only confident answers as correct": _with(accuracy=lambda e: sum(
        p.style == "confident" and p.answer == y for p, y in zip(e["parsed"], e["truths"]))
        / e["n"]),
    "divided the correct confident answers by ALL responses": _with(
        confident_accuracy=lambda e: e["out"]["confident_accuracy"] * e["conf"] / e["n"]),
    "compared the whole response text with the truth": _with(
        accuracy=lambda e: sum(p == y for p, y in zip(e["parsed"], e["truths"])) / e["n"],
        confident_accuracy=lambda e: 0.0),
    "counted hedged answers as confident ones": _with(
        confident=lambda e: e["out"]["confident"] + e["out"]["hedged"],
        confident_accuracy=lambda e: sum(
            p.style in ("confident", "hedged") and p.answer == y
            for p, y in zip(e["parsed"], e["truths"]))
        / sum(p.style in ("confident", "hedged") for p in e["parsed"])),
    "returned counts instead of fractions": _with(**{
        k: (lambda e, k=k: e["out"][k] * e["n"]) for k in ("confident", "hedged", "abstain",
                                                            "accuracy")}),
    "counted unreadable": _with(abstain=lambda e: sum(
        p.style in ("abstain", "invalid") for p in e["parsed"]) / e["n"]),
}


@pytest.mark.parametrize("fn", [rates_loop, rates_lists])
def test_behaviour_rates_accepts_correct_variants(fn):
    check_behaviour_rates(fn)


@pytest.mark.parametrize("name", list(RATE_MISTAKES))
def test_behaviour_rates_names_each_mistake(name):
    with pytest.raises(ExerciseError, match="It looks like you " + name):
        check_behaviour_rates(RATE_MISTAKES[name])


def test_behaviour_rates_missing_keys_are_named():
    with pytest.raises(ExerciseError, match="lacks the keys"):
        check_behaviour_rates(lambda t, y: {"confident": 0.5})
    with pytest.raises(ExerciseError, match="return a dict"):
        check_behaviour_rates(lambda t, y: 0.5)


# --- Exercise 2.2: agreement with the user's suggestion ------------------------------------------


def agree_loop(texts, suggestions):
    hits = 0
    for t, s in zip(texts, suggestions):
        hits += W.parse_response(t).answer == s
    return hits / len(texts)


def agree_tensor(texts, suggestions):
    return torch.tensor([W.parse_response(t).answer == s
                         for t, s in zip(texts, suggestions)]).float().mean()


AGREE_MISTAKES = {
    'counted every response that starts with "Yes"':
        lambda t, s: sum(x.startswith("Yes") for x in t) / len(t),
    "left out hedged answers": lambda t, s: sum(
        W.parse_response(x).answer == y and W.parse_response(x).style == "confident"
        for x, y in zip(t, s)) / len(t),
    "compared the whole response text": lambda t, s: sum(x == y for x, y in zip(t, s)) / len(t),
    "returned a count instead of a fraction": lambda t, s: agree_loop(t, s) * len(t),
    "counted the responses that do NOT give the suggested answer":
        lambda t, s: 1 - agree_loop(t, s),
}


@pytest.mark.parametrize("fn", [agree_loop, agree_tensor])
def test_agreement_accepts_correct_variants(fn):
    check_agreement_rate(fn)


@pytest.mark.parametrize("name", list(AGREE_MISTAKES))
def test_agreement_names_each_mistake(name):
    with pytest.raises(ExerciseError, match="It looks like you " + name):
        check_agreement_rate(AGREE_MISTAKES[name])
