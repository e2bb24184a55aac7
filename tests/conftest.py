import os

# Offscreen MuJoCo rendering without a display (set before mujoco is imported).
os.environ.setdefault("MUJOCO_GL", "egl")
