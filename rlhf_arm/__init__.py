"""World 2: the MuJoCo arm on the shared PPO core.

- `experiment`: config-driven train / eval / video for any Box-action gymnasium env
  (``configs/arm/*.yaml`` name ``RLHFGym/ArmReach-v0``).
- `prefs`: RLHF for the arm, a reward learned from trajectory preferences (Christiano 2017).
"""
