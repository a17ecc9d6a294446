"""Unit tests of course_lib.mdp: the text MDP, its agreement with sampling, and enumeration."""

from __future__ import annotations

import pytest
import torch

from course_lib import mdp
from course_lib.sampling import response_token_logprobs, sample


@pytest.fixture(scope="module")
def base():
    import course_lib

    return course_lib.load_base_model(device="cpu")


def test_step_appends_rewards_and_ends():
    policy = mdp.TinyPolicy()
    env = mdp.tiny_task(policy, per_step=True)
    s0 = env.reset("")
    assert s0.t == 0 and not s0.done and s0.ids == s0.prompt_ids
    s1, r1, d1 = env.step(0)  # "a": process reward +1, not done
    assert s1.response_ids == (0,) and r1 == 1.0 and not d1 and s1.text == "a"
    s2, r2, d2 = env.step(policy.eos_id)  # finish: terminal bonus 2
    assert d2 and s2.done and r2 == mdp.TINY_FINISH_BONUS and s2.text == "a"
    with pytest.raises(ValueError, match="episode is over"):
        env.step(0)
    # horizon: 3 actions without <eos> end the episode, no finishing bonus
    env.reset("")
    rewards = [env.step(a)[1] for a in (0, 1, 0)]
    assert env.state.done and rewards == [1.0, 0.0, 1.0]
    # the transition is deterministic: same state and action, same next state
    assert env.transition(s0, 2) == env.transition(s0, 2)


def test_terminal_and_process_rewards_give_the_same_returns():
    policy = mdp.TinyPolicy(seed=1)
    ids, mask = mdp.enumerate_sequences(policy)
    terminal = mdp.step_rewards(mdp.tiny_task(policy), "", ids, mask)
    process = mdp.step_rewards(mdp.tiny_task(policy, per_step=True), "", ids, mask)
    assert torch.allclose(terminal.sum(1), process.sum(1))
    last = mask.sum(1).long() - 1
    assert torch.all(terminal.sum(1) == terminal.gather(1, last[:, None]).squeeze(1))
    assert not torch.allclose(terminal, process)


def test_bad_inputs_raise():
    policy = mdp.TinyPolicy()
    env = policy.make_env()
    with pytest.raises(ValueError, match="reset"):
        env.step(0)
    env.reset("")
    with pytest.raises(ValueError, match="action"):
        env.step(99)
    with pytest.raises(ValueError, match="max_new_tokens"):
        mdp.TextMDP(policy.tokenizer, max_new_tokens=0)
    with pytest.raises(ValueError, match="reward_fn"):
        mdp.TextMDP(policy.tokenizer, reward_fn=3)
    with pytest.raises(ValueError, match="horizon"):
        mdp.TinyPolicy(horizon=0)


def test_enumeration_covers_every_response():
    policy = mdp.TinyPolicy(horizon=3)
    ids, mask = mdp.enumerate_sequences(policy)
    assert ids.shape == (1 + 3 + 9 + 27, 3)
    assert len({tuple(r) for r in policy.texts(ids, mask)}) == ids.shape[0]
    probs = policy.sequence_logprobs(ids, mask).exp().detach()
    assert abs(float(probs.sum()) - 1) < 1e-12


def test_exact_objective_gradient_matches_finite_differences():
    policy = mdp.TinyPolicy(seed=2)
    env = mdp.tiny_task(policy)
    grad = mdp.exact_gradient(policy, env)
    eps = 1e-6
    for idx in [(0, 0), (3, 1), (2, 3)]:
        with torch.no_grad():
            policy.theta[idx] += eps
            up = float(mdp.exact_objective(policy, env))
            policy.theta[idx] -= 2 * eps
            down = float(mdp.exact_objective(policy, env))
            policy.theta[idx] += eps
        assert abs((up - down) / (2 * eps) - float(grad[idx])) < 1e-6


def test_monte_carlo_within_three_standard_errors():
    policy = mdp.TinyPolicy(seed=0)
    env = mdp.tiny_task(policy)
    J = float(mdp.exact_objective(policy, env))
    mc, se = mdp.monte_carlo_objective(policy, env, 20_000, generator=torch.Generator()
                                       .manual_seed(0))
    assert abs(mc - J) < 3 * se


def test_rollouts_in_the_mdp_match_the_enumerated_distribution():
    policy = mdp.TinyPolicy(seed=3)
    env = mdp.tiny_task(policy)
    ids, mask = mdp.enumerate_sequences(policy)
    probs = policy.sequence_logprobs(ids, mask).exp().detach()
    texts = policy.texts(ids, mask)
    g = torch.Generator().manual_seed(0)
    n = 3000
    counts = dict.fromkeys(texts, 0)
    names = list(policy.words) + ["<eos>"]
    for _ in range(n):
        traj = mdp.rollout(env, policy, "", generator=g)
        counts[" ".join(names[a] for a in traj.actions)] += 1
        # each step's log-prob is the policy's
        assert abs(sum(traj.logprobs) - float(policy.sequence_logprobs(
            torch.tensor([traj.actions + [policy.eos_id] * (3 - len(traj.actions))]),
            torch.tensor([[1.0] * len(traj.actions) + [0.0] * (3 - len(traj.actions))])))) < 1e-9
    freq = torch.tensor([counts[t] / n for t in texts], dtype=torch.float64)
    se = (probs * (1 - probs) / n).sqrt()
    assert torch.all((freq - probs).abs() <= 4.5 * se + 1e-3)


def test_model_policy_in_the_mdp_matches_sampling(base):
    model, tokenizer = base
    prompts = ["The capital of", "47 + 35 ="]
    rollout = sample(model, tokenizer, prompts, max_new_tokens=6,
                     generator=torch.Generator().manual_seed(0))
    policy = mdp.model_policy(model)
    env = mdp.TextMDP(tokenizer, reward_fn=lambda x, y: 1.0, max_new_tokens=6)
    with torch.no_grad():
        recomputed = response_token_logprobs(model, rollout)
    for i, prompt in enumerate(prompts):
        state = env.reset(prompt)
        n = int(rollout.response_mask[i].sum())
        for t in range(n):
            logp = policy(state)
            # the distribution at each state: same next-token log-probs as a fresh forward pass
            a = int(rollout.response_ids[i, t])
            assert abs(float(logp[a]) - float(rollout.logprobs[i, t])) < 1e-4
            assert abs(float(logp[a]) - float(recomputed[i, t])) < 1e-4
            assert abs(float(logp.exp().sum()) - 1) < 1e-4
            state, reward, done = env.step(a)
        assert state.done and state.text == rollout.texts[i]


def test_model_rollout_with_same_seed_matches_sampling(base):
    model, tokenizer = base
    env = mdp.TextMDP(tokenizer, max_new_tokens=5)
    prompt = "The capital of"
    for seed in range(3):
        r = sample(model, tokenizer, [prompt], max_new_tokens=5,
                   generator=torch.Generator().manual_seed(seed))
        traj = mdp.rollout(env, mdp.model_policy(model), prompt,
                           generator=torch.Generator().manual_seed(seed))
        n = int(r.response_mask[0].sum())
        assert traj.actions == r.response_ids[0, :n].tolist()


def test_token_scores_match_autograd():
    policy = mdp.TinyPolicy(seed=4)
    ids, mask = mdp.enumerate_sequences(policy)
    scores = mdp.token_scores(policy, ids, mask)  # (N, H, P)
    for i in (0, 7, 30):
        (g,) = torch.autograd.grad(policy.sequence_logprobs(ids[i:i + 1], mask[i:i + 1]).sum(),
                                   policy.theta)
        assert torch.allclose(scores[i].sum(0), g.flatten())
