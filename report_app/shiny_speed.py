"""Cheaper stand-ins for two debugging aids of Shiny that cost a session dearly.

Shiny 1.8 names every ``reactive.Value`` after the variable it is assigned to, for its
OpenTelemetry logs, by calling ``inspect.stack()``: that reads the source of every frame on the
stack (forty-odd under uvicorn and Starlette) and scans ``sys.modules`` for each, about 4 ms per
value. Every ``render.data_frame`` makes several values, so opening a dashboard session cost
about 0.3 s of CPU in name guessing alone (a third of the session's CPU, measured with py-spy).
``install()`` swaps in the same guess from the frames themselves (one source line, read through
``linecache``), and keeps the source location of each reactive function's code once instead of
re-parsing its source for every session. Names and locations come out as before; only the cost
changes. Nothing here changes what a session computes or shows.
"""

from __future__ import annotations

import inspect
import linecache
import re
import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

ASSIGNED = re.compile(r"^(?:\w+\.)?(\w+)\s*(?::[^=]+)?\s*=\s*(?:reactive\.)?[Vv]alue\s*[\[\(]")
VALUE_CALL = re.compile(r"\b[Vv]alue\b")

_installed = False
# What ``install`` replaced, by name (the tests compare the stand-ins with them).
originals: dict[str, Callable[..., Any]] = {}


def _value_name(value: object) -> str | None:
    """The name ``Value.__init__`` would infer for ``value``, from its caller's source line."""
    from shiny.reactive._utils import is_user_code_frame

    frame: FrameType | None = sys._getframe(2)  # 0: this function, 1: Value.__init__, 2: caller
    while frame is not None:
        filename = frame.f_code.co_filename
        if not is_user_code_frame(filename):
            frame = frame.f_back
            continue
        line = linecache.getline(filename, frame.f_lineno).strip()
        if not line:
            return None  # no source for the first user frame: Shiny gives up there too
        match = ASSIGNED.match(line)
        if match:
            return match.group(1)
        if VALUE_CALL.search(line):
            # a multi-line assignment: its target is on a line above
            return type(value)._try_infer_name_from_preceding_lines(  # type: ignore[attr-defined]  # Shiny's own fallback
                filename, frame.f_lineno
            )
        frame = frame.f_back
    return None


def _remembered(
    extract: Callable[[Callable[..., Any]], dict[str, Any]],
) -> Callable[[Callable[..., Any]], dict[str, Any]]:
    """``extract`` (Shiny's source reference of a function), kept per code object."""
    known: dict[CodeType, dict[str, Any]] = {}

    def source_ref(func: Callable[..., Any]) -> dict[str, Any]:
        try:
            code = inspect.unwrap(func).__code__
        except (AttributeError, ValueError):
            return extract(func)
        if code not in known:
            known[code] = extract(func)
        return dict(known[code])

    return source_ref


def install() -> None:
    """Swap the two aids in (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
    from shiny.reactive import _reactives
    from shiny.session import _session

    if hasattr(_reactives.Value, "_try_infer_name"):
        originals["Value._try_infer_name"] = _reactives.Value._try_infer_name
        _reactives.Value._try_infer_name = _value_name  # type: ignore[method-assign, assignment]  # the faster stand-in this module exists for
    modules: tuple[Any, ...] = (_reactives, _session)
    for module in modules:
        if hasattr(module, "extract_source_ref"):
            originals[f"{module.__name__}.extract_source_ref"] = module.extract_source_ref
            module.extract_source_ref = _remembered(module.extract_source_ref)
    _installed = True
