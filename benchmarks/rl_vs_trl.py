"""course_lib's REINFORCE against TRL's RLOOTrainer and GRPOTrainer, at identical settings.

All trainers start from identical copies of the course's SFT model and train on the addition
task (prompts ``world.addition_question(a, b)`` over ``addition_problems("train")``) with the
exact-match reward, the same prompts per step, samples per prompt (group size), max new tokens,
temperature, learning rate and its schedule (Adam without weight decay), gradient clipping, KL
coefficient beta and seed. Each trainer's sampled held-out accuracy
(``evaluation.addition_accuracy`` on ``addition_problems("test")``, T = 1) is measured every
``--eval-every`` steps; evaluation time is excluded from the trainer's wall time.

Measured per trainer: samples/s and generated tokens/s (completion tokens, <eos> included, per
second of training wall time), median step time, wall time to reach ``--target`` held-out
accuracy (None if never), and the best accuracy reached within ``--steps`` / ``--time-cap``.

TRL is in the ``dev`` extra (lesson 09 runs it), pinned by constraints.txt::

    .venv/bin/python benchmarks/rl_vs_trl.py                       # the full run
    .venv/bin/python benchmarks/rl_vs_trl.py --quick               # a smoke test (a few steps)
    .venv/bin/python benchmarks/rl_vs_trl.py --trainers course     # course_lib only

Prints a markdown table and writes JSON (``--out``, default benchmarks/results/rl_vs_trl.json).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import course_lib  # noqa: E402
from course_lib import rewards as R  # noqa: E402
from course_lib import world as W  # noqa: E402
from course_lib.evaluation import addition_accuracy  # noqa: E402
from course_lib.policy_gradient import ReinforceConfig, train_reinforce  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRAINERS = ("course", "rloo", "grpo")
TRL_CONFIG_REPORTED = (  # the TRL options that decide what is compared, saved in the JSON
    "loss_type", "scale_rewards", "epsilon", "epsilon_high", "beta", "num_generations",
    "per_device_train_batch_size", "generation_batch_size", "steps_per_generation",
    "gradient_checkpointing", "activation_checkpointing", "bf16", "optim", "lr_scheduler_type",
    "disable_dropout", "use_bias_correction_kl", "normalize_advantages",
    "mask_truncated_completions", "temperature", "top_k", "top_p", "max_completion_length",
    "learning_rate", "max_grad_norm", "weight_decay")
PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "trl", "accelerate",
            "datasets", "numpy", "course-lib")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass


class Evaluator:
    """Sampled held-out addition accuracy, with its own clock (kept out of training time)."""

    def __init__(self, tokenizer, pairs, n_samples: int, seed: int):
        self.tokenizer, self.pairs, self.n_samples, self.seed = tokenizer, pairs, n_samples, seed
        self.seconds = 0.0

    def __call__(self, model) -> float:
        t = time.perf_counter()
        was_training = model.training
        acc = addition_accuracy(model, self.tokenizer, self.pairs, n_samples=self.n_samples,
                                seed=self.seed)
        model.train(was_training)
        self.seconds += time.perf_counter() - t
        return acc


class Run:
    """What one trainer did: step times, samples, tokens and the accuracy curve.

    ``train_s`` is training wall time: from the start of training to the end of the last step,
    minus the time spent evaluating.
    """

    def __init__(self, name: str, args, evaluator: Evaluator):
        self.name, self.args, self.evaluator = name, args, evaluator
        self.start = 0.0
        self.step_seconds: list[float] = []
        self.samples = 0
        self.tokens = 0
        self.curve: list[dict[str, float]] = []  # {"step", "train_s", "accuracy"}
        self.logs: list[dict[str, float]] = []
        self.time_to_target: float | None = None
        self.steps_to_target: int | None = None
        self.last_end = 0.0
        self.last_train_s = 0.0  # training wall time at the end of the last step
        self.stop_reason = "steps"

    def begin(self) -> None:
        self.start = self.last_end = time.perf_counter()

    def train_s(self, now: float) -> float:
        return now - self.start - self.evaluator.seconds

    def step_end(self, step: int, samples: int, tokens: int, model,
                 step_begin: float | None = None) -> bool:
        """Record a finished step (1-based ``step``); evaluate when due. True: stop training."""
        now = time.perf_counter()
        self.step_seconds.append(now - (step_begin if step_begin is not None else self.last_end))
        self.samples += samples
        self.tokens += tokens
        train_s = self.last_train_s = self.train_s(now)
        stop = False
        if step % self.args.eval_every == 0 or step == self.args.steps:
            acc = self.evaluator(model)
            self.curve.append({"step": step, "train_s": round(train_s, 3), "accuracy": acc})
            if acc >= self.args.target and self.time_to_target is None:
                self.time_to_target, self.steps_to_target = train_s, step
                stop = self.args.stop_at_target
                if stop:
                    self.stop_reason = "target"
            print(f"  [{self.name}] step {step:4d}  train {train_s:7.1f} s  "
                  f"held-out accuracy {acc:.3f}", flush=True)
        if not stop and self.args.time_cap and train_s >= self.args.time_cap:
            stop, self.stop_reason = True, "time_cap"
            if not self.curve or self.curve[-1]["step"] != step:  # the last state is measured
                acc = self.evaluator(model)
                self.curve.append({"step": step, "train_s": round(train_s, 3), "accuracy": acc})
                if acc >= self.args.target and self.time_to_target is None:
                    self.time_to_target, self.steps_to_target = train_s, step
        self.last_end = time.perf_counter()
        return stop

    def summary(self, initial_accuracy: float, setup_s: float) -> dict:
        steps = len(self.step_seconds)
        train_s = sum(self.step_seconds)
        curve = [{"step": 0, "train_s": 0.0, "accuracy": initial_accuracy}, *self.curve]
        best = max(curve, key=lambda c: (c["accuracy"], -c["train_s"]))
        end_s = self.last_train_s
        median = statistics.median(self.step_seconds) if steps else None
        per_step = self.samples / steps if steps else 0
        return {
            "steps": steps,
            "stop_reason": self.stop_reason,
            "train_s": round(end_s, 3),
            "step_sum_s": round(train_s, 3),
            "setup_s": round(setup_s, 3),
            "eval_s": round(self.evaluator.seconds, 3),
            "median_step_s": None if median is None else round(median, 4),
            "samples": self.samples,
            "tokens": self.tokens,
            "mean_completion_tokens": round(self.tokens / self.samples, 3)
            if self.samples else None,
            "samples_per_s": round(self.samples / end_s, 3) if end_s > 0 else None,
            "tokens_per_s": round(self.tokens / end_s, 3) if end_s > 0 else None,
            # without the first steps' warm-up: samples per step / median step time
            "samples_per_s_steady": round(per_step / median, 3) if median else None,
            "initial_accuracy": initial_accuracy,
            "best_accuracy": best["accuracy"],
            "best_accuracy_train_s": best["train_s"],
            "best_accuracy_step": best["step"],
            "final_accuracy": curve[-1]["accuracy"],
            "time_to_target_s": None if self.time_to_target is None
            else round(self.time_to_target, 3),
            "steps_to_target": self.steps_to_target,
            "curve": curve,
            "logs": self.logs,
        }


# --- course_lib -----------------------------------------------------------------------------------

def run_course(sft, tok, prompts, args, evaluator: Evaluator) -> dict:
    seed_everything(args.seed)
    t_setup = time.perf_counter()
    # at beta = 0 TRL loads no reference model, so the course skips its reference forward too
    policy, ref = copy.deepcopy(sft), copy.deepcopy(sft) if args.beta > 0 else None
    config = ReinforceConfig(
        steps=args.steps, batch_size=args.batch_size, samples_per_prompt=args.samples_per_prompt,
        lr=args.lr, lr_schedule=args.lr_schedule, temperature=args.temperature,
        baseline="loo", beta=args.beta,
        max_grad_norm=args.max_grad_norm, max_new_tokens=args.max_new_tokens, seed=args.seed)
    run = Run("course", args, evaluator)
    B = args.batch_size * args.samples_per_prompt
    setup_s = time.perf_counter() - t_setup

    def on_step(m: dict[str, float]) -> None:
        run.logs.append({k: m[k] for k in ("step", "reward", "kl", "loss", "length")})
        if run.step_end(int(m["step"]) + 1, B, round(m["length"] * B), policy):
            raise KeyboardInterrupt  # train_reinforce stops cleanly on it

    run.begin()
    train_reinforce(policy, ref, tok, prompts, R.exact_match_reward, config, on_step=on_step,
                    progress=False)
    return run.summary(args.initial_accuracy, setup_s)


# --- TRL ------------------------------------------------------------------------------------------

def trl_config_kwargs(args, output_dir: str) -> dict:
    """The TrainingArguments shared by RLOOConfig and GRPOConfig, matched to ReinforceConfig."""
    B = args.batch_size * args.samples_per_prompt
    return dict(
        output_dir=output_dir,
        max_steps=args.steps,
        per_device_train_batch_size=B,  # completions per step (P prompts x K samples)
        gradient_accumulation_steps=1,
        steps_per_generation=1,  # one generation batch per optimizer step: fully on-policy
        num_iterations=1,
        num_generations=args.samples_per_prompt,
        max_completion_length=args.max_new_tokens,
        temperature=args.temperature,
        top_p=1.0,
        top_k=0,
        learning_rate=args.lr,
        # TrainingArguments' "linear" (its default) is lr * (1 - t / max_steps), as course_lib's
        lr_scheduler_type=args.lr_schedule,
        warmup_steps=0,
        weight_decay=0.0,  # AdamW without weight decay = Adam, as in train_reinforce
        max_grad_norm=args.max_grad_norm if args.max_grad_norm is not None else 1e9,
        beta=args.beta,
        seed=args.seed,
        data_seed=args.seed,
        use_cpu=True,
        bf16=False,  # TRL's configs default to bf16=True
        fp16=False,
        report_to="none",
        disable_tqdm=True,
        logging_steps=args.eval_every,
        save_strategy="no",
        eval_strategy="no",
        dataloader_num_workers=0,
        remove_unused_columns=False,
        log_completions=False,
    )


def no_checkpointing(config_cls) -> dict:
    """TRL's configs default to gradient checkpointing on; course_lib does not checkpoint.
    transformers >= 5.2x renamed the option activation_checkpointing (the old name warns)."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    if "activation_checkpointing" in names:
        return {"activation_checkpointing": False}
    return {"gradient_checkpointing": False}


def run_trl(kind: str, sft, tok, prompts, args, evaluator: Evaluator) -> dict:
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    seed_everything(args.seed)
    run = Run(kind, args, evaluator)
    counts = {"samples": 0, "tokens": 0}

    def exact_match(prompts, completions, completion_ids=None, **kwargs) -> list[float]:
        """TRL's reward signature around course_lib.rewards.exact_match_reward."""
        counts["samples"] += len(completions)
        if completion_ids is not None:
            counts["tokens"] += sum(len(c) for c in completion_ids)
        return R.exact_match_reward(list(prompts), list(completions)).tolist()

    class Timing(TrainerCallback):
        def __init__(self):
            self.step_begin = 0.0
            self.seen = {"samples": 0, "tokens": 0}

        def on_train_begin(self, a, state, control, **kw):
            run.begin()

        def on_step_begin(self, a, state, control, **kw):
            self.step_begin = time.perf_counter()

        def on_step_end(self, a, state, control, model=None, **kw):
            samples = counts["samples"] - self.seen["samples"]
            tokens = counts["tokens"] - self.seen["tokens"]
            self.seen = dict(counts)
            if run.step_end(state.global_step, samples, tokens, model,
                            step_begin=self.step_begin):
                control.should_training_stop = True
            return control

        def on_log(self, a, state, control, logs=None, **kw):
            if logs:
                run.logs.append({"step": state.global_step, **{
                    k: v for k, v in logs.items() if isinstance(v, (int, float))}})

    t_setup = time.perf_counter()
    policy = copy.deepcopy(sft)
    # TRL builds its reference model with from_pretrained(model.config._name_or_path): point it
    # at a saved copy of the very same SFT weights.
    tmp = tempfile.TemporaryDirectory(prefix=f"rl_vs_trl_{kind}_")
    sft_dir = Path(tmp.name) / "sft"
    sft.save_pretrained(sft_dir)
    policy.config._name_or_path = str(sft_dir)
    dataset = Dataset.from_dict({"prompt": list(prompts)})
    common = trl_config_kwargs(args, str(Path(tmp.name) / "out"))
    if kind == "rloo":
        config = RLOOConfig(**common, **no_checkpointing(RLOOConfig), normalize_advantages=False)
        trainer_cls = RLOOTrainer
    else:
        # scale_rewards="none": advantages r - mean(group), not divided by the group's std
        config = GRPOConfig(**common, **no_checkpointing(GRPOConfig), scale_rewards="none")
        trainer_cls = GRPOTrainer
    trainer = trainer_cls(model=policy, reward_funcs=exact_match, args=config,
                          train_dataset=dataset, processing_class=tok, callbacks=[Timing()])
    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)
    if trainer.ref_model is not None:  # the reference really is the SFT model
        for (n, p), q in zip(trainer.ref_model.named_parameters(), sft.parameters()):
            if not torch.equal(p.detach().cpu(), q.detach().cpu()):
                raise RuntimeError(f"TRL's reference model differs from the SFT model at {n}")
    setup_s = time.perf_counter() - t_setup
    try:
        with warnings.catch_warnings():  # TRL reads deprecated transformers names
            warnings.simplefilter("ignore", FutureWarning)
            trainer.train()
    finally:
        tmp.cleanup()
    out = run.summary(args.initial_accuracy, setup_s)
    out["config"] = {k: v for k, v in config.to_dict().items() if k in TRL_CONFIG_REPORTED}
    return out


# --- main -----------------------------------------------------------------------------------------

# the defaults are lesson 05's sums run (100 steps of 64 prompts x 4 samples, lr 3e-4 decayed
# linearly), with a KL penalty of 0.05 (GRPO is compared with beta > 0)
FULL = {"steps": 100, "time_cap": 300.0, "eval_every": 10, "eval_pairs": 0}
QUICK = {"steps": 4, "time_cap": 120.0, "eval_every": 2, "eval_pairs": 64}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trainers", default="course,rloo,grpo",
                   help="comma-separated subset of course,rloo,grpo")
    p.add_argument("--steps", type=int, help="optimizer steps per trainer, at most "
                   f"(default {FULL['steps']}; --quick: {QUICK['steps']})")
    p.add_argument("--time-cap", type=float,
                   help="stop a trainer after this many seconds of training, evaluation "
                        f"excluded; 0: no cap (default {FULL['time_cap']:.0f}; --quick: "
                        f"{QUICK['time_cap']:.0f})")
    p.add_argument("--eval-every", type=int, help="evaluate every N steps "
                   f"(default {FULL['eval_every']}; --quick: {QUICK['eval_every']})")
    p.add_argument("--eval-pairs", type=int,
                   help="held-out pairs to evaluate on; 0: all of addition_problems('test') "
                        f"(default {FULL['eval_pairs']}; --quick: {QUICK['eval_pairs']})")
    p.add_argument("--eval-samples", type=int, default=1, help="samples per held-out pair")
    p.add_argument("--target", type=float, default=0.9, help="held-out accuracy to reach")
    p.add_argument("--stop-at-target", action="store_true",
                   help="stop a trainer as soon as it reaches --target")
    p.add_argument("--batch-size", type=int, default=64, help="prompts per step")
    p.add_argument("--samples-per-prompt", type=int, default=4, help="group size")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--lr-schedule", choices=("constant", "linear"), default="linear",
                   help="linear: decay to 0 over --steps (lesson 05's sums use it)")
    p.add_argument("--beta", type=float, default=0.05, help="KL coefficient (> 0 for GRPO)")
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: defaults of a few steps, evaluated on a few pairs")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rl_vs_trl.json")
    args = p.parse_args(argv)
    for k, v in (QUICK if args.quick else FULL).items():  # flags given explicitly win
        if getattr(args, k) is None:
            setattr(args, k, v)
    for name in ("steps", "eval_every", "eval_samples", "batch_size", "max_new_tokens"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.samples_per_prompt < 2:
        p.error("--samples-per-prompt must be >= 2 (leave-one-out baselines need a group)")
    if args.time_cap < 0 or args.eval_pairs < 0:
        p.error("--time-cap and --eval-pairs must be >= 0")
    args.trainers = [t.strip() for t in args.trainers.split(",") if t.strip()]
    bad = [t for t in args.trainers if t not in TRAINERS]
    if bad or not args.trainers:
        p.error(f"--trainers must be a comma-separated subset of {','.join(TRAINERS)}, got {bad}")
    if "grpo" in args.trainers and args.beta <= 0:
        p.error("--beta must be > 0 (the comparison runs GRPO with a KL penalty)")
    if args.max_grad_norm is not None and args.max_grad_norm <= 0:
        args.max_grad_norm = None
    return args


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main(argv=None) -> int:
    args = parse_args(argv)
    print(json.dumps(versions()), flush=True)
    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    sft, tok = course_lib.load_sft_model(device="cpu", progress=False)
    sft.eval()
    prompts = [W.addition_question(a, b) for a, b in W.addition_problems("train")]
    pairs = W.addition_problems("test")
    if args.eval_pairs:
        pairs = random.Random(args.seed).sample(pairs, min(args.eval_pairs, len(pairs)))
    evaluator0 = Evaluator(tok, pairs, args.eval_samples, args.seed)
    args.initial_accuracy = evaluator0(copy.deepcopy(sft))
    print(f"SFT held-out accuracy (sampled, T=1, {len(pairs)} pairs x {args.eval_samples}): "
          f"{args.initial_accuracy:.3f}  ({evaluator0.seconds:.1f} s per evaluation)", flush=True)

    results: dict[str, dict] = {}
    for name in args.trainers:
        print(f"== {name}", flush=True)
        evaluator = Evaluator(tok, pairs, args.eval_samples, args.seed)
        t = time.perf_counter()
        if name == "course":
            results[name] = run_course(sft, tok, prompts, args, evaluator)
        else:
            results[name] = run_trl(name, sft, tok, prompts, args, evaluator)
        results[name]["total_s"] = round(time.perf_counter() - t, 3)

    header = ("| trainer | steps | train s | samples/s | steady samples/s | tokens/s | "
              "median step s | "
              f"s to acc >= {args.target} | best acc (at s) | stop |")
    print("\n" + header + "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r in results.items():
        print(f"| {name} | {r['steps']} | {r['train_s']:.1f} | {fmt(r['samples_per_s'], '.1f')} | "
              f"{fmt(r['samples_per_s_steady'], '.1f')} | "
              f"{fmt(r['tokens_per_s'], '.1f')} | {fmt(r['median_step_s'], '.3f')} | "
              f"{fmt(r['time_to_target_s'], '.1f')} | "
              f"{r['best_accuracy']:.3f} ({r['best_accuracy_train_s']:.1f}) | "
              f"{r['stop_reason']} |")

    checks: dict[str, object] = {}
    course, rloo = results.get("course"), results.get("rloo")
    if course and rloo and course["samples_per_s"] and rloo["samples_per_s"]:
        ratio = course["samples_per_s"] / rloo["samples_per_s"]
        checks["samples_per_s_course_over_rloo"] = round(ratio, 3)
        checks["course_2x_rloo_samples_per_s"] = ratio >= 2.0
        if course["samples_per_s_steady"] and rloo["samples_per_s_steady"]:
            checks["steady_samples_per_s_course_over_rloo"] = round(
                course["samples_per_s_steady"] / rloo["samples_per_s_steady"], 3)
    if course:
        trl_times = {n: r["time_to_target_s"] for n, r in results.items() if n != "course"}
        checks["course_reaches_target"] = course["time_to_target_s"] is not None
        if trl_times:
            reached = [t for t in trl_times.values() if t is not None]
            checks["course_target_time_le_trl"] = (
                course["time_to_target_s"] is not None
                and all(course["time_to_target_s"] <= t for t in reached))
    if checks:
        print("\n" + "\n".join(f"{k}: {v}" for k, v in checks.items()))

    settings = {k: v for k, v in vars(args).items() if k not in ("out",)}
    payload = {
        "settings": settings,
        "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "held_out_pairs": len(pairs),
        "checks": checks,
        "trainers": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
