"""Every exception Podium raises, in one tree.

Signals are raised by *your* code (tools, output validators) to tell the loop something;
errors are raised by Podium to tell *you* something::

    PodiumSignal                     raised by tool code, handled by the loop
    ├── ModelRetry                   "tell the model this and let it try again"
    └── ApprovalRequired             "pause the run until a person decides"

    PodiumError                      base of every error Podium raises
    ├── UserError                    wrong use of the API or bad configuration
    ├── SerializationError           data that is not valid versioned Podium JSON
    ├── AgentRunError                a run stopped; ``.messages`` holds a valid history up to that point
    │   ├── MaxStepsExceeded
    │   ├── RunCancelled             (``RunInterrupted``: by Ctrl-C; also a ``KeyboardInterrupt``)
    │   ├── ToolRetriesExceeded
    │   ├── OutputValidationError
    │   └── UnexpectedModelBehavior
    └── ProviderError                anything from a provider, mapped at the provider boundary
        ├── ProviderHTTPError        the provider answered with an HTTP error (``status``, ``body``)
        │   ├── BadRequestError      400/404/422 that is not one of the below
        │   │   └── ContextWindowExceeded
        │   ├── AuthenticationError  401/403
        │   ├── RateLimitError       429 (``retry_after`` seconds when the provider said)
        │   └── ServerError          5xx, 529
        ├── ProviderTimeoutError     no answer in time (connect, read/idle or total timeout)
        ├── ProviderConnectionError  could not reach the provider, or the connection broke
        └── InvalidResponseError     a 200 answer that is not a valid one (wrong content type, not JSON)
            └── IncompleteStreamError  the stream ended before the provider's end marker

``ProviderError.retryable`` says whether retrying may help (rate limits, 5xx, timeouts, connection errors,
invalid or incomplete answers). A stream is retried only while nothing has reached the caller; an error after
that carries what had arrived in ``ProviderError.partial``.
Vendor exceptions are translated in the provider modules with ``raise ... from exc``. A provider error's
message, body and headers are scrubbed of known secrets when it is made (:mod:`podium.secrets`): a server
that repeats the key back in its error body does not put it in logs, stores or terminals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from podium.secrets import scrub, scrub_value

if TYPE_CHECKING:
    from podium.messages import Message, ModelResponse
    from podium.usage import Usage

__all__ = [
    "AgentRunError",
    "ApprovalRequired",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceeded",
    "ContextWindowExceeded",
    "IncompleteStreamError",
    "InvalidResponseError",
    "MaxStepsExceeded",
    "ModelRetry",
    "OutputValidationError",
    "PodiumError",
    "PodiumSignal",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RunCancelled",
    "RunInterrupted",
    "SerializationError",
    "ServerError",
    "ToolRetriesExceeded",
    "UnexpectedModelBehavior",
    "UserError",
]


class PodiumSignal(Exception):
    """Base for exceptions that user code raises to steer the loop."""


class ModelRetry(PodiumSignal):
    """Raise from a tool (or output validator) to send ``message`` back to the model as an error result.

    It counts against the tool's retry budget.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApprovalRequired(PodiumSignal):
    """Raise from a tool to pause the run until a person approves this call."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class PodiumError(Exception):
    """Base of every error Podium raises.

    ``messages`` is set when the error interrupted an agent run: it is the conversation up to the
    failure, always valid to continue from (every tool call has a result).
    """

    messages: list[Message] | None = None


class UserError(PodiumError):
    """The API was used wrongly or configuration is invalid; the message says how to fix it."""


class SerializationError(PodiumError, ValueError):
    """The data is not valid versioned Podium JSON; the message says where and why."""


class AgentRunError(PodiumError):
    """A run stopped before producing an output."""

    def __init__(
        self,
        message: str,
        *,
        messages: Sequence[Message] = (),
        new_messages: Sequence[Message] = (),
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.messages = list(messages)
        self.new_messages = list(new_messages)
        self.usage = usage


class MaxStepsExceeded(AgentRunError):
    """The run made ``max_steps`` model requests without finishing."""


class BudgetExceeded(AgentRunError):
    """The run reached one of its :class:`~podium.agent.budget.Budget` limits.

    ``budget`` names it (``max_cost``, ``max_tool_calls`` ...), ``limit`` is its value and ``reached`` what
    the run had used; ``.messages`` is a valid history.
    """

    def __init__(self, message: str, *, budget: str, limit: float, reached: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.budget = budget
        self.limit = limit
        self.reached = reached


class RunCancelled(AgentRunError):
    """The run was cancelled; ``messages`` is a valid history with interrupted tool calls marked."""


class RunInterrupted(RunCancelled, KeyboardInterrupt):
    """The run was interrupted by Ctrl-C (``KeyboardInterrupt``) while it waited on a model or a tool.

    It is a :class:`RunCancelled` (``messages`` is a valid history) and also a ``KeyboardInterrupt``, so
    ``except KeyboardInterrupt`` handlers still see it and an uncaught one ends the program like Ctrl-C.
    """


class ToolRetriesExceeded(AgentRunError):
    """A tool failed more times in a row than its retry budget allows."""


class OutputValidationError(AgentRunError):
    """The model's final output did not validate against ``output_type`` within the retry budget."""


class UnexpectedModelBehavior(AgentRunError):
    """The model answered in a way the loop cannot use (for example, calling unknown tools repeatedly)."""


class ProviderError(PodiumError):
    """Base of errors from a model provider."""

    retryable: bool = False
    partial: ModelResponse | None = None
    """What a stream had delivered to the caller before it failed (``None`` when nothing had arrived, in
    which case the request was retried as the model's retry policy allows)."""

    def __init__(self, message: str, *, provider: str | None = None, model: str | None = None) -> None:
        super().__init__(scrub(str(message), shapes=True))
        self.provider = provider
        self.model = model


class ProviderHTTPError(ProviderError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        provider: str | None = None,
        model: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.status = status
        self.body = scrub_value(body, shapes=True)
        self.headers: dict[str, str] = scrub_value(headers or {}, shapes=True)

    def __str__(self) -> str:
        return f"{self.args[0]} (HTTP {self.status}, provider={self.provider}, model={self.model})"


class BadRequestError(ProviderHTTPError):
    """The provider rejected the request as invalid."""


class ContextWindowExceeded(BadRequestError):
    """The prompt is longer than the model's context window."""


class AuthenticationError(ProviderHTTPError):
    """The API key is missing, wrong, or lacks permission."""


class RateLimitError(ProviderHTTPError):
    """The provider rate-limited the request; ``retry_after`` is in seconds when known."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ProviderHTTPError):
    """The provider failed (5xx or overloaded)."""

    retryable = True


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The provider could not be reached."""

    retryable = True


class InvalidResponseError(ProviderError):
    """The provider answered with a success status but not with a valid answer.

    For example an HTML page with status 200 from a captive portal or a proxy, or a body that is not the
    JSON or event stream the API sends. ``content_type`` is the type received and ``body`` the start of
    the body.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        content_type: str | None = None,
        body: str = "",
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.content_type = content_type
        self.body = scrub(body, shapes=True)


class IncompleteStreamError(InvalidResponseError):
    """The stream ended before the provider's end marker (``[DONE]``, ``message_stop``, ...): the answer is cut.

    Retried automatically while nothing had reached the caller; otherwise ``partial`` holds what had.
    """
