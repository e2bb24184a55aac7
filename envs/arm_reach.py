"""ArmReach: a five-joint MuJoCo desktop arm that reaches for a random target in 3D."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces, utils
from gymnasium.envs.mujoco import MujocoEnv

from envs import _arm_servo as servo
from envs._arm_checks import CONTROL_MODES, check_args, checked_action, raise_bad_action
from envs._arm_model import ArmModel, contiguous, load_arm
from envs._arm_observation import ObservationBuffer
from envs._arm_reward import RewardTermsMixin, UserReward
from envs._arm_servo import ServoMixin
from envs._arm_snapshot import ArmSnapshotMixin
from envs._workspace import Workspace, estimate_workspace, sample_start_pose
from envs.arm_randomize import PhysicsRandomizer

__all__ = ["CONTROL_MODES", "ArmReachEnv", "ObservationBuffer", "raise_bad_action"]


class ArmReachEnv(ServoMixin, RewardTermsMixin, ArmSnapshotMixin, MujocoEnv, utils.EzPickle):
    r"""A 3D arm (base yaw, shoulder, elbow, two wrist joints) moves its fingertip to a target.

    ## Description
    `arm5.xml` is a desktop arm on a table: base yaw, shoulder pitch, elbow pitch, wrist pitch
    and wrist yaw, about 0.52 m from the shoulder pivot (0.15 m above the table) to the
    fingertip site `end_effector`. Each episode puts a target (a mocap sphere that collides
    with nothing) somewhere the arm can reach; the reward is the negative fingertip-to-target
    distance. Any MJCF or URDF arm can replace it (`xml_file`, `ee_site`, `joint_names`);
    `randomization` draws new physics every episode (`envs.arm_randomize`).

    ## Action Space
    `Box(-1, 1, (n,), float32)`, one entry per controlled joint (n = 5 for `arm5.xml`, in the
    order `base_yaw, shoulder_pitch, elbow_pitch, wrist_pitch, wrist_yaw`).

    | control_mode | Meaning of action[i] | Unit |
    |---|---|---|
    | `"position"` | servo target_i += action[i] * max_delta, clip to joint range (4) | rad/step |
    | `"joint_target"` | servo target_i = middle_i + action[i] * half-range_i (4) | rad |
    | `"torque"` | joint torque_i = action[i] * torque_limit_i | N m |

    In position mode a position servo (kp, kv, torque-limited) tracks the targets; like a
    hobby servo arm it has no integral term, so gravity leaves a small steady offset. What
    the servo is sent (the command) follows the target through `action_smoothing` and
    `max_joint_speed`, both off by default (then the command is the target).

    An action of the wrong shape, with NaN or inf, or outside [-1, 1] (beyond 1e-6) raises
    `ValueError`: nothing is clipped silently. The joint range is the only clip.

    ## Observation Space
    `Box(-inf, inf, (3n + 9,), float64)`; for `arm5.xml` (n = 5) that is 24 values:

    | Num     | Observation                                  | Unit  |
    |---------|----------------------------------------------|-------|
    | 0-4     | cos of the joint angles                      |       |
    | 5-9     | sin of the joint angles                      |       |
    | 10-14   | joint angular velocities                     | rad/s |
    | 15-17   | end-effector position (x, y, z), world frame | m     |
    | 18-20   | target position (x, y, z), world frame       | m     |
    | 21-23   | target minus end-effector (x, y, z)          | m     |

    In general: cos at `[0, n)`, sin at `[n, 2n)`, velocities at `[2n, 3n)`, end effector at
    `[3n, 3n+3)`, target at `[3n+3, 3n+6)`, target minus end effector at `[3n+6, 3n+9)`.
    Positions are those after the step (`mj_kinematics` runs after the physics).

    ## Rewards
    With distance d = ||target - end_effector|| (m) after the step and the action a:

    | `info` key         | Value                                               |
    |--------------------|-----------------------------------------------------|
    | `"reward_dist"`    | `-reward_dist_weight * d`                           |
    | `"reward_ctrl"`    | `-reward_control_weight * sum(a ** 2)`              |
    | `"reward_success"` | `success_bonus * is_success`                        |
    | `"distance"`       | d (m)                                               |
    | `"is_success"`     | `d < success_threshold` (bool)                      |
    | `"reward_custom"`  | only with `reward_fn`: its value                    |

    reward = reward_dist + reward_ctrl + reward_success, unless `reward_fn` is given: then
    reward = `reward_fn(observation, action, info)` = `info["reward_custom"]`, called with the
    new observation (float64, shape (3n + 9,)), the action (float64, shape (n,)) and the info
    dict above (without `"reward_custom"`); it must not modify them and must return a finite
    real scalar, else `ValueError` naming the function. `reward_fn` may be a callable or an
    import path `"package.module:function"` (see `envs.rewards.resolve_callable`); pickling
    the env (and async vector envs) needs a module-level function or an import path. Its
    signature is checked when the env is built: one that cannot take the three arguments is
    a `ValueError` then, not at the first step.

    ## Starting State
    Controlled joints start at the home pose (keyframe `"home"`, else `qpos0`; for `arm5.xml`
    `[0, 0.5, 1.3, 0.9, 0]` rad) plus U(-reset_noise_scale, reset_noise_scale), clipped to
    the joint range, at rest; the position targets start there. The target is uniform in
    volume over the workspace: a spherical shell around the shoulder pivot with radii
    `target_reach_range` times the max reach, at least 0.03 m above the table, within the
    base-yaw range (estimated once per model by forward kinematics, see `envs._workspace`).

    ## Episode End
    Never terminates (`terminated` is always False). Truncated by the `TimeLimit` of the
    registration: `RLHFGym/ArmReach-v0` runs 100 steps of dt = 0.002 s * 10 = 0.02 s
    (`control_period` sets dt instead of `frame_skip`).

    ## Arguments
    | Parameter | Type | Default | Description |
    |---|---|---|---|
    | `xml_file` | str | `"arm5.xml"` | MJCF or URDF path, or a file name in envs/assets |
    | `frame_skip` | int | `10` | physics steps per env step; dt = timestep * frame_skip |
    | `control_mode` | str | `"position"` | `"position"`, `"joint_target"` or `"torque"` |
    | `max_delta` | float | `0.1` | largest servo target change per step (rad) |
    | `reward_dist_weight` | float | `1.0` | weight of the distance term |
    | `reward_control_weight` | float | `0.01` | weight of the squared-action term |
    | `success_bonus` | float | `0.0` | reward added while d < success_threshold |
    | `success_threshold` | float | `0.05` | success distance (m) |
    | `reward_fn` | callable, str, None | `None` | replaces the reward (see Rewards) |
    | `reset_noise_scale` | float | `0.05` | half-width of the joint noise at reset (rad) |
    | `random_start_fraction` | float | `0.0` | share of episodes from a random pose (6) |
    | `target_reach_range` | tuple | `(0.25, 0.9)` | target shell radii / max reach |
    | `ee_site` | str | `"end_effector"` | end-effector site, or a link (body) name |
    | `joint_names` | list[str], None | `None` | controlled hinges (1) |
    | `kp` | float, list, None | `None` | servo stiffness, N m/rad (2) |
    | `kv` | float, list, None | `None` | servo damping, N m s/rad (2) |
    | `torque_limit` | float, list, None | `None` | joint torque limits, N m (2) |
    | `armature` | float, list, None | `None` | joint armature, kg m^2 (None: the model's) |
    | `control_period` | float, None | `None` | dt in s (None: timestep * frame_skip) (4) |
    | `action_smoothing` | float | `0.0` | command += (1 - it) * (target - command) (4) |
    | `max_joint_speed` | float, list, None | `None` | command change cap, rad/s (4) |
    | `randomization` | dict, str, None | `None` | per-episode physics, or a YAML path (5) |
    | `render_mode` | str, None | `None` | `"rgb_array"`, `"depth_array"`, `"rgbd_tuple"` |
    | `width` | int | `480` | render width (pixels) |
    | `height` | int | `480` | render height (pixels) |
    | `camera_name` | str, None | `None` | camera to render from (3) |
    | `default_camera_config` | dict, None | `None` | free-camera settings (3) |

    (1) None: every hinge joint with an actuator, else every hinge joint (for `arm5.xml`
    the five above). Joints without an actuator get one; a model without a mocap body
    "target" gets one. A missing file raises FileNotFoundError, a missing site or joint a
    ValueError naming it and listing what the model has.
    (2) None: from the model, per joint: kp and kv of a position actuator (`<position>`),
    the torque limit from the actuator's forcerange (times gear) or the joint's
    actuatorfrcrange; kv not given falls back to critical damping, 2 sqrt(kp M_ii). A mode
    that needs a value the model lacks raises ValueError (e.g. motors only: pass `kp`).
    The actuators are rewritten after loading (gain and bias parameters), so one MJCF
    serves both modes.
    (3) None: the model's `"overview"` camera if it has one, else a free camera framing the
    workspace.
    (4) A servo arm's controller: `control_period` must be a whole number of physics
    timesteps (a ValueError otherwise); smoothing (in [0, 1)) and the speed cap act on the
    command sent to the servo, in that order, after the target moved; position mode only.
    (5) See `envs.arm_randomize`: masses, damping, friction, gains, calibration offsets,
    observation noise, latency and period jitter, drawn at reset from `np_random`; the
    draws are in the reset info under `"randomization"`.
    (6) Exploring starts: that share of resets starts from a uniformly random pose within
    the joint ranges that touches nothing (`envs._workspace.sample_start_pose`) instead of
    home; an arm whose home is far from its targets learns the whole workspace this way.
    """

    # Offscreen modes only: a "human" window needs a display, and gymnasium's check_env opens
    # every declared mode, which aborts inside GLFW on a headless machine. For a live view use
    # `mujoco.viewer.launch_passive(env.unwrapped.model, env.unwrapped.data)`.
    metadata: dict[str, Any] = {
        "render_modes": ["rgb_array", "depth_array", "rgbd_tuple"],
    }

    def __init__(
        self,
        xml_file: str = "arm5.xml",
        frame_skip: int = 10,
        control_mode: str = "position",
        max_delta: float = 0.1,
        reward_dist_weight: float = 1.0,
        reward_control_weight: float = 0.01,
        success_bonus: float = 0.0,
        success_threshold: float = 0.05,
        reward_fn: Callable[[np.ndarray, np.ndarray, dict[str, Any]], float] | str | None = None,
        reset_noise_scale: float = 0.05,
        random_start_fraction: float = 0.0,
        target_reach_range: tuple[float, float] = (0.25, 0.9),
        ee_site: str = "end_effector",
        joint_names: Sequence[str] | None = None,
        kp: float | Sequence[float] | None = None,
        kv: float | Sequence[float] | None = None,
        torque_limit: float | Sequence[float] | None = None,
        armature: float | Sequence[float] | None = None,
        control_period: float | None = None,
        action_smoothing: float = 0.0,
        max_joint_speed: float | Sequence[float] | None = None,
        randomization: dict[str, Any] | str | None = None,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        camera_name: str | None = None,
        default_camera_config: dict[str, Any] | None = None,
    ) -> None:
        """Builds the model, its actuators and workspace; see the class docstring."""
        utils.EzPickle.__init__(
            self, xml_file, frame_skip, control_mode, max_delta, reward_dist_weight,
            reward_control_weight, success_bonus, success_threshold, reward_fn,
            reset_noise_scale, random_start_fraction, target_reach_range, ee_site, joint_names,
            kp, kv, torque_limit, armature, control_period, action_smoothing, max_joint_speed,
            randomization, render_mode, width, height, camera_name, default_camera_config,
        )  # fmt: skip
        weights = {"reward_dist_weight": reward_dist_weight, "success_bonus": success_bonus,
                   "reward_control_weight": reward_control_weight}  # fmt: skip
        check_args(control_mode, frame_skip, max_delta, success_threshold, reset_noise_scale,
                   weights)  # fmt: skip
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self._reward_dist_weight = float(reward_dist_weight)
        self._reward_control_weight = float(reward_control_weight)
        self._success_bonus = float(success_bonus)
        self._success_threshold = float(success_threshold)
        self._max_delta = float(max_delta)
        self._reset_noise_scale = float(reset_noise_scale)
        self._position_mode = control_mode != "torque"  # both servo modes
        self._absolute = control_mode == "joint_target"
        self._reward_fn = None if reward_fn is None else UserReward(reward_fn)

        self.arm: ArmModel = load_arm(
            xml_file, ee_site=ee_site, joint_names=joint_names,
            control_mode="position" if self._position_mode else "torque",
            kp=kp, kv=kv, torque_limit=torque_limit, armature=armature,
            offscreen_size=(width, height),
        )  # fmt: skip
        frame_skip = servo.servo_frame_skip(self.arm.model.opt.timestep, frame_skip, control_period)
        self.workspace: Workspace = estimate_workspace(self.arm, target_reach_range)
        n = len(self.arm.joint_names)
        if camera_name is None and default_camera_config is None:
            if mujoco.mj_name2id(self.arm.model, mujoco.mjtObj.mjOBJ_CAMERA, "overview") >= 0:
                camera_name = "overview"
            else:
                default_camera_config = self.workspace.framing_camera()
        MujocoEnv.__init__(
            self, str(self.arm.model_path), frame_skip,
            observation_space=spaces.Box(-np.inf, np.inf, shape=(3 * n + 9,), dtype=np.float64),
            render_mode=render_mode, width=width, height=height, camera_name=camera_name,
            default_camera_config=default_camera_config,
        )  # fmt: skip
        fps = 1.0 / self.dt
        self.metadata = {**self.metadata, "render_fps": round(fps) if fps.is_integer() else fps}
        self.init_qpos = self.arm.home_qpos.copy()
        self._smoothing = servo.check_smoothing(action_smoothing)
        self._random_start = servo.check_fraction(random_start_fraction)
        self._scratch = mujoco.MjData(self.model)  # collision checks of random starts
        self._max_step = servo.per_joint_cap(max_joint_speed, n, self.dt)
        self._randomizer = (
            None
            if randomization is None
            else PhysicsRandomizer.for_arm(randomization, self.model, self.arm, self._position_mode)
        )
        self._bind_buffers(n)

    # -- MujocoEnv hooks ---------------------------------------------------------------------

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """Uses the model `load_arm` built (actuators set up) instead of reloading the file."""
        return self.arm.model, mujoco.MjData(self.arm.model)

    def _set_action_space(self) -> spaces.Box:
        """One normalised action per controlled joint."""
        n = len(self.arm.joint_names)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        return self.action_space

    def _bind_buffers(
        self,
        n: int,
        servo_target: np.ndarray | None = None,
        obs: np.ndarray | None = None,
        command: np.ndarray | None = None,
    ) -> None:
        """Caches index slices, MjData views and the servo-target and observation buffers.

        `ArmReachVectorEnv` passes rows of its own `(N, n)` and `(N, 3n + 9)` arrays, so that
        this env's state and the vector env's batched arrays are the same memory.
        """
        self._action_shape = (n,)
        self._qpos_index = contiguous(self.arm.qpos_adr)
        self._qvel_index = contiguous(self.arm.qvel_adr)
        self._actuator_index = contiguous(self.arm.actuator_ids)
        self._qpos, self._qvel, self._ctrl = self.data.qpos, self.data.qvel, self.data.ctrl
        self._ee_xpos = self.data.site_xpos[self.arm.ee_site_id]  # (3,) view, updated in place
        self._range_low = self.arm.joint_range[:, 0].copy()
        self._range_high = self.arm.joint_range[:, 1].copy()
        self._servo_target = np.zeros(n) if servo_target is None else servo_target
        self._command = np.zeros(n) if command is None else command
        self._obs = ObservationBuffer(n, np.zeros(3 * n + 9) if obs is None else obs)
        self._obs_target, self._obs_delta = self._obs.target, self._obs.delta

    # -- Gymnasium API -----------------------------------------------------------------------

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Applies one action for `frame_skip` physics steps; see the class docstring.

        Args:
            action: Shape (n,), each entry in [-1, 1].

        Returns:
            observation (3n + 9,), reward, terminated (always False), truncated (always
            False; the TimeLimit wrapper truncates), info with the reward terms.
        """
        action, values = checked_action(action, self._action_shape)
        randomizer, nstep = self._randomizer, self.frame_skip
        applied = action if randomizer is None else randomizer.delay(action)
        if self._position_mode:
            command = self._servo_command(self._move_servo_targets(applied))
            # the servo works in true angles; the policy's targets are in read angles
            self._ctrl[self._actuator_index] = (
                command if randomizer is None else (command - randomizer.offset)
            )
        else:
            self._ctrl[self._actuator_index] = applied
        if randomizer is not None:
            nstep = randomizer.frame_skip(nstep, self.np_random)
        model, data = self.model, self.data
        mujoco.mj_step(model, data, nstep=nstep)
        # mj_step leaves positions one substep behind qpos; refresh them (about 1 us).
        mujoco.mj_kinematics(model, data)
        observation = self._get_obs()
        # the reward is the true distance, whatever the observation's readings say
        delta = self._obs_delta if randomizer is None else self._obs_target - self._ee_xpos
        dx, dy, dz = delta.tolist()
        # Sums over Python floats: for a handful of joints this beats a numpy call. The vector
        # env computes the same sums in the same order with numpy, so both agree bit for bit.
        reward, info = self._reward_terms(
            math.sqrt(dx * dx + dy * dy + dz * dz), sum(map(operator.mul, values, values))
        )
        if self._reward_fn is not None:
            reward = self._reward_fn(observation, action, info)
            info["reward_custom"] = reward
        return observation, reward, False, False, info

    def reset_model(self) -> np.ndarray:
        """Home pose plus uniform noise, at rest; a new target from the workspace."""
        qpos = self.init_qpos.copy()
        noise = self.np_random.uniform(
            -self._reset_noise_scale, self._reset_noise_scale, size=len(self._range_low)
        )
        start = np.clip(qpos[self.arm.qpos_adr] + noise, self._range_low, self._range_high)
        if self._random_start and self.np_random.random() < self._random_start:
            pose = sample_start_pose(self.arm, self._scratch, self.np_random)
            start = start if pose is None else pose
        qpos[self.arm.qpos_adr] = start
        target = self.workspace.sample(self.np_random)
        self._obs_target[:] = target
        self.data.mocap_pos[self.arm.target_mocap_id] = target
        self._ctrl[:] = self.arm.home_ctrl
        read_start = start
        if self._randomizer is not None:  # a new arm; its targets start at its read angles
            self._draws = self._randomizer.draw(self.np_random)
            read_start = start + self._randomizer.offset
        self._servo_target[:] = read_start
        self._command[:] = read_start
        self._ctrl[self._actuator_index] = start if self._position_mode else 0.0
        self.set_state(qpos, np.zeros(self.model.nv))
        return self._get_obs()

    def _get_reset_info(self) -> dict[str, Any]:
        """Distance and success at the start, so that loggers see them from step 0."""
        randomizer = self._randomizer
        delta = self._obs_delta if randomizer is None else self._obs_target - self._ee_xpos
        dx, dy, dz = delta.tolist()
        distance = math.sqrt(dx * dx + dy * dy + dz * dz)  # as in `step`
        info: dict[str, Any] = {
            "distance": distance,
            "is_success": distance < self._success_threshold,
        }
        if randomizer is not None:
            info["randomization"] = self._draws
        return info

    # -- helpers -----------------------------------------------------------------------------

    @property
    def target_position(self) -> np.ndarray:
        """Current target position (m), world frame. Shape (3,)."""
        return self._obs_target.copy()

    @property
    def end_effector_position(self) -> np.ndarray:
        """End-effector position (m) after the last step or reset. Shape (3,)."""
        return self._ee_xpos.copy()

    def _get_obs(self) -> np.ndarray:
        """Writes the observation into the preallocated buffer and returns a copy."""
        angles, qvel, ee = self._qpos[self._qpos_index], self._qvel[self._qvel_index], self._ee_xpos
        if self._randomizer is not None and self._randomizer.reads_differ:
            angles = self._randomizer.read_angles(angles, self.np_random)
            ee = self._randomizer.fingertip(self._qpos, angles)
            qvel = self._randomizer.read_velocity(angles, self.dt)
        self._obs.write(angles, qvel, ee)
        return self._obs.array.copy()
