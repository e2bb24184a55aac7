"""One rank of a DeepSpeed run of the three text steps (launched by torchrun from the tests).

``python -m torch.distributed.run --nproc_per_node N worker.py FIXTURES RUNS OUT STAGE
[--stop-after K]`` runs SFT, the reward model and PPO under ZeRO stage STAGE on the CPU
(gloo on 127.0.0.1) from the tiny models in FIXTURES (:mod:`tests.distributed.fixtures`),
each step in its own folder under RUNS, resuming what a previous launch left there. Rank R
writes ``OUT/rank{R}.json``: the per-step losses of this launch (``sft``, ``rm``: each
rank's loss over its share of the global batch; PPO's ``policy`` and ``value`` losses per
iteration), the prompts this rank's PPO rollouts drew (``prompts``, one list per iteration),
the score and the episode return logged for the whole batch (``score``, ``ep_return``), the
last rollout's prompts gathered from every rank (``gathered``), the final held-out losses,
and ``error``, the one-line message a step stopped with (then the later steps are not run).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("fixtures", "runs", "out"):
        parser.add_argument(name, type=Path)
    parser.add_argument("stage", type=int)
    parser.add_argument("--stop-after", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from rlhf_text.data import DataConfig
    from rlhf_text.engine import OptimConfig
    from rlhf_text.models import ModelConfig
    from rlhf_text.ppo_trainer import PPOTextConfig, TextEnvConfig, run_ppo
    from rlhf_text.reward_model import RMConfig, run_reward_model
    from rlhf_text.sft import SFTConfig, run_sft

    deepspeed = {
        "train_batch_size": "auto",
        "zero_optimization": {"stage": args.stage},
        "optimizer": {"type": "AdamW", "params": {"torch_adam": True}},
    }
    data = DataConfig(source=str(args.fixtures / "pairs.jsonl"), eval_fraction=0.2)
    settings = {
        "data": data,
        "optim": OptimConfig(learning_rate=3e-3, warmup_steps=1),
        "epochs": 1,
        "max_steps": 4,
        "batch_size": 4,  # global: 2 per rank on 2 ranks
        "max_prompt_len": 24,
        "max_len": 60,
        "deepspeed": deepspeed,
        "progress": False,
    }
    report: dict = {"sft": [], "rm": [], "prompts": []}
    from envs.text_gen import TextGenVectorEnv

    reset = TextGenVectorEnv.reset

    def recording_reset(env, **kwargs):  # what this rank's share of each batch was
        out = reset(env, **kwargs)
        report["prompts"].append(list(env.prompt_texts))
        return out

    TextGenVectorEnv.reset = recording_reset

    def steps(name: str):
        return lambda step, metrics: report[name].append(metrics[f"loss/{name}"])

    try:
        sft = SFTConfig(
            model=ModelConfig(name_or_path=str(args.fixtures / "lm")),
            run_dir=str(args.runs / "sft"),
            **settings,
        )
        report["sft_eval"] = run_sft(sft, stop_after=args.stop_after, on_step=steps("sft"))
        rm = RMConfig(
            model=ModelConfig(name_or_path=str(args.fixtures / "value")),
            run_dir=str(args.runs / "rm"),
            **settings,
        )
        report["rm_eval"] = run_reward_model(rm, stop_after=args.stop_after, on_step=steps("rm"))
        # what the next step (PPO's reward model) loads: there on every rank at return
        report["rm_saved"] = (args.runs / "rm" / "model.safetensors").is_file()
        ppo = PPOTextConfig(
            actor=ModelConfig(name_or_path=str(args.fixtures / "lm")),
            critic=ModelConfig(name_or_path=str(args.fixtures / "value")),
            reward={"type": "reward_model", "model": str(args.fixtures / "value")},
            data=data,
            env=TextEnvConfig(max_prompt_len=24, max_new_tokens=4),
            batch_size=4,
            iterations=2,
            deepspeed=deepspeed,
            run_dir=str(args.runs / "ppo"),
            progress=False,
        )
        history = run_ppo(ppo, stop_after=args.stop_after)
        report["policy"] = [row["loss/policy"] for row in history]
        report["value"] = [row["loss/value"] for row in history]
        report["score"] = [row["objective/score"] for row in history]
        report["ep_return"] = [row["rollout/ep_return"] for row in history]
        from agents import ranks  # the last rollout's prompts, every rank's, in batch order

        report["gathered"] = ranks.gather_rows(report["prompts"][-1])
    except ValueError as err:  # what a user would see: rlhf-gym prints it as one line
        report["error"] = str(err)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"rank{os.environ['RANK']}.json").write_text(json.dumps(report))
    if "error" not in report:  # as rlhf-gym ends a run: every rank leaves the group together
        from agents import ranks

        ranks.finish()


if __name__ == "__main__":
    main()
