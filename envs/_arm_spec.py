"""Reading a user's arm from MJCF or URDF into an `mujoco.MjSpec` that `load_arm` can finish.

MuJoCo reads both formats, but a URDF arrives bare: MuJoCo's URDF import fuses links attached
by fixed joints into their parents (`fusestatic`), keeps only collision geometry, adds no
actuators, no floor and no light. So here:

- the end effector may be a site (MJCF) or a link (URDF; a body in MJCF): a link gets a site
  at its frame origin before compiling, so a fused fixed link (a URDF's `tool0` or
  `gripperframe`) keeps its place on the parent it was fused into;
- a URDF gets a floor plane at z = 0 (the table the workspace assumes) and a light;
- `load_arm` then adds a position actuator per controlled joint, gains from the config;
- what MuJoCo cannot read or compile is one `ValueError` line naming the file, with a hint
  for the usual URDF causes (a `package://` mesh path, a mesh that is not beside the file).
"""

from __future__ import annotations

from pathlib import Path

import mujoco


def model_kind(path: Path) -> str:
    """ "URDF" for a `.urdf` file, else "MJCF"."""
    return "URDF" if path.suffix.lower() == ".urdf" else "MJCF"


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(error).__name__


def _hint(message: str, kind: str) -> str:
    """A hint for the URDF problems MuJoCo reports only as a file it could not open."""
    if kind != "URDF":
        return ""
    if "package:" in message:
        return (
            "; MuJoCo does not resolve package:// paths: write mesh paths relative to the "
            "URDF file (or set <mujoco><compiler meshdir=.../></mujoco> in it)"
        )
    if "opening file" in message.lower() or "resource not found" in message.lower():
        return (
            "; MuJoCo keeps only a mesh's file name from a URDF (strippath): put the meshes "
            "beside the URDF or name their folder with <mujoco><compiler meshdir=.../></mujoco>"
        )
    return ""


def compile_error(error: BaseException, path: Path) -> ValueError:
    """The one-line `ValueError` for a model MuJoCo could not read or compile."""
    kind = model_kind(path)
    message = _first_line(error)
    return ValueError(f"could not load {kind} {path}: {message}{_hint(message, kind)}")


def read_spec(path: Path, ee_site: str) -> mujoco.MjSpec:
    """Parses an MJCF or URDF file and prepares it for `load_arm` (see the module docstring).

    Raises:
        ValueError: The file does not parse (one line, naming it).
    """
    try:
        spec = mujoco.MjSpec.from_file(str(path))
    except ValueError as error:
        raise compile_error(error, path) from error
    if model_kind(path) == "URDF":
        _dress_urdf(spec)
    _site_for_link(spec, ee_site)
    return spec


def _site_for_link(spec: mujoco.MjSpec, name: str) -> None:
    """Adds a site named `name` at the frame of the body (link) `name` if no site has it."""
    if any(site.name == name for site in spec.sites):
        return
    body = next((b for b in spec.bodies if b.name == name), None)
    if body is not None and body is not spec.worldbody:
        # a marker only: it must not change the body's mass or collide
        body.add_site(name=name, pos=[0.0, 0.0, 0.0], size=[0.01, 0, 0], rgba=[0.1, 0.8, 0.2, 1])


def _dress_urdf(spec: mujoco.MjSpec) -> None:
    """A floor at z = 0 and a light, which a URDF never has."""
    has_plane = any(geom.type == mujoco.mjtGeom.mjGEOM_PLANE for geom in spec.geoms)
    if not has_plane:
        spec.worldbody.add_geom(
            name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[1.0, 1.0, 0.05],
            rgba=[0.8, 0.78, 0.74, 1.0],
        )  # fmt: skip
    if not spec.lights:
        spec.worldbody.add_light(name="key", pos=[0.4, -0.6, 1.4], dir=[-0.3, 0.5, -1.0])
