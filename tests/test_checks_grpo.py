"""The checks of exercises 9.1 and 9.2 accept two correct implementations each and name every
planted mistake."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.checks import ExerciseError, check_group_advantages, check_pass_at_k
from course_lib.grpo import group_advantages, pass_at_k

# --- 9.1 --------------------------------------------------------------------------------------


def advantages_by_loop(rewards, group_size, scale_std=True, eps=1e-4):
    """A second correct form: one group at a time, the sample std written out."""
    out = torch.empty_like(rewards)
    for start in range(0, len(rewards), group_size):
        g = rewards[start:start + group_size]
        mean = g.sum() / group_size
        a = g - mean
        if scale_std:
            std = (((g - mean) ** 2).sum() / (group_size - 1)).sqrt()
            a = a / (std + eps)
        out[start:start + group_size] = a
    return out


def make_advantages(std="sample", over="group", stride=False, eps_at="std", centre=True,
                    flag=True):
    def fn(rewards, group_size, scale_std=True, eps=1e-4):
        groups = rewards.view(group_size, -1).T if stride else rewards.view(-1, group_size)
        mean = rewards.mean() if over == "batch_mean" else groups.mean(1, keepdim=True)
        a = groups - mean if centre else groups
        if scale_std or not flag:
            if over == "batch_std":
                s = rewards.std()
            else:
                s = groups.std(1, unbiased=std == "sample", keepdim=True)
            if eps_at == "std":
                a = a / (s + eps)
            elif eps_at == "root":
                a = a / (s ** 2 + eps).sqrt()
            else:
                a = a / s
        return a.T.reshape(-1) if stride else a.reshape(-1)
    return fn


def test_advantages_accept_two_correct_implementations(capsys):
    check_group_advantages(group_advantages)
    check_group_advantages(advantages_by_loop)
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("flags, name", [
    (dict(std="population"), "population standard deviation"),
    (dict(over="batch_std"), "standard deviation of the whole batch"),
    (dict(over="batch_mean"), "mean of the whole batch"),
    (dict(stride=True), "wrong stride"),
    (dict(eps_at="root"), "under the square root"),
    (dict(eps_at="none"), "left out eps"),
    (dict(centre=False), "did not subtract the group's mean"),
    (dict(flag=False), "even with scale_std=False"),
])
def test_advantages_name_each_planted_mistake(flags, name):
    with pytest.raises(ExerciseError, match=name):
        check_group_advantages(make_advantages(**flags))


def test_advantages_stub_raises_not_implemented():
    def stub(rewards, group_size, scale_std=True, eps=1e-4):
        raise NotImplementedError("Exercise 9.1")
    with pytest.raises(NotImplementedError):
        check_group_advantages(stub)


def test_advantages_wrong_shape_is_named():
    with pytest.raises(ExerciseError, match="one advantage per reward"):
        check_group_advantages(lambda r, G, scale_std=True, eps=1e-4: r.view(-1, G))


# --- 9.2 --------------------------------------------------------------------------------------


def pass_by_product(n, c, k):
    """Chen et al.'s numerically stable form: 1 - prod_{i=n-c+1}^{n} (1 - k / i)."""
    if k > n:
        raise ValueError("k > n")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1 - k / i
    return 1 - prod


def make_pass(kind):
    def fn(n, c, k):
        if kind == "no_check":
            return 1 - math.comb(n - c, k) / math.comb(n, k) if k <= n else 1.0
        if k > n:
            raise ValueError("k > n")
        if kind == "biased":
            return 1 - (1 - c / n) ** k
        if kind == "pass_at_1":
            return c / n
        return math.comb(c, k) / math.comb(n, k)
    return fn


def test_pass_at_k_accepts_two_correct_implementations(capsys):
    check_pass_at_k(pass_at_k)
    check_pass_at_k(pass_by_product)
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("kind, name", [
    ("biased", r"1 - \(1 - c/n\)\^k"), ("pass_at_1", "that is pass@1"),
    ("all_right", "all"), ("no_check", "k > n"),
])
def test_pass_at_k_names_each_planted_mistake(kind, name):
    with pytest.raises(ExerciseError, match=name):
        check_pass_at_k(make_pass(kind))


def test_pass_at_k_stub_raises_not_implemented():
    def stub(n, c, k):
        raise NotImplementedError("Exercise 9.2")
    with pytest.raises(NotImplementedError):
        check_pass_at_k(stub)
