"""Where the time of one REINFORCE step goes, and how close it is to its floor.

1. An instrumented copy of the loop body of ``course_lib.policy_gradient.train_reinforce`` (the
   library's own pieces: ``engine.fast_sample``, ``rewards.call_reward_fn``,
   ``engine.fast_token_logprobs``, ``kl_penalized_rewards``, ``group_baseline``,
   ``reinforce_loss``, then what ``reinforce_step`` does) with a timer around each phase:
   sampling, scoring (the reward function), the policy's log-prob forward, the reference
   forward, the loss, backward, the optimizer (clipping + Adam step) and logging.
2. The floor: sampling alone (``sample`` on the same prompts) and one plain forward/backward
   alone (logits -> log-softmax of the sampled tokens -> backward) on the same tokens, each
   repeated after warm-up. ratio = RL step / (sampling alone + forward/backward alone), of the
   median times (the ratio of the means is printed too); the target is <= 1.25.
3. The real ``train_reinforce`` for ``--real-steps`` steps: its mean step time, to show that
   the instrumented copy times the same thing.

The reference forward runs whenever train_reinforce gets a ``ref_policy`` (it logs the KL even
at beta = 0); ``--beta 0 --no-ref`` profiles the step with ``ref_policy=None``.

    python benchmarks/rl_step_profile.py            # the full profile
    python benchmarks/rl_step_profile.py --quick    # a smoke test

Prints a markdown table and writes JSON (``--out``, default
benchmarks/results/rl_step_profile.json). Runs on the CPU unless ``--device`` says otherwise.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import course_lib  # noqa: E402
from course_lib import rewards as R  # noqa: E402
from course_lib import world as W  # noqa: E402
from course_lib.engine import fast_sample, fast_token_logprobs  # noqa: E402
from course_lib.formats import style_rates  # noqa: E402
from course_lib.policy_gradient import (  # noqa: E402
    ReinforceConfig,
    group_baseline,
    kl_penalized_rewards,
    reinforce_loss,
    sequence_kl,
    train_reinforce,
)
from course_lib.rewards import call_reward_fn  # noqa: E402
from course_lib.sampling import positions, sample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("sampling", "scoring", "forward_policy", "forward_ref", "loss", "backward",
          "optimizer", "logging")


class Clock:
    """perf_counter laps, synchronizing CUDA first so that GPU work lands in the right phase."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.t = 0.0

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def start(self) -> None:
        self.t = self.now()

    def lap(self) -> float:
        t, self.t = self.t, self.now()
        return self.t - t


def instrumented_steps(policy, ref, tok, prompts, config: ReinforceConfig, n_steps: int,
                       clock: Clock):
    """The loop body of train_reinforce, phase by phase; returns per-step phase times and the
    (prompts, rollout) of every step."""
    rng = random.Random(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    P, K = config.batch_size, config.samples_per_prompt
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    if ref is not None:
        ref.eval()
    times: list[dict[str, float]] = []
    rollouts = []
    for step in range(n_steps):
        t: dict[str, float] = {}
        clock.start()
        # 1. sample
        batch_prompts = [p for p in (rng.choice(prompts) for _ in range(P)) for _ in range(K)]
        rollout = fast_sample(policy, tok, batch_prompts, config.max_new_tokens,
                              config.temperature, generator=generator)
        mask = rollout.response_mask.float()
        t["sampling"] = clock.lap()
        # 2. score
        scores = call_reward_fn(R.exact_match_reward, rollout.prompts, rollout.texts)
        t["scoring"] = clock.lap()
        # 3. log-probs with gradient, and the KL to the reference
        policy.train()
        logprobs, entropy = fast_token_logprobs(policy, rollout, config.temperature)
        t["forward_policy"] = clock.lap()
        ref_logprobs = None
        if ref is not None:
            with torch.no_grad():
                ref_logprobs, _ = fast_token_logprobs(ref, rollout, config.temperature,
                                                      entropy=False)
        kl = sequence_kl(logprobs, ref_logprobs, mask)
        t["forward_ref"] = clock.lap()
        rewards = scores
        if config.beta > 0:
            rewards = kl_penalized_rewards(scores, logprobs, ref_logprobs, mask,
                                           config.beta).sum(dim=1)
        # 4. advantages and the loss
        baseline = group_baseline(rewards, K, config.baseline)
        loss = reinforce_loss(logprobs, rewards, mask, baseline)
        t["loss"] = clock.lap()
        # 5. step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t["backward"] = clock.lap()
        grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(),
                                                   config.max_grad_norm or float("inf"))
        if not torch.isfinite(grad_norm):
            raise RuntimeError(f"step {step}: non-finite gradient norm")
        optimizer.step()
        policy.eval()
        t["optimizer"] = clock.lap()
        # 6. log (what train_reinforce computes for its history)
        _ = {"reward": scores.mean().item(), "kl": kl.mean().item(),
             "entropy": (entropy.sum() / mask.sum()).item(), "loss": loss.item(),
             "grad_norm": grad_norm.item(), "length": (mask.sum() / len(batch_prompts)).item(),
             **style_rates(rollout.texts)}
        t["logging"] = clock.lap()
        t["step"] = sum(t[p] for p in PHASES)
        t["response_len"] = rollout.response_ids.shape[1]
        t["tokens"] = int(rollout.response_mask.sum())
        times.append(t)
        rollouts.append((batch_prompts, rollout))
    return times, rollouts


def plain_forward_backward(model, rollout) -> None:
    """The floor of a training forward/backward on these tokens: logits, log-softmax of the
    response positions, gather the sampled tokens, sum, backward. No entropy, no reference."""
    P = rollout.prompt_ids.shape[1]
    ids, attn = rollout.input_ids, rollout.attention_mask
    logits = model(input_ids=ids, attention_mask=attn, position_ids=positions(attn)).logits
    logp = F.log_softmax(logits[:, P - 1:-1].float(), dim=-1)
    token_logp = logp.gather(2, rollout.response_ids[:, :, None]).squeeze(2)
    (token_logp * rollout.response_mask).sum().backward()


def shared_forward_backward(model, rollout) -> None:
    """The same, the way the loop runs it: each distinct prompt once (``fast_token_logprobs``,
    which shares a prompt's computation among its samples), no entropy, backward."""
    token_logp, _ = fast_token_logprobs(model, rollout, rollout.temperature, entropy=False)
    token_logp.sum().backward()


@torch.no_grad()
def plain_ref_forward(model, rollout) -> None:
    """The floor of the reference model's forward: log-probs of the sampled tokens, no grad."""
    P = rollout.prompt_ids.shape[1]
    ids, attn = rollout.input_ids, rollout.attention_mask
    logits = model(input_ids=ids, attention_mask=attn, position_ids=positions(attn)).logits
    logp = F.log_softmax(logits[:, P - 1:-1].float(), dim=-1)
    logp.gather(2, rollout.response_ids[:, :, None]).squeeze(2)


def summarize(xs: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(xs), "median": statistics.median(xs), "min": min(xs),
            "max": max(xs), "n": len(xs)}


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "course-lib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


FULL = {"warmup": 3, "steps": 20, "repeats": 20, "real_steps": 20}
QUICK = {"warmup": 1, "steps": 3, "repeats": 3, "real_steps": 3}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warmup", type=int, help="untimed steps / repeats first "
                   f"(default {FULL['warmup']}; --quick: {QUICK['warmup']})")
    p.add_argument("--steps", type=int, help="timed instrumented RL steps "
                   f"(default {FULL['steps']}; --quick: {QUICK['steps']})")
    p.add_argument("--repeats", type=int,
                   help="timed repeats of sampling alone and of forward/backward alone "
                        f"(default {FULL['repeats']}; --quick: {QUICK['repeats']})")
    p.add_argument("--real-steps", type=int,
                   help="steps of the real train_reinforce; 0: skip "
                        f"(default {FULL['real_steps']}; --quick: {QUICK['real_steps']})")
    p.add_argument("--batch-size", type=int, default=64, help="prompts per step (lesson 05: 64)")
    p.add_argument("--samples-per-prompt", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--beta", type=float, default=0.05)
    p.add_argument("--no-ref", action="store_true",
                   help="no reference model (ref_policy=None: no KL, needs --beta 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, ...")
    p.add_argument("--target", type=float, default=1.25,
                   help="the ratio RL step / (sampling + forward/backward) to stay under")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 warm-up, 3 steps, 3 repeats, 3 real steps "
                        "(flags given explicitly win)")
    p.add_argument("--out", type=Path,
                   default=ROOT / "benchmarks" / "results" / "rl_step_profile.json")
    args = p.parse_args(argv)
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.steps < 1 or args.repeats < 1 or args.warmup < 0 or args.real_steps < 0:
        p.error("--steps and --repeats must be >= 1, --warmup and --real-steps >= 0")
    if args.no_ref and args.beta:
        p.error("--no-ref needs --beta 0 (a KL penalty needs the reference model)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    clock = Clock(device)
    print(json.dumps(versions()), f"torch threads: {torch.get_num_threads()}", flush=True)
    sft, tok = course_lib.load_sft_model(device=device, progress=False)
    prompts = [W.addition_question(a, b) for a, b in W.addition_problems("train")]
    config = ReinforceConfig(steps=max(args.real_steps, 1), batch_size=args.batch_size,
                             samples_per_prompt=args.samples_per_prompt, lr=args.lr,
                             temperature=args.temperature, beta=args.beta,
                             max_new_tokens=args.max_new_tokens, seed=args.seed)

    # 1. the instrumented loop (warm-up steps first, untimed)
    torch.manual_seed(args.seed)
    policy = copy.deepcopy(sft)
    ref = None if args.no_ref else copy.deepcopy(sft)
    all_times, rollouts = instrumented_steps(policy, ref, tok, prompts, config,
                                             args.warmup + args.steps, clock)
    times, rollouts = all_times[args.warmup:], rollouts[args.warmup:]
    phase = {k: summarize([t[k] for t in times]) for k in (*PHASES, "step")}

    # 2. the floor, on the same prompts and the same tokens (the policy as the loop left it)
    def timed(fn, items) -> list[float]:
        for i in range(args.warmup):
            fn(items[i % len(items)])
        out = []
        for i in range(args.repeats):
            clock.start()
            fn(items[i % len(items)])
            out.append(clock.lap())
        return out

    gen = torch.Generator().manual_seed(args.seed + 1)
    sampled_lengths: list[int] = []

    def sample_alone(item) -> None:
        r = sample(policy, tok, item[0], args.max_new_tokens, args.temperature, generator=gen)
        sampled_lengths.append(r.response_ids.shape[1])

    sampling_alone = timed(sample_alone, rollouts)
    policy.train()
    fwd_bwd_alone = timed(lambda item: plain_forward_backward(policy, item[1]), rollouts)
    shared_alone = timed(lambda item: shared_forward_backward(policy, item[1]), rollouts)
    policy.zero_grad(set_to_none=True)
    policy.eval()
    ref_alone = timed(lambda item: plain_ref_forward(ref if ref is not None else policy,
                                                      item[1]), rollouts)
    # medians: robust to a stray slow repeat (another process, the allocator); means in the JSON
    med, mean = statistics.median, statistics.fmean
    floor = med(sampling_alone) + med(fwd_bwd_alone)
    ratio = phase["step"]["median"] / floor
    ratio_of_means = phase["step"]["mean"] / (mean(sampling_alone) + mean(fwd_bwd_alone))
    # with a KL penalty the reference forward is work the step cannot skip: the ratio to a
    # floor that includes it shows the overhead beyond the necessary work
    floor_ref = floor + med(ref_alone)
    ratio_ref = phase["step"]["median"] / floor_ref
    # the loop's forward/backward shares each prompt among its samples; against that (smaller)
    # floor, the ratio is what the step costs beyond its own sampling and forward/backward
    floor_shared = med(sampling_alone) + med(shared_alone)
    ratio_shared = phase["step"]["median"] / floor_shared

    # 3. the real train_reinforce
    real: dict[str, float] | None = None
    if args.real_steps:
        torch.manual_seed(args.seed)
        policy2 = copy.deepcopy(sft)
        marks: list[float] = []
        t0 = clock.now()
        ref2 = None if args.no_ref else copy.deepcopy(sft)
        train_reinforce(policy2, ref2, tok, prompts, R.exact_match_reward, config,
                        on_step=lambda m: marks.append(clock.now()), progress=False)
        steps = [b - a for a, b in zip([t0, *marks[:-1]], marks)]
        kept = steps[min(args.warmup, len(steps) - 1):]  # the same warm-up as above
        real = {**summarize(kept), "first_step": steps[0], "total": marks[-1] - t0}

    # report
    mean_step = phase["step"]["mean"]
    print(f"\nB = {args.batch_size} x {args.samples_per_prompt} samples, max_new_tokens "
          f"{args.max_new_tokens}, beta {args.beta}{', no reference' if args.no_ref else ''}, "
          f"device {device}, "
          f"{args.steps} timed steps after {args.warmup} warm-up\n")
    print("| phase | mean ms | median ms | share of step |\n|---|---:|---:|---:|")
    for k in PHASES:
        print(f"| {k} | {1e3 * phase[k]['mean']:.1f} | {1e3 * phase[k]['median']:.1f} | "
              f"{phase[k]['mean'] / mean_step:.1%} |")
    print(f"| **RL step (instrumented)** | **{1e3 * mean_step:.1f}** | "
          f"{1e3 * phase['step']['median']:.1f} | 100% |")
    if real:
        print(f"| RL step (real train_reinforce) | {1e3 * real['mean']:.1f} | "
              f"{1e3 * real['median']:.1f} | {real['mean'] / mean_step:.1%} |")
    print(f"| sampling alone | {1e3 * statistics.fmean(sampling_alone):.1f} | "
          f"{1e3 * statistics.median(sampling_alone):.1f} | |")
    print(f"| forward/backward alone | {1e3 * statistics.fmean(fwd_bwd_alone):.1f} | "
          f"{1e3 * statistics.median(fwd_bwd_alone):.1f} | |")
    print(f"| forward/backward alone, prompts shared (as the loop) | "
          f"{1e3 * statistics.fmean(shared_alone):.1f} | "
          f"{1e3 * statistics.median(shared_alone):.1f} | |")
    print(f"| reference forward alone | {1e3 * statistics.fmean(ref_alone):.1f} | "
          f"{1e3 * statistics.median(ref_alone):.1f} | |")
    print(f"\nratio RL step / (sampling + forward/backward alone), medians = {ratio:.3f} "
          f"(target <= {args.target}: {'met' if ratio <= args.target else 'NOT met'}); "
          f"of means {ratio_of_means:.3f}")
    print(f"ratio RL step / (sampling + forward/backward + reference forward alone), medians = "
          f"{ratio_ref:.3f}")
    print(f"ratio RL step / (sampling + the loop's own shared-prompt forward/backward alone), "
          f"medians = {ratio_shared:.3f}")
    mean_len = statistics.fmean(t["response_len"] for t in times)
    print(f"mean response length: RL steps {mean_len:.1f}, sampling alone "
          f"{statistics.fmean(sampled_lengths):.1f} tokens (padded width)")

    payload = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "phases_s": phase,
        "steps_s": times,
        "sampling_alone_s": summarize(sampling_alone),
        "forward_backward_alone_s": summarize(fwd_bwd_alone),
        "reference_forward_alone_s": summarize(ref_alone),
        "floor_s": floor,
        "ratio": ratio,
        "ratio_of_means": ratio_of_means,
        "floor_with_reference_s": floor_ref,
        "ratio_with_reference": ratio_ref,
        "shared_forward_backward_alone_s": summarize(shared_alone),
        "floor_shared_s": floor_shared,
        "ratio_to_shared_floor": ratio_shared,
        "target": args.target,
        "meets_target": ratio <= args.target,
        "real_train_reinforce_s": real,
        "real_over_instrumented": real["mean"] / mean_step if real else None,
        "mean_response_len": {"rl_steps": mean_len,
                              "sampling_alone": statistics.fmean(sampled_lengths)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
