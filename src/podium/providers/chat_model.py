"""A model behind an OpenAI Chat Completions endpoint: OpenAI, Azure OpenAI, Groq and every compatible server.

:class:`ChatCompletionsModel` is the wire mapping only: the body from :mod:`podium.providers.chat_wire`,
the answer and each stream chunk through :class:`~podium.providers.chat_stream.ChatTranslator`, both
shaped by the provider's :class:`~podium.providers.chat_dialect.ChatDialect`. Sending, retries, timeouts,
content types and the end marker (``data: [DONE]``; a stream without it is cut off) are
:class:`~podium.providers.transport.model.WireModel`'s. The providers built on it
(:mod:`podium.providers.openai`, :mod:`podium.providers.groq`, :mod:`podium.providers.compatible`) add
only where requests go and how they authenticate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podium.exceptions import ProviderError
from podium.messages import Message, ModelResponse
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_stream import ChatTranslator
from podium.providers.chat_wire import build_body
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import WireModel
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
from podium.usage import CostValue, Usage

__all__ = ["ChatCompletionsModel"]

JsonDict = dict[str, Any]


class _ChatStream:
    """One Chat Completions stream: its chunks into deltas, then the response (the end is ``[DONE]``)."""

    __slots__ = ("_cost", "complete", "feed", "translator")

    def __init__(self, model: ChatCompletionsModel) -> None:
        self.translator = ChatTranslator(model.dialect)
        self.feed = self.translator.feed_chunk
        self._cost = model.cost
        self.complete = False

    def finish(self) -> ModelResponse:
        return self.translator.build(self._cost)


class ChatCompletionsModel(WireModel):
    """A model that speaks Chat Completions (``POST <base>/chat/completions``).

    Args:
        model_name: The model's name at the provider.
        dialect: The provider's wire variant (its name is the provider's).
        endpoint: Base URL, credentials and headers.
        profile: What the model can do.
        options: Client options.
        retry: Retry policy.
        timeouts: Connect, read and total timeouts.
    """

    chat_path = "/chat/completions"
    """The path of the chat endpoint under the base URL."""

    def __init__(
        self,
        model_name: str,
        *,
        dialect: ChatDialect,
        endpoint: Endpoint,
        profile: ModelProfile | None = None,
        options: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.provider = dialect.provider
        self.dialect = dialect
        """The wire variant this model speaks."""
        super().__init__(
            model_name, endpoint=endpoint, options=options, retry=retry, profile=profile, timeouts=timeouts
        )

    def build_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
        *,
        stream: bool = False,
    ) -> JsonDict:
        """The request body this model sends for these arguments (useful to inspect or log)."""
        return build_body(
            self.model_name, messages, self.dialect, tools=tools, settings=settings, output=output, stream=stream
        )

    def path(self, body: JsonDict, *, stream: bool) -> str:
        """The chat endpoint."""
        return self.chat_path

    def cost(self, model: str | None, usage: Usage, extra: Mapping[str, Any] | None) -> CostValue:
        """The cost of a response (``extra``: the non-integer fields of the wire usage)."""
        return cost_of(self.provider, self.model_name, usage)

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a whole answer."""
        translator = ChatTranslator(self.dialect)
        translator.feed_completion(data)
        return translator.build(self.cost)

    def stream_state(self) -> _ChatStream:
        """A fresh translator for one stream."""
        return _ChatStream(self)

    def stream_error(self, body: Any) -> ProviderError:
        """The error for an ``event: error`` inside a stream: the status its body gives."""
        chunk = body if isinstance(body, dict) and "error" in body else {"error": body}
        return ChatTranslator(self.dialect).error_for(chunk)
