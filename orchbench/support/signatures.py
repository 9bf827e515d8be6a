"""Commands whose options are generated (from a dataclass, from what plugins declare): typer reads a function's
signature, so a generated option is a keyword parameter written into it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer


def keyword_option(
    name: str, annotation: Any, option: typer.models.OptionInfo, default: Any = None
) -> inspect.Parameter:
    """A keyword parameter that typer turns into the command-line option ``option``."""
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[annotation, option]
    )


def with_signature(
    function: Callable[..., Any], parameters: list[inspect.Parameter], like: Callable[..., Any]
) -> Callable[..., Any]:
    """``function`` (which takes ``**given``) presented to typer with ``parameters``, and ``like``'s name and help."""
    signature = inspect.Signature(parameters)
    function.__signature__ = signature  # type: ignore[attr-defined]
    function.__annotations__ = {p.name: p.annotation for p in parameters}
    function.__doc__ = like.__doc__
    function.__name__ = getattr(like, "__name__", function.__name__)
    return function
