"""The model interface every provider implements.

A model has four methods: :meth:`Model.request` and :meth:`Model.stream` and their async twins. The
agent loop reaches models only through these. Subclasses implement at least ``request``; the others
have working defaults (``stream`` replays a whole response as deltas, the async twins run the sync
method in a worker thread), which real providers override.
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import AsyncIterator
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import NamedTuple
from typing import TypedDict

from typing_extensions import Unpack

from podium.exceptions import UserError
from podium.messages import Message
from podium.messages import ModelResponse
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.providers.profiles import ModelProfile
from podium.settings import ModelSettings
from podium.settings import OutputSchema
from podium.settings import Timeouts
from podium.settings import ToolDefinition
from podium.streaming import StreamDelta
from podium.streaming import StreamEvent
from podium.streaming import TextDelta
from podium.streaming import ThinkingDelta
from podium.streaming import ToolCallDelta

if TYPE_CHECKING:
    from podium.providers.tokens import TokenCounter

__all__ = ["Model", "RequestOptions", "WireCall", "deltas_of", "require_model_name"]


class RequestOptions(TypedDict, total=False):
    """What a request carries besides its messages (keyword arguments of :meth:`Model.request` and its twins)."""

    tools: Sequence[ToolDefinition] | None
    """The tools the model may call."""
    settings: ModelSettings | None
    """Sampling, limits, tool choice, timeouts and provider extras of this request."""
    output: OutputSchema | None
    """The structured output asked for, if any."""


class WireCall(NamedTuple):
    """What one request is made of, before a provider turns it into its body."""

    messages: Sequence[Message]
    tools: Sequence[ToolDefinition] | None
    settings: ModelSettings
    output: OutputSchema | None
    stream: bool


class Model(ABC):
    """A language model behind some provider."""

    provider: str = "unknown"
    """Provider name, such as ``openai``."""
    model_name: str = "unknown"
    """Model name as the provider knows it."""
    timeouts: Timeouts | None = None
    """Connect, read and total timeouts of this model's requests (``None``: the defaults of
    :class:`~podium.settings.Timeouts`); ``ModelSettings`` fields override them per request."""

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return ModelProfile()

    @abstractmethod
    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """Send ``messages`` and return the whole response.

        ``options`` (:class:`RequestOptions`, all optional): ``tools``, ``settings`` and ``output``, as
        keyword arguments: ``model.request(messages, tools=tools, settings=ModelSettings(max_tokens=100))``.
        """

    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        """Send ``messages`` and yield deltas as they arrive, then the final :class:`ModelResponse`."""
        response = self.request(messages, **options)
        yield from deltas_of(response)
        yield response

    async def arequest(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """Async twin of :meth:`request`."""
        import asyncio

        return await asyncio.to_thread(self.request, messages, **options)

    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        response = await self.arequest(messages, **options)
        for delta in deltas_of(response):
            yield delta
        yield response

    def token_counter(self) -> TokenCounter | None:
        """An exact counter of this model's prompt tokens, when its tokenizer runs offline.

        ``None`` (the default) means the agent loop estimates, calibrated on the usage the provider
        reports (:mod:`podium.providers.tokens`).
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.provider}:{self.model_name})"


def deltas_of(response: ModelResponse, chunk: int = 0) -> Iterator[StreamDelta]:
    """The deltas that stream ``response``; text is split into pieces of ``chunk`` characters if > 0."""
    for index, part in enumerate(response.parts):
        if isinstance(part, Text):
            text = part.text
            if chunk > 0 and len(text) > chunk:
                for start in range(0, len(text), chunk):
                    yield TextDelta(index, text[start : start + chunk])
            else:
                yield TextDelta(index, text)
        elif isinstance(part, Thinking):
            yield ThinkingDelta(index, part.text, part.signature)
        elif isinstance(part, ToolCall):
            yield ToolCallDelta(index, part.id, part.name, part.args_json)


def require_model_name(provider: str, name: object) -> str:
    """``name`` when it names a model; a :class:`~podium.exceptions.UserError` saying what to write when not.

    Every remote provider checks its model name with this, so ``podium.model("openai:")`` or
    ``OpenAIChatModel("")`` fail at once with a clear message instead of at the first request.
    """
    if not isinstance(name, str) or not name.strip():
        raise UserError(
            f"no model name for {provider}: got {name!r}; write it as '{provider}:<model>' "
            f"(for example podium.model('{provider}:<model name>')) or pass the model name to the model class"
        )
    if name != name.strip():
        raise UserError(f"model name {name!r} for {provider} has spaces around it; write {name.strip()!r}")
    return name
