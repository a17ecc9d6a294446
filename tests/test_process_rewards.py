"""The step checker, aggregation and selection of lesson 11, the verifiers' plumbing, and
train_reinforce with per-step process rewards."""

from __future__ import annotations

import copy

import pytest
import torch

from course_lib import process_rewards as PR
from course_lib import verifiers as VF
from course_lib import world as W
from course_lib.policy_gradient import ReinforceConfig, group_baseline, train_reinforce
from course_lib.sampling import sample

TERMS = (12, 34, 56, 78)
PROMPT = W.chain_question(TERMS)


def test_step_labels_judge_each_step_on_its_own():
    right = W.chain_steps(TERMS)
    assert PR.step_labels(TERMS, right) == [True, True, True]
    slipped = [(12, 34, 56), (56, 56, 112), (112, 78, 190)]  # step 1 off by 10, then carried on
    assert PR.step_labels(TERMS, slipped) == [False, True, True]
    miscopied = [(12, 34, 46), (47, 56, 103), (103, 78, 181)]
    assert PR.step_labels(TERMS, miscopied) == [True, False, True]
    wrong_term = [(12, 34, 46), (46, 57, 103)]
    assert PR.step_labels(TERMS, wrong_term) == [True, False]
    extra = right + [(180, 10, 190)]  # a step past the last term
    assert PR.step_labels(TERMS, extra) == [True, True, True, False]


def test_check_response_reads_decoded_text_and_refuses_unfinished_work():
    text = "1 2 + 3 4 = 4 6 , 4 6 + 5 6 = 1 0 2 , 1 0 2 + 7 8 = 1 8 0 ."
    assert PR.check_response(PROMPT, text) == [True, True, True]
    assert PR.outcome(PROMPT, text)
    assert PR.check_response(PROMPT, "1 2 + 3 4 = 4 6 , 4 6 + 5 6 = 1 0") is None
    assert PR.check_response(PROMPT, "The capital of Zorland is Pourburg.") is None
    with pytest.raises(ValueError, match="prompt"):
        PR.terms_of("Q: What is the capital of X? A:")


def test_aggregate_min_product_and_empty_rows():
    scores = torch.tensor([[0.9, 0.5, 0.0], [0.8, 0.0, 0.0], [0.3, 0.3, 0.3]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert torch.allclose(PR.aggregate(scores, mask, "min"), torch.tensor([0.5, 0.8, 0.0]))
    assert torch.allclose(PR.aggregate(scores, mask, "product"), torch.tensor([0.45, 0.8, 0.0]))


def test_select_answer_by_score_and_by_vote():
    assert PR.select_answer(["1", "2", "3"], torch.tensor([0.2, 0.7, 0.7])) == "2"
    assert PR.select_answer([None, None, "5", "6", "6"]) == "6"
    assert PR.select_answer(["5", "6", "6", "5"]) == "5"
    assert PR.select_answer([None]) is None
    with pytest.raises(ValueError, match="scores"):
        PR.select_answer(["1", "2"], torch.tensor([0.1]))


@pytest.fixture(scope="module")
def sft():
    from course_lib import load_sft_model

    return load_sft_model(device="cpu", progress=False)


def test_step_token_rewards_sit_on_the_tokens_that_end_each_step(sft):
    model, tokenizer = sft
    rollout = sample(model, tokenizer, [PROMPT] * 4, 40, 1.0,
                     generator=torch.Generator().manual_seed(0))
    rewards = PR.step_token_rewards(tokenizer, rollout, [[1.0, 2.0, 3.0]] * 4)  # (B, R)
    ends = set(tokenizer.convert_tokens_to_ids([",", "."]))
    for i in range(4):
        if PR.check_response(PROMPT, rollout.texts[i]):
            nonzero = rewards[i].nonzero()[:, 0].tolist()
            assert [int(rollout.response_ids[i, t]) in ends for t in nonzero] == [True] * 3
            assert rewards[i, nonzero].tolist() == [1.0, 2.0, 3.0]


def test_prm_logits_one_per_step_and_none_for_unreadable(sft):
    model, tokenizer = sft
    prm, orm = VF.build_verifier(model, "prm"), VF.build_verifier(model, "orm")
    right = W.chain_text(TERMS, W.chain_steps(TERMS))
    texts = [right, "1 2 + 3 4 = 4 6 .", "I do not know."]
    logits = prm(tokenizer, [PROMPT] * 3, texts)
    assert [len(z) for z in logits] == [3, 1, 0]
    assert [len(z) for z in orm(tokenizer, [PROMPT] * 3, texts)] == [1, 1, 1]
    scores, mask = VF.step_scores(prm, tokenizer, [PROMPT] * 3, texts)
    assert scores.shape == (3, 3) and mask.sum(1).tolist() == [3.0, 1.0, 0.0]
    assert VF.prm_scores(prm, tokenizer, [PROMPT] * 3, texts)[2] == 0.0
    with pytest.raises(ValueError, match="kind"):
        VF.build_verifier(model, "crm")


def test_train_verifier_fits_only_the_head(sft):
    model, tokenizer = sft
    prm = VF.build_verifier(model, "prm")
    body = copy.deepcopy(prm.lm.state_dict())
    prompts = [W.chain_question(t) for t in W.chain_problems("train", 8, 4)]
    texts = sample(model, tokenizer, prompts, 40, 1.0,
                   generator=torch.Generator().manual_seed(0)).texts
    x, y, labels = VF.verifier_labels("prm", prompts, texts)
    history = VF.train_verifier(prm, tokenizer, x, y, labels, VF.VerifierConfig(steps=3),
                                progress=False)
    assert len(history) == 3 and prm.head.tolist() != [1.0, 0.0]
    assert all(torch.equal(v, prm.lm.state_dict()[k]) for k, v in body.items())
    with pytest.raises(ValueError, match="labels"):
        VF.train_verifier(prm, tokenizer, x, y, labels[:-1], progress=False)


def test_group_baseline_per_position_for_per_token_returns():
    G = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0], [7.0, 0.0]])
    mask = torch.tensor([[1, 1], [1, 1], [1, 0], [1, 0]])
    b = group_baseline(G, 2, "loo", mask)  # groups: rows 0-1, rows 2-3
    assert torch.allclose(b, torch.tensor([[3.0, 4.0], [1.0, 2.0], [7.0, 0.0], [5.0, 0.0]]))


def test_train_reinforce_with_process_rewards(sft):
    model, tokenizer = sft
    policy = copy.deepcopy(model)
    prompts = [W.chain_question(t) for t in W.chain_problems("train", 4, 4)]
    calls = []

    def process_reward(rollout):
        calls.append(len(rollout))
        return PR.step_token_rewards(tokenizer, rollout, [[1 / 3] * 3] * len(rollout))

    config = ReinforceConfig(steps=2, batch_size=2, samples_per_prompt=2, max_new_tokens=40)
    history = train_reinforce(policy, None, tokenizer, prompts,
                              lambda x, y: torch.zeros(len(x)), config, progress=False,
                              process_reward_fn=process_reward)
    assert len(history) == 2 and calls == [4, 4]
    with pytest.raises(ValueError, match="process_reward_fn"):
        train_reinforce(policy, None, tokenizer, prompts, lambda x, y: torch.zeros(len(x)),
                        config, progress=False, process_reward_fn=3)

    def bad(rollout):
        return torch.zeros(1)

    with pytest.raises(ValueError, match="process_reward_fn"):
        train_reinforce(policy, None, tokenizer, prompts, lambda x, y: torch.zeros(len(x)),
                        config, progress=False, process_reward_fn=bad)
