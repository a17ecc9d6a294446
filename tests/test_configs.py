"""Every config of the course is a frozen dataclass, checked when it is built: a bad value
(nan and inf included) gets a ValueError that names the class and the field."""

from __future__ import annotations

import dataclasses
import math

import pytest

from course_lib.dpo import DPOConfig
from course_lib.grpo import GRPOConfig
from course_lib.models import ModelConfig
from course_lib.policy_gradient import ReinforceConfig
from course_lib.pretrain import PretrainConfig
from course_lib.reward_model import RMConfig
from course_lib.sft import SFTConfig
from course_lib.verifiers import VerifierConfig, VerifierData
from course_lib.world import AnnotatorMix, WorldConfig

CONFIGS = [SFTConfig, RMConfig, ReinforceConfig, PretrainConfig, ModelConfig, WorldConfig,
           AnnotatorMix, GRPOConfig, DPOConfig, VerifierConfig, VerifierData]

BAD = [
    (SFTConfig, "steps", 0), (SFTConfig, "steps", True), (SFTConfig, "batch_size", -1),
    (SFTConfig, "lr", math.inf), (SFTConfig, "lr", math.nan), (SFTConfig, "lr", -1e-3),
    (SFTConfig, "seed", -1),
    (RMConfig, "steps", 1.5), (RMConfig, "lr", math.inf), (RMConfig, "lr", 0),
    (RMConfig, "weight_decay", -0.1), (RMConfig, "weight_decay", math.nan),
    (RMConfig, "batch_size", 0),
    (ReinforceConfig, "lr", math.inf), (ReinforceConfig, "beta", math.nan),
    (ReinforceConfig, "temperature", 0), (ReinforceConfig, "samples_per_prompt", 0),
    (PretrainConfig, "lr", math.inf), (PretrainConfig, "steps", 0),
    (PretrainConfig, "p_math", 1.5), (PretrainConfig, "warmup", -1),
    (PretrainConfig, "max_grad_norm", math.nan),
    (ModelConfig, "n_layer", 0), (ModelConfig, "n_head", 3), (ModelConfig, "n_positions", 2.0),
    (SFTConfig, "lr_schedule", "cosine"), (SFTConfig, "freeze_embeddings", "yes"),
    (WorldConfig, "level_fractions", (0.5, 0.5, 0.5)), (WorldConfig, "n_countries", 5),
    (WorldConfig, "split_fractions", (0.5, 0.5, 0.5)), (WorldConfig, "truth_share", (0.0, 0.5)),
    (WorldConfig, "truth_share", 0.5), (WorldConfig, "level_fractions", (0.5, math.nan, 0.5)),
    (AnnotatorMix, "p_sure", 1.5), (AnnotatorMix, "p_math", math.nan),
    (AnnotatorMix, "p_unsure", 0.95),
    (GRPOConfig, "lr", math.inf), (GRPOConfig, "clip_eps", math.nan), (GRPOConfig, "group_size", 1),
    (GRPOConfig, "normalization", "token"), (GRPOConfig, "scale_std", "yes"),
    (GRPOConfig, "beta", -0.1), (GRPOConfig, "epochs", 0),
    (DPOConfig, "beta", 0), (DPOConfig, "beta", math.nan), (DPOConfig, "lr", math.inf),
    (DPOConfig, "steps", 0), (DPOConfig, "batch_size", 1.5), (DPOConfig, "seed", -1),
    (DPOConfig, "max_grad_norm", 0),
    (VerifierConfig, "steps", 0), (VerifierConfig, "lr", math.nan), (VerifierConfig, "seed", -1),
    (VerifierData, "n_problems", 0), (VerifierData, "temperature", math.inf),
]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_configs_are_frozen_and_their_defaults_valid(cls):
    config = cls()
    field = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, field, getattr(config, field))
    assert dataclasses.replace(config) == config


@pytest.mark.parametrize("cls, field, value", BAD,
                         ids=[f"{c.__name__}.{f}={v!r}" for c, f, v in BAD])
def test_bad_values_are_refused_with_the_field_named(cls, field, value):
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{field}"):
        cls(**{field: value})
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{field}"):
        dataclasses.replace(cls(), **{field: value})
