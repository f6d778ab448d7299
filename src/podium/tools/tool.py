"""``@tool``: turn a typed Python function into a tool a model can call."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from podium.settings import ToolDefinition

if TYPE_CHECKING:
    from podium.tools.schema import FunctionSchema

__all__ = ["Tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")


class Tool(Generic[P, R]):
    """A function the model can call, with its schema and execution limits.

    Calling the ``Tool`` object calls the function, so decorated functions stay testable as-is.
    The schema is built on first use (see :func:`~podium.tools.schema.function_schema`).
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        max_output: int | None = None,
        retries: int | None = None,
        strict: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotent: bool = False,
    ) -> None:
        """Wrap ``fn``.

        Args:
            fn: A sync or async function with annotated parameters.
            name: Name for the model; defaults to the function's name.
            description: Description for the model; defaults to the docstring.
            timeout: Seconds a call may take before it becomes an error result.
            max_output: Characters of output kept; longer output keeps its head and tail.
            retries: Failing model turns in a row (turns in which every call of this tool failed) allowed
                before the run stops; the agent's default when ``None``.
            strict: Ask providers for strict schema adherence.
            metadata: Facts for policies and UIs, such as ``{"path_params": ("path",)}`` or
                ``{"command_param": "command"}`` (see :mod:`podium.agent.approval`).
            idempotent: Running a call twice has the same effect as once. A durable run resumed after its
                process died runs such a call again when it was in flight; any other in-flight call gets an
                error result saying it may or may not have happened (:mod:`podium.agent.durable`).
        """
        self.fn = fn
        self.metadata: Mapping[str, Any] = dict(metadata or {})
        self.name: str = name or str(getattr(fn, "__name__", ""))
        self._description = description
        self.timeout = timeout
        self.max_output = max_output
        self.retries = retries
        self.strict = strict
        self.idempotent = idempotent
        """Whether a call may be run again after its process died mid-call (a resumed durable run)."""
        self._schema: FunctionSchema | None = None
        functools.update_wrapper(self, fn)
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")

    @property
    def schema(self) -> FunctionSchema:
        """The function's schema and validator (built once)."""
        if self._schema is None:
            from podium.tools.schema import function_schema

            self._schema = function_schema(self.fn, name=self.name or None, description=self._description)
            self.name = self._schema.name
        return self._schema

    @property
    def description(self) -> str:
        """Description for the model."""
        return self.schema.description

    @property
    def definition(self) -> ToolDefinition:
        """The tool as the model sees it."""
        schema = self.schema
        return ToolDefinition(self.name, schema.description, schema.parameters, self.strict)

    def renamed(self, name: str) -> Tool[P, R]:
        """A copy of this tool under another name (used by prefixed toolsets)."""
        clone: Tool[P, R] = Tool(
            self.fn,
            name=name,
            description=self._description,
            timeout=self.timeout,
            max_output=self.max_output,
            retries=self.retries,
            strict=self.strict,
            metadata=self.metadata,
            idempotent=self.idempotent,
        )
        if self._schema is not None:
            from dataclasses import replace

            clone._schema = replace(self._schema, name=name)
        return clone

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the wrapped function directly."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


@overload
def tool(fn: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    max_output: int | None = None,
    retries: int | None = None,
    strict: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotent: bool = False,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    max_output: int | None = None,
    retries: int | None = None,
    strict: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotent: bool = False,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a tool from a function, bare (``@tool``) or with options (``@tool(timeout=5)``).

    Args:
        fn: The function (when used bare).
        name: Name for the model; defaults to the function's name.
        description: Description for the model; defaults to the docstring.
        timeout: Seconds a call may take before it becomes an error result.
        max_output: Characters of output kept; longer output keeps its head and tail.
        retries: Failing model turns in a row (every call of the tool failed) allowed before the run stops.
        strict: Ask providers for strict schema adherence.
        metadata: Facts for policies and UIs (which parameters are paths or commands).
        idempotent: A call may be run twice with the same effect (a resumed durable run re-runs it).

    Example::

        @tool
        def add(a: int, b: int) -> int:
            \"\"\"Add two numbers.

    Args:
                a: The first number.
                b: The second number.
            \"\"\"
            return a + b
    """

    def wrap(f: Callable[P, R]) -> Tool[P, R]:
        return Tool(
            f,
            name=name,
            description=description,
            timeout=timeout,
            max_output=max_output,
            retries=retries,
            strict=strict,
            metadata=metadata,
            idempotent=idempotent,
        )

    if fn is not None:
        return wrap(fn)
    return wrap


def as_tool(obj: Tool[..., Any] | Callable[..., Any]) -> Tool[..., Any]:
    """``obj`` if it is a Tool, else a Tool wrapping the function."""
    if isinstance(obj, Tool):
        return obj
    if not callable(obj):
        raise TypeError(f"expected a function or Tool, got {obj!r}")
    return Tool(obj)
