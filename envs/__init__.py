"""Gymnasium environments of rlhf-gym; importing this package registers their ids.

- ``RLHFGym/ArmReach-v0``: `envs.arm_reach.ArmReachEnv`, a five-joint MuJoCo arm reaching
  for a random 3D target, 100 steps of 0.02 s per episode; ``gymnasium.make_vec`` builds
  `envs.arm_reach_vector.ArmReachVectorEnv` (the arms stepped in one loop, the rest batched).
- ``RLHFGym/TextGen-v0``: `envs.text_gen.TextGenEnv`, text generation with tokens as
  actions and a swappable reward at the end; ``gymnasium.make_vec`` builds the natively
  batched `envs.text_gen.TextGenVectorEnv` (needs ``tokenizer``, ``prompts``, ``reward_fn``).

`check_env_kwargs(env_id, kwargs)` names a mistyped constructor argument before an env is built.
"""

from gymnasium.envs.registration import register, registry

from envs.env_kwargs import check_env_kwargs

__all__ = ["ARM_REACH_ID", "ARM_REACH_MAX_EPISODE_STEPS", "TEXT_GEN_ID", "check_env_kwargs"]

ARM_REACH_ID = "RLHFGym/ArmReach-v0"
# 100 steps of dt = 0.02 s (2 s): a decent policy reaches any target in under 40 steps
# (tests/envs/test_arm_reach.py checks a scripted controller does).
ARM_REACH_MAX_EPISODE_STEPS = 100
TEXT_GEN_ID = "RLHFGym/TextGen-v0"

if ARM_REACH_ID not in registry:  # importing twice (e.g. importlib.reload) stays quiet
    register(
        id=ARM_REACH_ID,
        entry_point="envs.arm_reach:ArmReachEnv",
        vector_entry_point="envs.arm_reach_vector:ArmReachVectorEnv",
        max_episode_steps=ARM_REACH_MAX_EPISODE_STEPS,
    )
if TEXT_GEN_ID not in registry:
    # No TimeLimit: the env truncates at its own max_new_tokens, a property of the task.
    register(
        id=TEXT_GEN_ID,
        entry_point="envs.text_gen:TextGenEnv",
        vector_entry_point="envs.text_gen:TextGenVectorEnv",
        disable_env_checker=False,
    )
