"""Loading an arm MJCF for `ArmReachEnv`: joints, actuators, target body and reachable workspace.

Everything here runs once per environment construction, so clarity wins over speed. Only
numpy and mujoco are imported (envs/ never imports torch, see DESIGN.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from envs._arm_spec import compile_error, read_spec

ASSET_DIR = Path(__file__).resolve().parent / "assets"
TARGET_BODY = "target"
# The table is the plane z = 0; targets stay this high above it so that the hand can reach
# them without pushing through the table (the hand capsule has a 0.015 m radius).
TARGET_MIN_HEIGHT = 0.03
# Plain ints: model arrays hold numpy ints, which `in` does not match against mujoco enums.
_HINGE = int(mujoco.mjtJoint.mjJNT_HINGE)
_JOINT_TRANSMISSIONS = (int(mujoco.mjtTrn.mjTRN_JOINT), int(mujoco.mjtTrn.mjTRN_JOINTINPARENT))


@dataclass(frozen=True)
class ArmModel:
    """A compiled arm model with the indices `ArmReachEnv` needs.

    Attributes:
        model: The compiled model, actuators already set up for the control mode.
        model_path: The MJCF file it came from.
        joint_names: Controlled hinge joints, in model order. Shape (n,).
        qpos_adr: Address of each controlled joint in `qpos`. Shape (n,).
        qvel_adr: Address of each controlled joint in `qvel`. Shape (n,).
        actuator_ids: The actuator that drives each controlled joint. Shape (n,).
        joint_range: Lower and upper angle of each joint (radians); [-pi, pi] for a joint
            without limits. Shape (n, 2).
        ee_site_id: Id of the end-effector site.
        target_mocap_id: Mocap index of the target body.
        home_qpos: Full `qpos` of the home pose (keyframe "home", else `qpos0`). Shape (nq,).
        home_ctrl: Full `ctrl` of the keyframe "home", else zeros. Shape (nu,).
        torque_limit: Joint torque limit per joint (N m), or None where none is known.
    """

    model: mujoco.MjModel
    model_path: Path
    joint_names: tuple[str, ...]
    qpos_adr: np.ndarray
    qvel_adr: np.ndarray
    actuator_ids: np.ndarray
    joint_range: np.ndarray
    ee_site_id: int
    target_mocap_id: int
    home_qpos: np.ndarray
    home_ctrl: np.ndarray
    torque_limit: tuple[float | None, ...]


def resolve_xml_path(xml_file: str | Path) -> Path:
    """Finds an MJCF or URDF file: a path as given, else a bare file name among the bundled assets.

    Raises:
        FileNotFoundError: Naming the file and the places looked at.
    """
    path = Path(xml_file).expanduser()
    if path.is_file():
        return path.resolve()
    bundled = ASSET_DIR / path.name
    if path.parent == Path(".") and bundled.is_file():
        return bundled
    raise FileNotFoundError(
        f"arm model file {str(xml_file)!r} not found "
        f"(looked at {path.resolve()} and in {ASSET_DIR})"
    )


def _per_joint(name: str, value: float | Sequence[float] | None, n: int) -> list[float | None]:
    """Broadcasts a scalar or checks a per-joint sequence of positive numbers."""
    if value is None:
        return [None] * n
    values = [float(value)] * n if np.isscalar(value) else [float(v) for v in value]
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values, expected one per joint ({n})")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return values


def _select_joints(
    model: mujoco.MjModel, joint_names: Sequence[str] | None, file_name: str
) -> list[int]:
    """Joint ids to control: the named ones, else actuated hinges, else every hinge."""
    hinges = [j for j in range(model.njnt) if int(model.jnt_type[j]) == _HINGE]
    hinge_names = [model.joint(j).name for j in hinges]
    if joint_names is None:
        actuated = {
            int(model.actuator_trnid[a, 0])
            for a in range(model.nu)
            if int(model.actuator_trntype[a]) in _JOINT_TRANSMISSIONS
        }
        chosen = [j for j in hinges if j in actuated] or hinges
        if not chosen:
            raise ValueError(f"{file_name} has no hinge joints to control")
        return chosen
    if isinstance(joint_names, str) or len(joint_names) == 0:
        raise ValueError(f"joint_names must be a non-empty sequence of names, got {joint_names!r}")
    if len(set(joint_names)) != len(joint_names):
        raise ValueError(f"joint_names has duplicates: {list(joint_names)}")
    ids = []
    for name in joint_names:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise ValueError(
                f"joint {name!r} not found in {file_name}; hinge joints: {hinge_names}"
            )
        if int(model.jnt_type[jid]) != _HINGE:
            raise ValueError(f"joint {name!r} in {file_name} is not a hinge joint")
        ids.append(jid)
    return ids


def _model_gains(
    model: mujoco.MjModel, actuator: int, joint: int
) -> tuple[float | None, float | None, float | None]:
    """(kp, kv, torque limit) in joint units that the model's own actuator implies, or None."""
    if actuator < 0:
        limit = None
        if model.jnt_actfrclimited[joint]:
            limit = float(np.abs(model.jnt_actfrcrange[joint]).max())
        return None, None, limit or None
    gear = float(model.actuator_gear[actuator, 0])
    gain = model.actuator_gainprm[actuator]
    bias = model.actuator_biasprm[actuator]
    kp = kv = None
    is_servo = (
        int(model.actuator_gaintype[actuator]) == int(mujoco.mjtGain.mjGAIN_FIXED)
        and int(model.actuator_biastype[actuator]) == int(mujoco.mjtBias.mjBIAS_AFFINE)
        and gain[0] > 0
        and math.isclose(bias[1], -gain[0])
    )
    if is_servo:  # force = kp * (ctrl - gear * q) - kv * gear * qdot, torque = gear * force
        kp, kv = float(gain[0] * gear**2), float(-bias[2] * gear**2)
    limit = None
    if model.actuator_forcelimited[actuator]:
        limit = float(np.abs(model.actuator_forcerange[actuator]).max() * abs(gear))
    elif model.jnt_actfrclimited[joint]:
        limit = float(np.abs(model.jnt_actfrcrange[joint]).max())
    return kp, kv, limit or None


def _resolve_gains(
    model: mujoco.MjModel,
    actuator: int,
    joint: int,
    control_mode: str,
    given: tuple[float | None, float | None, float | None],
    file_name: str,
) -> tuple[float | None, float | None, float | None]:
    """(kp, kv, torque limit) for one joint: the arguments, else the model's, else an error."""
    name = model.joint(joint).name
    model_kp, model_kv, model_limit = _model_gains(model, actuator, joint)
    kp = given[0] or model_kp
    limit = given[2] or model_limit
    if control_mode == "position" and kp is None:
        raise ValueError(
            f"joint {name!r} in {file_name} has no position servo to take kp from; "
            "pass kp= for control_mode='position'"
        )
    if control_mode == "torque" and limit is None:
        raise ValueError(
            f"joint {name!r} in {file_name} has no actuator forcerange or joint "
            "actuatorfrcrange to take a torque limit from; pass torque_limit="
        )
    kv = given[1]
    if kv is None and kp is not None:
        if model_kv is not None and given[0] is None:
            kv = model_kv  # the model's own servo, kept as written
        else:  # critical damping about the home pose
            kv = 2.0 * math.sqrt(kp * model.dof_M0[model.jnt_dofadr[joint]])
    return kp, kv, limit


def _set_actuator(
    act: mujoco.MjsActuator,
    control_mode: str,
    joint_range: np.ndarray,
    kp: float | None,
    kv: float | None,
    limit: float | None,
) -> None:
    """Rewrites one actuator as a position servo or as a motor (joint transmission, gear 1).

    Position: force = kp * (ctrl - q) - kv * qdot, ctrl in radians within the joint range.
    Torque: force = limit * ctrl, ctrl in [-1, 1].
    """
    act.gear = [1.0, 0, 0, 0, 0, 0]
    act.dyntype = mujoco.mjtDyn.mjDYN_NONE
    act.dynprm = np.zeros(10)
    act.actlimited = mujoco.mjtLimited.mjLIMITED_FALSE
    act.inheritrange = 0
    act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
    act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    gain, bias = np.zeros(10), np.zeros(10)
    if control_mode == "position":
        gain[0], bias[1], bias[2] = kp, -kp, -kv
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.ctrlrange = joint_range
    else:
        gain[0] = limit
        act.biastype = mujoco.mjtBias.mjBIAS_NONE
        act.ctrlrange = [-1.0, 1.0]
    act.gainprm, act.biasprm = gain, bias
    if limit is None:
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_FALSE
    else:
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-limit, limit]


def _ensure_target(spec: mujoco.MjSpec, file_name: str) -> None:
    """Adds a mocap target body with a non-colliding sphere when the model has none."""
    body = next((b for b in spec.bodies if b.name == TARGET_BODY), None)
    if body is None:
        body = spec.worldbody.add_body(name=TARGET_BODY, mocap=True, pos=[0.3, 0.0, 0.2])
        body.add_geom(
            name=TARGET_BODY,
            type=mujoco.mjtGeom.mjGEOM_SPHERE,
            size=[0.02, 0, 0],
            rgba=[0.9, 0.1, 0.1, 0.6],
        )
    elif not body.mocap:
        raise ValueError(f"body {TARGET_BODY!r} in {file_name} must be a mocap body")
    for geom in body.geoms:  # the target is only drawn, it never touches anything
        geom.contype = 0
        geom.conaffinity = 0


def load_arm(
    xml_file: str | Path,
    *,
    ee_site: str,
    joint_names: Sequence[str] | None,
    control_mode: str,
    kp: float | Sequence[float] | None = None,
    kv: float | Sequence[float] | None = None,
    torque_limit: float | Sequence[float] | None = None,
    armature: float | Sequence[float] | None = None,
    offscreen_size: tuple[int, int] = (480, 480),
) -> ArmModel:
    """Loads an MJCF or URDF arm and sets up one actuator per controlled joint.

    `ee_site` names a site, or a link (body) that gets a site at its origin
    (`envs._arm_spec`). Joints without an actuator get one (a URDF has none), and a mocap
    body named "target" is added if missing, so that any arm model works. Gains not given
    fall back to the model's own position servo (kp, kv) and force range (torque limit); kv
    falls back to critical damping about the home pose, 2 * sqrt(kp * M_ii). `armature`
    (kg m^2, per joint) replaces the joints' own, which a URDF cannot state.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file does not compile, lacks the site (or link) or a joint, or a gain the
            control mode needs is neither given nor in the model.
    """
    path = resolve_xml_path(xml_file)
    spec = read_spec(path, ee_site)
    try:
        model = spec.compile()
    except ValueError as error:
        raise compile_error(error, path) from error
    if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, ee_site) < 0:
        sites = [model.site(i).name for i in range(model.nsite)]
        bodies = [model.body(i).name for i in range(1, model.nbody)]
        raise ValueError(
            f"end effector {ee_site!r} not found in {path.name}: no site or link (body) has "
            f"that name; sites: {sites}, links: {bodies}"
        )
    joint_ids = _select_joints(model, joint_names, path.name)
    names = tuple(model.joint(j).name for j in joint_ids)
    if armature is not None:  # before the gains: critical damping depends on it
        for name, value in zip(names, _per_joint("armature", armature, len(names)), strict=True):
            spec.joint(name).armature = value
        try:
            model = spec.compile()
        except ValueError as error:
            raise compile_error(error, path) from error
    joint_range = np.array(
        [model.jnt_range[j] if model.jnt_limited[j] else (-np.pi, np.pi) for j in joint_ids]
    )
    first_actuator = {}
    for a in reversed(range(model.nu)):
        if int(model.actuator_trntype[a]) in _JOINT_TRANSMISSIONS:
            first_actuator[int(model.actuator_trnid[a, 0])] = a
    n = len(joint_ids)
    kp_arg, kv_arg = _per_joint("kp", kp, n), _per_joint("kv", kv, n)
    limit_arg = _per_joint("torque_limit", torque_limit, n)
    limits = []
    for i, (jid, name) in enumerate(zip(joint_ids, names, strict=True)):
        a = first_actuator.get(jid, -1)
        act = spec.actuators[a] if a >= 0 else spec.add_actuator(name=f"{name}_actuator")
        act.target, act.trntype = name, mujoco.mjtTrn.mjTRN_JOINT
        joint_kp, joint_kv, limit = _resolve_gains(
            model, a, jid, control_mode, (kp_arg[i], kv_arg[i], limit_arg[i]), path.name
        )
        limits.append(limit)
        _set_actuator(act, control_mode, joint_range[i], joint_kp, joint_kv, limit)
    _ensure_target(spec, path.name)
    try:
        model = spec.compile()
    except ValueError as error:
        raise compile_error(error, path) from error
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, offscreen_size[0])
    model.vis.global_.offheight = max(model.vis.global_.offheight, offscreen_size[1])
    return _index_model(model, path, names, joint_range, ee_site, tuple(limits))


def _index_model(
    model: mujoco.MjModel,
    path: Path,
    names: tuple[str, ...],
    joint_range: np.ndarray,
    ee_site: str,
    limits: tuple[float | None, ...],
) -> ArmModel:
    """Collects the addresses and ids of a compiled model into an `ArmModel`."""
    joint_ids = [model.joint(name).id for name in names]
    actuator_ids = []
    for jid in joint_ids:
        for a in range(model.nu):
            if model.actuator_trnid[a, 0] == jid and (
                int(model.actuator_trntype[a]) in _JOINT_TRANSMISSIONS
            ):
                actuator_ids.append(a)
                break
    key = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home")
    home = (model.key_qpos[key] if key >= 0 else model.qpos0).copy()
    qpos_adr = model.jnt_qposadr[joint_ids].astype(np.intp)
    home[qpos_adr] = np.clip(home[qpos_adr], joint_range[:, 0], joint_range[:, 1])
    return ArmModel(
        model=model,
        model_path=path,
        joint_names=names,
        qpos_adr=qpos_adr,
        qvel_adr=model.jnt_dofadr[joint_ids].astype(np.intp),
        actuator_ids=np.asarray(actuator_ids, dtype=np.intp),
        joint_range=joint_range,
        ee_site_id=model.site(ee_site).id,
        target_mocap_id=int(model.body_mocapid[model.body(TARGET_BODY).id]),
        home_qpos=home,
        home_ctrl=(model.key_ctrl[key] if key >= 0 else np.zeros(model.nu)).copy(),
        torque_limit=limits,
    )


def contiguous(indices: np.ndarray) -> slice | np.ndarray:
    """A slice when `indices` are consecutive and increasing (views, fast writes), else them."""
    start = int(indices[0])
    if np.array_equal(indices, np.arange(start, start + len(indices))):
        return slice(start, start + len(indices))
    return indices
