"""Checkpoints for every command: atomic, and safe to open when downloaded.

Layout of a run folder's checkpoint::

    RUN/checkpoint.json                 the manifest: format, step, and the folder it names
    RUN/checkpoints/step-000000120/     one complete checkpoint
        state.json                      the state tree (numbers, strings, lists, dicts)
        tensors.safetensors             every tensor and array the tree refers to
        ...                             files a component wrote itself (a DeepSpeed engine's)

**Atomic.** A checkpoint is written into a temporary folder, every file and the folder are
fsynced, the folder is renamed into place, and only then is the manifest replaced (write
aside, fsync, ``os.replace``). A crash or kill at any moment leaves the manifest naming the
previous complete checkpoint; older step folders are removed after the switch.

**Several processes.** Under ``torch.distributed`` (DeepSpeed on N ranks) every rank calls
:func:`save_checkpoint` together: one folder, each rank's own shards in it, rank 0 the rest.

**Safe.** Nothing is unpickled: the tree is JSON and the tensors are safetensors, so opening a
checkpoint from a stranger runs no code. What cannot be written that way (an arbitrary
object) is refused when saving, not discovered when loading.

The tree may hold dicts, lists, tuples, str, int, float, bool, None, bytes, torch tensors and
numpy arrays; tuples, non-string keys, bytes and arrays come back as they went in.

Exact resumption also needs the environments' state (:func:`env_snapshot`). A vector env with
its own ``get_sim_state() -> dict`` and ``set_sim_state(dict)`` (``ArmReachVectorEnv``)
snapshots itself. For a ``SyncVectorEnv`` whose sub-envs implement them (ArmReach does), the
snapshot holds each sub-env's simulator state, its ``np_random`` state and the plain scalar
attributes of every wrapper (``TimeLimit``'s step counter, ...). Other envs resume from a
fresh seeded reset instead, and :func:`env_snapshot` says so by returning None.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from safetensors.torch import load_file, save_file

from agents import ranks

MANIFEST = "checkpoint.json"
FOLDER = "checkpoints"
STATE_FILE = "state.json"
TENSOR_FILE = "tensors.safetensors"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, incomplete, of another kind, or not ours."""


class Checkpointable(Protocol):
    """A part of a run that saves and restores itself inside a checkpoint.

    ``checkpoint_state`` returns a tree (see the module docstring) and may also write files of
    its own into ``directory`` (the checkpoint being written); ``restore_checkpoint`` gets the
    same tree and folder back.
    """

    def checkpoint_state(self, directory: Path) -> Any: ...

    def restore_checkpoint(self, directory: Path, state: Any) -> None: ...


# -- the tree <-> JSON + tensors ------------------------------------------------------------


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        # clone: safetensors refuses tensors that share storage (a flat parameter's views)
        tensors[key] = value.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot checkpoint a numpy array of dtype {value.dtype}")
        key = f"t{len(tensors)}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
        return {"__ndarray__": key}
    if isinstance(value, np.generic):
        return _encode(value.item(), tensors)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item, tensors) for item in value]}
    if isinstance(value, list):
        return [_encode(item, tensors) for item in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        return {"__dict__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    raise TypeError(f"cannot checkpoint a {type(value).__name__} (only plain data and tensors)")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(item, tensors) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "__tensor__":
            return tensors[inner]
        if tag == "__ndarray__":
            return tensors[inner].numpy()
        if tag == "__tuple__":
            return tuple(_decode(item, tensors) for item in inner)
        if tag == "__bytes__":
            return base64.b64decode(inner)
        if tag == "__dict__":
            return {_hashable(_decode(k, tensors)): _decode(v, tensors) for k, v in inner}
    return {k: _decode(v, tensors) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_tree(directory: Path, tree: Any) -> None:
    """Write ``tree`` as ``state.json`` + ``tensors.safetensors`` into ``directory``."""
    tensors: dict[str, torch.Tensor] = {}
    encoded = _encode(tree, tensors)
    save_file(tensors, str(directory / TENSOR_FILE))
    (directory / STATE_FILE).write_text(json.dumps(encoded))


def read_tree(directory: Path) -> Any:
    """Read what :func:`write_tree` wrote (tensors on the CPU)."""
    try:
        tensors = load_file(str(directory / TENSOR_FILE))
        return _decode(json.loads((directory / STATE_FILE).read_text()), tensors)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{directory} is not a readable checkpoint: {err}") from err
    except Exception as err:  # noqa: BLE001 - safetensors' own errors (a bad header, ...)
        raise CheckpointError(f"{directory} is not a readable checkpoint: {err}") from err


# -- the run folder's checkpoint ------------------------------------------------------------


def save_checkpoint(
    run_dir: str | Path, step: int, tree: Any, parts: dict[str, Checkpointable] | None = None
) -> Path:
    """Write one checkpoint of ``run_dir`` atomically; returns its folder.

    In a run of several processes (a ``torch.distributed`` group) every rank calls this at the
    same point: rank 0 picks the folder, every rank's parts write into it (a DeepSpeed engine
    writes its own shards), rank 0 alone writes the tree and switches the manifest, and
    barriers keep the others from going on before the checkpoint is whole.

    Args:
        run_dir: the run folder (shared by every rank).
        step: what the checkpoint is of (an iteration or step count), named in the manifest.
        tree: the loop's own state (see the module docstring for what it may hold).
        parts: components that save themselves (:class:`Checkpointable`), each under its
            name in the tree and, for its own files, in a subfolder of that name.
    """
    run_dir, main = Path(run_dir), ranks.rank() == 0
    folder = run_dir / FOLDER
    # a new name every time, so the folder the manifest names now is never touched
    name = ranks.broadcast(f"step-{step:09d}-{uuid.uuid4().hex[:8]}")
    tmp = folder / f".{name}.tmp"
    if main:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        for part_name in parts or {}:
            (tmp / part_name).mkdir()
    ranks.barrier()  # the folders exist before any rank writes into them
    full = {"loop": tree, "parts": {}}
    for part_name, part in (parts or {}).items():
        full["parts"][part_name] = part.checkpoint_state(tmp / part_name)
    if main:  # every rank holds the same tree; one writes it
        write_tree(tmp, full)
    for path in sorted(tmp.rglob("*")):  # each rank flushes what it wrote (and the rest)
        if path.is_file():
            _fsync(path)
    ranks.barrier()  # every rank's files are on disk
    if main:
        _switch(run_dir, step, name)
    ranks.barrier()  # no rank goes on (or reads the manifest) before the switch
    return folder / name


def _switch(run_dir: Path, step: int, name: str) -> None:
    """Move the written folder ``name`` into place, then point the manifest at it."""
    folder, tmp = run_dir / FOLDER, run_dir / FOLDER / f".{name}.tmp"
    for path in sorted((p for p in tmp.rglob("*") if p.is_dir()), reverse=True):
        _fsync(path)
    _fsync(tmp)
    final = folder / name
    os.replace(tmp, final)
    _fsync(folder)
    manifest = {"format": FORMAT, "step": step, "path": f"{FOLDER}/{name}"}
    manifest_tmp = run_dir / f".{MANIFEST}.tmp"
    with open(manifest_tmp, "w") as handle:
        json.dump(manifest, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(manifest_tmp, run_dir / MANIFEST)
    _fsync(run_dir)
    for stale in folder.iterdir():  # everything but the checkpoint the manifest now names
        if stale.name != name:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` has a checkpoint manifest."""
    return (Path(run_dir) / MANIFEST).is_file()


def checkpoint_folder(run_dir: str | Path) -> tuple[int, Path]:
    """The step and folder the manifest of ``run_dir`` names.

    Raises:
        CheckpointError: no manifest, a malformed one, or one naming a folder outside
            ``run_dir/checkpoints`` or one that is missing.
    """
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST
    if not path.is_file():
        legacy = [name for name in ("checkpoint.pt", "ppo_state.pt") if (run_dir / name).exists()]
        if legacy:
            raise CheckpointError(
                f"{run_dir} holds a checkpoint in the old pickle format ({legacy[0]}), which "
                "is not loaded because unpickling can run code: start afresh (--fresh)"
            )
        raise CheckpointError(f"no checkpoint in {run_dir} (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
        step, relative = int(manifest["step"]), str(manifest["path"])
        version = manifest.get("format")
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path} is not a checkpoint manifest: {err}") from err
    if version != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {version!r}")
    folder = (run_dir / relative).resolve()
    if folder.parent != (run_dir / FOLDER).resolve():
        raise CheckpointError(f"{path} names {relative!r}, outside {run_dir / FOLDER}")
    if not folder.is_dir():
        raise CheckpointError(f"{path} names {relative!r}, which is missing")
    return step, folder


def read_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """The whole tree of ``run_dir``'s checkpoint: ``{"loop": ..., "parts": {name: ...}}``.

    Raises:
        CheckpointError: as :func:`checkpoint_folder`, or not a checkpoint of ours.
    """
    return _read_checkpoint_tree(checkpoint_folder(run_dir)[1])


def _read_checkpoint_tree(folder: Path) -> dict[str, Any]:
    full = read_tree(folder)
    if not isinstance(full, dict) or "loop" not in full or "parts" not in full:
        raise CheckpointError(f"{folder} is not an rlhf-gym checkpoint")
    return full


def load_checkpoint(run_dir: str | Path, parts: dict[str, Checkpointable] | None = None) -> Any:
    """Read the checkpoint of ``run_dir``, restore ``parts`` from it, return the loop's tree.

    Raises:
        CheckpointError: as :func:`checkpoint_folder`, or a part missing from the checkpoint.
    """
    # the manifest once: the tree and the parts' own files come from the same folder
    _, folder = checkpoint_folder(run_dir)
    full = _read_checkpoint_tree(folder)
    for name, part in (parts or {}).items():
        if name not in full["parts"]:
            raise CheckpointError(f"{folder} has no {name!r} (saved by another kind of run?)")
        part.restore_checkpoint(folder / name, full["parts"][name])
    return full["loop"]


def remove_checkpoint(run_dir: str | Path) -> None:
    """Forget ``run_dir``'s checkpoint (a fresh start): the manifest first, then the folders."""
    run_dir = Path(run_dir)
    (run_dir / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(run_dir / FOLDER, ignore_errors=True)


def load_state_dict_strict(module: torch.nn.Module, state: dict[str, Any], what: str) -> None:
    """``module.load_state_dict(state)`` with a one-line error for a checkpoint that does not
    fit (another arm's sizes, a missing or extra key)."""
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) or first[0]
        raise CheckpointError(f"{what} does not fit this model: {detail}") from err


# -- random number generators ---------------------------------------------------------------


def capture_rng() -> dict[str, Any]:
    """The global Python, NumPy, torch (and CUDA, where present) RNG states."""
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# -- environments ---------------------------------------------------------------------------


def _wrapper_scalars(env: gym.Env) -> list[dict[str, Any]]:
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append({k: v for k, v in vars(env).items() if isinstance(v, (bool, int, float))})
        env = env.env
    return chain


def env_snapshot(env: gym.vector.VectorEnv) -> dict[str, Any] | None:
    """The state of a snapshot-able vector env (see the module docstring), or None."""
    if callable(getattr(env, "get_sim_state", None)):
        return {"vector": env.get_sim_state()}
    if not isinstance(env, gym.vector.SyncVectorEnv):
        return None
    subs = []
    for sub in env.envs:
        base = sub.unwrapped
        if not hasattr(base, "get_sim_state"):
            return None
        subs.append(
            {
                "sim": base.get_sim_state(),
                "np_random": base.np_random.bit_generator.state,
                "wrappers": _wrapper_scalars(sub),
            }
        )
    return {"subs": subs, "autoreset": env._autoreset_envs.copy()}


def restore_env_snapshot(env: gym.vector.VectorEnv, snapshot: dict[str, Any]) -> bool:
    """Put ``env`` (built with the same config) back into the snapshot's state.

    Returns False, changing nothing, when ``env`` is not the kind of vector env the snapshot
    was taken from (e.g. a run saved with ``vectorization=sync`` resumed with ``native``).
    """
    if "vector" in snapshot:
        if not callable(getattr(env, "set_sim_state", None)):
            return False
        env.set_sim_state(snapshot["vector"])
        return True
    if not isinstance(env, gym.vector.SyncVectorEnv):
        return False
    if len(snapshot["subs"]) != len(env.envs):
        raise ValueError(f"snapshot has {len(snapshot['subs'])} envs, env has {len(env.envs)}")
    for sub, saved in zip(env.envs, snapshot["subs"], strict=True):
        wrapper = sub
        for scalars in saved["wrappers"]:
            for key, value in scalars.items():
                setattr(wrapper, key, value)
            wrapper = wrapper.env
        base = sub.unwrapped
        base.np_random.bit_generator.state = saved["np_random"]
        base.set_sim_state(saved["sim"])
    env._autoreset_envs = snapshot["autoreset"].copy()
    return True
