"""typer converts an option's value with a pydantic ``TypeAdapter``, built the first time the option is processed —
also for an option that was not given, whose value (None) needs no conversion at all. Every command processes the
root's options and its own ``--help``, none of them given, so every command imported pydantic (about half of
``orchbench list``'s start-up). :func:`defer` makes typer build the conversion on the first value that needs one;
what each value becomes, and each error, is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from typer import core
from typer._coercion import RuntimeParam, build_runtime_param  # typer's own conversion, built when first needed


@dataclass(frozen=True)
class DeferredConversion(RuntimeParam):
    """Stands for a parameter's conversion until a value needs it. ``RuntimeParam.coerce`` answers a missing value
    itself (None, or () for a repeatable option) and hands any other to ``_coerce_value``: only then is typer's
    conversion built, put in this one's place and used."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        built = build_runtime_param(param.type_descriptor)
        param._runtime_param = built
        return built._coerce_value(value, param=param, ctx=ctx)


def _deferred_runtime_param(self: Any) -> RuntimeParam:
    if self._runtime_param is None:
        info, annotation = self.type_descriptor.parameter_info, self.type_descriptor.annotation
        self._runtime_param = DeferredConversion(parameter_info=info, annotation=annotation)
    return self._runtime_param


def defer() -> None:
    """Build each typer parameter's conversion on its first value (for every typer command in this process)."""
    core._TyperParameter.get_runtime_param = _deferred_runtime_param  # type: ignore[method-assign]
