"""Step 3 of the text pipeline: PPO with four models on the shared core.

Actor (from step 1) and frozen reference (step 1, or the actor with its LoRA adapters off),
critic (from step 2) and frozen reward model (step 2, inside the text env as its reward).
Each iteration collects B responses through the text env (``agents.collect_rollout``), shapes
rewards (``rlhf_text.ppo``), runs ``agents.compute_gae`` and ``agents.ppo_update``, then the
options: unsupervised LM-loss mixing, an EMA copy of the actor, the adaptive KL controller.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm.auto import tqdm

from agents.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from agents.collect import collect_rollout, start_collection
from agents.config import save_config
from agents.gae import compute_gae
from agents.logger import MetricsLogger, open_metrics_file, write_metrics_row
from agents.ppo import PPOConfig, ppo_update
from envs.text_gen import TextGenVectorEnv
from rlhf_text.data import DataConfig, PreferenceData, load_preference_data, prompts
from rlhf_text.engine import OptimConfig, TrainEngine
from rlhf_text.models import ModelConfig, load_causal_lm, load_tokenizer, load_value_model
from rlhf_text.policy import SamplingConfig, TokenActorCritic
from rlhf_text.ppo import (
    EngineStepper,
    KLConfig,
    KLController,
    compute_rewards,
    experience_metrics,
    sequence_logprobs,
    text_ppo_defaults,
)

STATE_NAME = "ppo_state.pt"


@dataclass
class TextEnvConfig:
    """The text env the actor generates in."""

    max_prompt_len: int = 64
    """longest prompt in tokens"""
    max_new_tokens: int = 32
    """longest response in tokens (the episode is truncated there)"""
    prompt_truncation: Literal["error", "left"] = "left"
    """'left' keeps an over-long prompt's last tokens (counted and logged); 'error' refuses"""
    chat_template: bool = False
    """wrap each prompt as one user message in the actor tokenizer's chat template (for plain
    prompt lists; ``data.chat_template`` renders whole preference dialogues for all steps)"""
    stop_token_ids: list[int] | None = None
    """tokens that end a response; None: the tokenizer's EOS"""


@dataclass
class LoraConfig:
    """LoRA adapters on the actor (peft); the reference is then the actor with them off."""

    r: int = 8
    """adapter rank"""
    alpha: int = 16
    """scaling numerator (scale = alpha / r)"""
    dropout: float = 0.0
    """dropout on the adapter input (0: PPO's ratio must start at exactly 1)"""
    target_modules: list[str] | None = None
    """module names to adapt; None lets peft pick the model's attention projections"""


@dataclass
class PPOTextConfig:
    """Everything step 3 needs; the defaults reproduce DeepSpeed-Chat's coefficients."""

    actor: ModelConfig = field(default_factory=lambda: ModelConfig(name_or_path="runs/text/sft"))
    """the actor, usually step 1's output directory"""
    reference: ModelConfig | None = None
    """the frozen reference; None: the same weights as the actor's start"""
    critic: ModelConfig | None = field(
        default_factory=lambda: ModelConfig(name_or_path="runs/text/rm")
    )
    """the critic, usually step 2's output directory; None: a value head on the actor"""
    reward: Any = field(default_factory=lambda: {"type": "reward_model", "model": "runs/text/rm"})
    """the env's reward: a reward spec (see envs.rewards.text.build_text_reward)"""
    data: DataConfig = field(default_factory=DataConfig)
    """where the prompts come from (the preference data's prompts)"""
    env: TextEnvConfig = field(default_factory=TextEnvConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    ppo: PPOConfig = field(default_factory=text_ppo_defaults)
    kl: KLConfig = field(default_factory=KLConfig)
    score_clip: float | None = 5.0
    """clip the reward-model score to [-c, c] (DeepSpeed-Chat's clip_reward_value = 5)"""
    actor_optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(learning_rate=9.65e-6, lr_scheduler="cosine")
    )
    """the actor's optimiser (DeepSpeed-Chat's single-GPU OPT example: 9.65e-6)"""
    critic_optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(learning_rate=5e-6, lr_scheduler="cosine")
    )
    """the critic's optimiser (DeepSpeed-Chat's example: 5e-6)"""
    batch_size: int = 16
    """prompts (responses) per iteration"""
    iterations: int = 100
    """PPO iterations (collect + update)"""
    ema_decay: float | None = None
    """keep an exponential moving average of the actor (DeepSpeed-Chat's --enable_ema: 0.992)"""
    lora: LoraConfig | None = None
    """train LoRA adapters instead of the whole actor"""
    unsup_coef: float = 0.0
    """weight of an LM loss on the chosen answers mixed in after each PPO update (0: off)"""
    unsup_batch_size: int = 8
    """texts per unsupervised LM step"""
    deepspeed: str | None = None
    """a DeepSpeed JSON for actor and critic (ZeRO 0-3, bf16, offload); None: plain PyTorch"""
    seed: int = 1
    """seeds torch, numpy, the prompt draws and minibatch shuffling"""
    torch_threads: int = 1
    """torch CPU threads (0: torch's default); small models run fastest with 1"""
    device: str = "auto"
    """where the models run ("cpu", "cuda", "cuda:1"; "auto": cuda if available); DeepSpeed
    places actor and critic itself and the reference follows them"""
    checkpoint_every: int = 10
    """iterations between checkpoints (a final one is always written)"""
    sample_every: int = 10
    """iterations between tables of sample responses in TensorBoard"""
    num_samples: int = 6
    """rows in each sample table"""
    output_dir: str = "runs/text/ppo"
    """actor/, critic/, actor_ema/, tb/, checkpoints and the resolved config go here"""
    progress: bool = True
    """show a progress bar"""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.iterations < 1:
            raise ValueError("batch_size and iterations must be >= 1")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.unsup_coef < 0:
            raise ValueError(f"unsup_coef must be >= 0, got {self.unsup_coef}")
        if self.env.chat_template and self.data.chat_template is not None:
            raise ValueError(
                "data.chat_template already renders the prompts in the chat template: "
                "env.chat_template would wrap them a second time (set one of the two)"
            )


@dataclass
class PPOModels:
    """The four models (the reward model lives in the env) and the two training engines."""

    tokenizer: Any
    policy: TokenActorCritic
    reference: torch.nn.Module | None  # None: the actor with LoRA adapters disabled
    actor_engine: TrainEngine
    critic_engine: TrainEngine | None
    env: TextGenVectorEnv
    ema: torch.nn.Module | None = None
    device: torch.device = torch.device("cpu")


def _apply_lora(actor: torch.nn.Module, lora: LoraConfig) -> torch.nn.Module:
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(actor, peft_config)


def build_models(config: PPOTextConfig, data: PreferenceData, steps: int) -> PPOModels:
    """Loads actor, reference and critic, builds the env (with the reward model) and engines."""
    tokenizer = load_tokenizer(config.actor)
    actor = load_causal_lm(config.actor, tokenizer)
    reference = None
    if config.lora is not None:
        actor = _apply_lora(actor, config.lora)
    else:
        reference = load_causal_lm(config.reference or config.actor, tokenizer)
        reference.eval().requires_grad_(False)
    critic = load_value_model(config.critic, tokenizer) if config.critic is not None else None
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu")
        if config.device == "auto"
        else config.device
    )
    if config.deepspeed is None:
        actor.to(device)
        if critic is not None:
            critic.to(device)
    entropy_grad = config.ppo.ent_coef != 0
    policy = TokenActorCritic(actor, critic, config.sampling, entropy_grad).to(device)
    vocab = max(len(tokenizer), actor.get_input_embeddings().num_embeddings)
    env = TextGenVectorEnv(
        config.batch_size,
        tokenizer,
        prompts(data, "train"),
        config.reward,
        max_prompt_len=config.env.max_prompt_len,
        max_new_tokens=config.env.max_new_tokens,
        stop_token_ids=config.env.stop_token_ids,
        vocab_size=vocab,
        prompt_truncation=config.env.prompt_truncation,
        chat_template=config.env.chat_template,
    )
    trainable = actor if critic is not None else policy  # shared: the head trains with the actor
    actor_engine = TrainEngine(trainable, config.actor_optim, steps, config.deepspeed)
    critic_engine = (
        TrainEngine(critic, config.critic_optim, steps, config.deepspeed) if critic else None
    )
    device = next(policy.actor.parameters()).device  # DeepSpeed may have moved it
    if reference is not None:
        reference.to(device)
    ema = None
    if config.ema_decay is not None:
        ema = copy.deepcopy(policy.actor).eval().requires_grad_(False)
    return PPOModels(tokenizer, policy, reference, actor_engine, critic_engine, env, ema, device)


def _reference_logprobs(models: PPOModels, batch, temperature: float) -> torch.Tensor:
    ids, mask, _ = models.policy.sequences(batch.observations, batch.actions)
    length = batch.actions.shape[1]
    if models.reference is not None:
        return sequence_logprobs(models.reference, ids, mask, length, temperature)
    with models.policy.actor.disable_adapter():  # LoRA: the base weights are the reference
        return sequence_logprobs(models.policy.actor, ids, mask, length, temperature)


def _unsup_step(models: PPOModels, texts: list[str], coef: float, max_len: int) -> float:
    """One LM-loss step on reference texts (DeepSpeed-Chat's unsupervised mixing)."""
    tokenizer = models.tokenizer
    enc = tokenizer(
        [t + tokenizer.eos_token for t in texts],
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=max_len,
    )
    enc = {key: value.to(models.device) for key, value in enc.items()}
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    out = models.policy.actor(**enc, labels=labels, use_cache=False)
    models.actor_engine.backward(coef * out.loss)
    models.actor_engine.step()
    return out.loss.item()


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, actor: torch.nn.Module, decay: float) -> None:
    for ema_param, param in zip(ema.parameters(), actor.parameters(), strict=True):
        ema_param.lerp_(param.detach(), 1.0 - decay)


def ppo_iteration(
    models: PPOModels,
    config: PPOTextConfig,
    kl_controller: KLController,
    generator: torch.Generator,
    unsup_texts: list[str],
) -> tuple[dict[str, float], list[tuple[str, str, float]]]:
    """One collect -> shape -> GAE -> update round. Returns metrics and (prompt, response,
    score) samples."""
    env, policy = models.env, models.policy
    start = time.perf_counter()
    state = start_collection(env, seed=None)  # the env's seeded RNG draws the next prompts
    batch, _, episodes = collect_rollout(
        env, policy, config.env.max_new_tokens, state, models.device, "first_step"
    )
    batch = batch.to(models.device)
    rollout_seconds = time.perf_counter() - start
    scores = batch.rewards.sum(1)  # the env paid the score on the last real token only
    ref_logprobs = _reference_logprobs(models, batch, config.sampling.temperature)
    batch.rewards, kl = compute_rewards(
        scores, batch.logprobs, ref_logprobs, batch.mask, kl_controller.value,
        config.score_clip, config.kl.estimator,
    )  # fmt: skip
    batch.extras["ref_logprobs"] = ref_logprobs
    terminal = batch.terminated | batch.truncated  # the score is the whole return
    batch.advantages, batch.returns = compute_gae(
        batch.rewards, batch.values, batch.next_values, terminal, torch.zeros_like(terminal),
        batch.mask, config.ppo.gamma, config.ppo.gae_lambda,
    )  # fmt: skip
    metrics = experience_metrics(batch, scores, kl, kl_controller.value)
    stepper = EngineStepper(models.actor_engine, models.critic_engine)
    metrics.update(ppo_update(policy, stepper, batch, config.ppo, generator))
    if config.unsup_coef > 0 and unsup_texts:
        index = torch.randint(len(unsup_texts), (config.unsup_batch_size,), generator=generator)
        texts = [unsup_texts[i] for i in index.tolist()]
        max_len = config.env.max_prompt_len + config.env.max_new_tokens
        metrics["loss/unsup"] = _unsup_step(models, texts, config.unsup_coef, max_len)
    if models.ema is not None:
        _ema_update(models.ema, policy.actor, config.ema_decay)
    kl_controller.update(metrics["objective/kl"], batch.shape[0])
    metrics["train/actor_lr"] = models.actor_engine.lr
    metrics["rollout/prompts_truncated"] = float(env.prompts.num_truncated)
    metrics["time/rollout_s"] = rollout_seconds
    metrics["time/iteration_s"] = time.perf_counter() - start
    metrics.update({k: v for k, v in episodes.summary().items() if "reward_" in k})
    responses = env.tokenizer.batch_decode(
        [batch.actions[i, : int(batch.mask[i].sum())].cpu() for i in range(batch.shape[0])],
        skip_special_tokens=True,
    )
    samples = [(env.prompt_texts[i], responses[i], float(scores[i])) for i in range(batch.shape[0])]
    return metrics, samples


def samples_table(samples: list[tuple[str, str, float]]) -> str:
    """A Markdown table of prompts, responses and scores (TensorBoard's text tab renders it)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ").strip()

    lines = ["| prompt | response | score |", "|---|---|---:|"]
    lines += [f"| {cell(p)} | {cell(r)} | {s:.3f} |" for p, r, s in samples]
    return "\n".join(lines)


def _save_state(path: Path, iteration: int, models, kl_controller, generator) -> None:
    models.actor_engine.save_checkpoint(path.parent / "checkpoint" / "actor")
    if models.critic_engine is not None:
        models.critic_engine.save_checkpoint(path.parent / "checkpoint" / "critic")
    payload = {
        "iteration": iteration,
        "kl": kl_controller.state_dict(),
        "rng": capture_rng(),
        "generator": generator.get_state(),
        "env_rng": models.env.np_random.bit_generator.state,
        "ema": None if models.ema is None else models.ema.state_dict(),
    }
    save_checkpoint(path, payload)


def _load_state(path: Path, models, kl_controller, generator) -> int:
    payload = load_checkpoint(path)
    models.actor_engine.load_checkpoint(path.parent / "checkpoint" / "actor")
    if models.critic_engine is not None:
        models.critic_engine.load_checkpoint(path.parent / "checkpoint" / "critic")
    kl_controller.load_state_dict(payload["kl"])
    restore_rng(payload["rng"])
    generator.set_state(payload["generator"])
    models.env.np_random.bit_generator.state = payload["env_rng"]
    if models.ema is not None and payload["ema"] is not None:
        models.ema.load_state_dict(payload["ema"])
    return int(payload["iteration"])


def _save_lm(model: torch.nn.Module, directory: Path, tokenizer: Any) -> None:
    """A plain ``save_pretrained`` directory; LoRA adapters are merged in first."""
    if hasattr(model, "merge_and_unload"):
        model = copy.deepcopy(model).merge_and_unload()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _save_outputs(models: PPOModels, output_dir: Path) -> None:
    actor = models.policy.actor
    if hasattr(actor, "merge_and_unload") or models.critic_engine is None:
        # LoRA, or an engine over actor + shared head: write the language model itself
        _save_lm(actor, output_dir / "actor", models.tokenizer)
    else:
        models.actor_engine.save_pretrained(output_dir / "actor", models.tokenizer)
    if models.critic_engine is not None:
        models.critic_engine.save_pretrained(output_dir / "critic", models.tokenizer)
    if models.ema is not None:
        _save_lm(models.ema, output_dir / "actor_ema", models.tokenizer)


def run_ppo(
    config: PPOTextConfig, resume: bool = True, stop_after: int | None = None
) -> list[dict[str, float]]:
    """Trains the actor with PPO as configured; returns the metrics of each iteration run.

    The run folder ``config.output_dir`` gets ``config.yaml``, ``tb/`` (TensorBoard: the loss,
    score and KL curves and sample tables), a checkpoint every ``checkpoint_every``
    iterations and on Ctrl-C (resumed when the same command runs again), and at the end
    ``actor/`` (and ``critic/``, ``actor_ema/``) as ``save_pretrained`` directories.
    """
    if config.torch_threads > 0:  # 0 keeps torch's default
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, output_dir / "config.yaml")
    data = load_preference_data(config.data)
    steps = config.iterations * config.ppo.update_epochs * config.ppo.num_minibatches
    models = build_models(config, data, steps)
    models.env.reset(seed=config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    kl_controller = KLController(config.kl)
    state_path = output_dir / STATE_NAME
    iteration = 0
    if resume and state_path.exists():
        iteration = _load_state(state_path, models, kl_controller, generator)
    unsup_texts = [pair.chosen_text for pair in data.train] if config.unsup_coef > 0 else []
    logger = MetricsLogger(output_dir / "tb", purge_step=iteration or None)
    metrics_file = open_metrics_file(output_dir, iteration)
    history: list[dict[str, float]] = []
    bar = tqdm(total=config.iterations, initial=iteration, unit="it", disable=not config.progress)
    start_iteration = iteration
    try:
        while iteration < config.iterations:
            if stop_after is not None and iteration - start_iteration >= stop_after:
                break
            metrics, samples = ppo_iteration(models, config, kl_controller, generator, unsup_texts)
            iteration += 1
            logger.log(metrics, iteration)
            history.append({"iteration": float(iteration), **metrics})
            write_metrics_row(metrics_file, history[-1])
            if iteration % config.sample_every == 0 or iteration == 1:
                logger.text("samples", samples_table(samples[: config.num_samples]), iteration)
            bar.update(1)
            bar.set_postfix(
                score=f"{metrics['objective/score']:.3f}", kl=f"{metrics['objective/kl']:.3f}"
            )
            if iteration % config.checkpoint_every == 0:
                _save_state(state_path, iteration, models, kl_controller, generator)
    except KeyboardInterrupt:
        _save_state(state_path, iteration, models, kl_controller, generator)
        raise
    finally:
        bar.close()
        logger.close()
        metrics_file.close()
    _save_state(state_path, iteration, models, kl_controller, generator)
    if iteration >= config.iterations:
        _save_outputs(models, output_dir)
    return history
