"""rlhf-gym: one PPO core for text RLHF and MuJoCo arm reaching."""

__version__ = "0.1.0"
