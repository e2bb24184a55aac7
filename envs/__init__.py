"""Gymnasium environments of rlhf-gym; importing this package registers their ids.

- ``RLHFGym/ArmReach-v0``: `envs.arm_reach.ArmReachEnv`, a five-joint MuJoCo arm reaching
  for a random 3D target, 100 steps of 0.02 s per episode.
"""

from gymnasium.envs.registration import register, registry

ARM_REACH_ID = "RLHFGym/ArmReach-v0"
# 100 steps of dt = 0.02 s (2 s): a decent policy reaches any target in under 40 steps
# (tests/envs/test_arm_reach.py checks a scripted controller does).
ARM_REACH_MAX_EPISODE_STEPS = 100

if ARM_REACH_ID not in registry:  # importing twice (e.g. importlib.reload) stays quiet
    register(
        id=ARM_REACH_ID,
        entry_point="envs.arm_reach:ArmReachEnv",
        max_episode_steps=ARM_REACH_MAX_EPISODE_STEPS,
    )
