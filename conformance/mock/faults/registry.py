"""The registry of the mock's named faults: `FAULTS`, the `@fault` decorator that fills it, and
the hook points a fault may patch (`hook`, `post`, `replace`). The faults themselves are the
other modules of this package (conformance/mock/faults/__init__.py lists how to add one)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conformance.mock import errors as errors_module
from conformance.mock import shaping, store, validation


@dataclass(frozen=True)
class Fault:
    name: str
    category: str
    description: str
    apply: Callable  # apply(parts: AppParts) -> None


FAULTS: dict[str, Fault] = {}


class UnknownFault(ValueError):
    pass


def fault(name: str, category: str, description: str):
    def register(func):
        if name in FAULTS:
            raise RuntimeError(f"duplicate fault {name}")
        FAULTS[name] = Fault(name, category, description, func)
        return func
    return register


def resolve_faults(names: Iterable[str | Fault]) -> list[Fault]:
    out = []
    for item in names or ():
        if isinstance(item, Fault):
            out.append(item)
            continue
        if item not in FAULTS:
            raise UnknownFault(f"unknown fault {item!r}; known faults: {', '.join(FAULTS)}")
        out.append(FAULTS[item])
    return out


def apply_faults(parts, faults: Iterable[Fault]) -> None:
    for f in faults:
        f.apply(parts)


#: part name in AppParts -> its hook points
HOOK_POINTS = {"store": store.HOOKS, "shaper": shaping.HOOKS, "errors": errors_module.HOOKS,
               "validator": validation.HOOKS, "auth": ("resolve",),
               "webhooks": ("event_for",)}


def hook(parts, part: str, name: str, make: Callable[[Callable], Callable]) -> None:
    """Replace hook point `name` of `parts.<part>` by `make(original)`."""
    if name not in HOOK_POINTS[part]:
        raise ValueError(f"{part}.{name} is not a hook point ({', '.join(HOOK_POINTS[part])})")
    obj = getattr(parts, part)
    original = getattr(obj, name)
    setattr(obj, name, functools.wraps(original)(make(original)))


def post(parts, part: str, name: str, after: Callable) -> None:
    """Run `after(result)` on the result of the hook and return what it returns."""
    hook(parts, part, name, lambda orig: lambda *a, **k: after(orig(*a, **k)))


def replace(parts, part: str, name: str, func: Callable) -> None:
    hook(parts, part, name, lambda orig: func)
