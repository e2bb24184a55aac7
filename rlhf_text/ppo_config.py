"""Step 3's configuration: the text env, LoRA, the PPO coefficients and the whole run.

:class:`~rlhf_text.ppo.TextPPOConfig` is the shared core's :class:`~agents.ppo.PPOConfig`
with DeepSpeed-Chat's step-3 coefficients as its own defaults (gamma 1, lambda 0.95, one
epoch, whole responses per minibatch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rlhf_text.data import DataConfig
from rlhf_text.engine import OptimConfig
from rlhf_text.models import ModelConfig
from rlhf_text.policy import SamplingConfig
from rlhf_text.ppo import KLConfig, TextPPOConfig


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
    ppo: TextPPOConfig = field(default_factory=TextPPOConfig)
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
    judge: str = "auto"
    """an independent judge logged beside the training score (``judge/score``), never
    trained on: 'gold' is the rule-based judge of the embedded data's own definitions
    (:class:`rlhf_text.judge.GoldJudge`); 'auto' uses it when the data is the embedded set;
    a reward-model directory (the pipeline's ``"{judge_rm}"``) uses that model; 'none'"""
    judge_window: int = 5
    """iterations over which a rising training score and a falling judge score raise the
    over-optimisation warning (``judge/overoptimisation``)"""
    judge_stop: bool = False
    """end the run at the over-optimisation warning (the outputs are then written as for a
    finished run); with any judge, ``actor_best/`` always holds the best-judged actor"""
    run_dir: str = "runs/text/ppo"
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
        if not self.judge.strip() or self.judge_window < 2:
            raise ValueError(
                "judge must be auto, gold, none or a reward-model directory (got "
                f"{self.judge!r}) and judge_window >= 2 (got {self.judge_window})"
            )
        if self.sampling.top_k != 0 or self.sampling.top_p != 1.0:
            raise ValueError(
                "sampling.top_k/top_p must stay off for PPO: the actor would sample from a "
                "truncated distribution while PPO trains on the full one's log-probs "
                "(off-policy data); use them for evaluation only"
            )
        if self.env.chat_template and self.data.chat_template is not None:
            raise ValueError(
                "data.chat_template already renders the prompts in the chat template: "
                "env.chat_template would wrap them a second time (set one of the two)"
            )
