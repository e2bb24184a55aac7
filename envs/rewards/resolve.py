"""Import paths for rewards named in configs: ``"package.module:function"``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

_FORMAT = "'package.module:function' or 'package.module:Class.attribute'"


def resolve_callable(spec: str | Callable[..., Any]) -> Callable[..., Any]:
    """Returns `spec` itself if it is callable, else the callable its import path names.

    Args:
        spec: A callable, or an import path ``"package.module:function"`` (the part after the
            colon may be dotted, ``"package.module:Class.attribute"``).

    Returns:
        The callable.

    Raises:
        ValueError: Naming `spec`, when the string is malformed, its module cannot be found,
            an attribute is missing, or the object found is not callable.
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"expected a callable or an import path {_FORMAT}, got {spec!r}")
    module_name, colon, attribute_path = spec.partition(":")
    parts = module_name.split(".") + attribute_path.split(".")
    if not colon or not all(part.isidentifier() for part in parts):
        raise ValueError(f"malformed import path {spec!r}: expected {_FORMAT}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only a missing `module_name` (or a parent package) is the caller's mistake; a
        # module that exists but fails on its own imports should show its real error.
        missing = error.name or ""
        if missing != module_name and not module_name.startswith(missing + "."):
            raise
        raise ValueError(f"cannot import module {module_name!r} named in {spec!r}") from error
    for depth, part in enumerate(attribute_path.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError as error:
            owner = ".".join([module_name, *attribute_path.split(".")[:depth]])
            raise ValueError(f"{owner!r} has no attribute {part!r} (from {spec!r})") from error
    if not callable(obj):
        raise ValueError(f"{spec!r} names a {type(obj).__name__}, which is not callable")
    return obj


def check_call_signature(
    function: Callable[..., Any], arguments: Sequence[str], label: str
) -> None:
    """Checks, when an env is built, that `function` can be called with `arguments`.

    A reward function is called at every step; a wrong signature found there would stop a
    run after its set-up, as a TypeError far from the config that named the function.

    Args:
        function: The callable.
        arguments: The names of the positional arguments it will be given.
        label: How errors name the function (e.g. ``"reward_fn my_rewards:shaped"``).

    Raises:
        ValueError: Naming `label`, the arguments it must take and the signature it has.
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature: checked when called
        return
    try:
        signature.bind(*arguments)
    except TypeError as error:
        raise ValueError(
            f"{label} must take ({', '.join(arguments)}), but its signature is {signature} "
            f"({error})"
        ) from error
