"""Record a test's model traffic once, replay it in CI: VCR cassettes on Podium's own requests.

:class:`ModelRecording` wraps any model (a real provider, the embedded model) in a :class:`RecordedModel`.
Each request -- the messages, tools, settings and output schema, with secrets scrubbed -- is keyed by its
SHA-256; the answer (the response, its stream deltas, or the error) is stored under that key in a JSONL
file. Replaying answers the same request with the same answer, for every provider alike, with no network
and no credentials; identical requests in one test are answered in the order they were recorded. The
embedded model's exact token counts are recorded the same way, so a replay never loads the model.

Modes (``--podium-record`` in pytest, or ``mode=``):

* ``once`` (default): replay when the file exists, else record everything (needs the provider);
* ``none``: replay only; a request not in the file fails with :class:`RecordingMissing`;
* ``new``: replay what is recorded, record what is not (and add it to the file);
* ``all``: record everything again.

In pytest (with ``-p podium.testing.pytest_plugin``)::

    def test_weather(podium_recording):
        agent = Agent(podium_recording.model("openai:gpt-4o-mini"), tools=[get_weather])
        assert "Paris" in agent.run("Weather in Paris?").output

The file is ``<test dir>/recordings/<module>/<test name>.jsonl``. While a test records, the plugin's
network guard lets it reach the provider.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from typing_extensions import Unpack, override

from podium.exceptions import PodiumError
from podium.messages import Message, ModelResponse, message_to_dict
from podium.providers.base import Model, RequestOptions
from podium.providers.profiles import ModelProfile
from podium.secrets import scrub_json
from podium.settings import ToolDefinition
from podium.streaming import StreamEvent
from podium.trace.codec import decode, decode_error, encode, encode_error

__all__ = ["ModelRecording", "RecordMode", "RecordedModel", "RecordingMissing"]

RecordMode = Literal["once", "none", "new", "all"]
VERSION = 1


class RecordingMissing(PodiumError):
    """A replayed test made a request that is not in its recording (the message says how to record it)."""


class ModelRecording:
    """The recorded answers of one test, kept in ``path`` (JSONL).

    Args:
        path: The recording file.
        mode: ``once``, ``none``, ``new`` or ``all`` (see the module docstring).
    """

    def __init__(self, path: str | Path, mode: RecordMode = "once") -> None:
        if mode not in ("once", "none", "new", "all"):
            raise ValueError(f"record mode must be once, none, new or all, not {mode!r}")
        self.path = Path(path)
        exists = self.path.is_file()
        self.mode: RecordMode = mode
        self.recording = mode == "all" or (mode == "once" and not exists) or mode == "new"
        """Whether requests not in the file go to the real model."""
        self.entries: dict[str, list[dict[str, Any]]] = {}
        self.lines: list[str] = []
        self.header: dict[str, Any] = {"podium_recording": VERSION}
        self.changed = False
        self.used: dict[str, int] = {}
        if exists and mode != "all":
            self._load()

    def _load(self) -> None:
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise RecordingMissing(
                    f"{self.path}, line {number}: not JSON; delete the file to record again"
                ) from None
            if number == 1 and "podium_recording" in entry:
                self.header = entry
                continue
            self.entries.setdefault(str(entry.get("key")), []).append(entry)
            self.lines.append(line)

    def model(self, inner: Model | str, **options: Any) -> RecordedModel:
        """``inner`` (a model, or a ``provider:name`` resolved now; not called while replaying) recorded here."""
        if isinstance(inner, str):
            from podium.providers.registry import model as resolve

            inner = resolve(inner, **options)
        return RecordedModel(inner, self)

    # -- entries

    def take(self, key: str, kind: str) -> dict[str, Any] | None:
        """The next recorded entry for ``key`` (``None``: not recorded, or all of them used)."""
        entries = [e for e in self.entries.get(key, []) if e.get("kind") == kind]
        used = self.used.get(f"{kind}:{key}", 0)
        if used >= len(entries):
            return None
        self.used[f"{kind}:{key}"] = used + 1
        return entries[used]

    def add(self, entry: dict[str, Any]) -> None:
        """Record a new entry (written by :meth:`save`)."""
        line = scrub_json(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), shapes=True)
        self.lines.append(line)
        self.changed = True

    def missing(self, key: str, what: str) -> RecordingMissing:
        """The error for a request the recording does not hold (with what the recording does hold)."""
        known = [e for entries in self.entries.values() for e in entries if e.get("kind") == "response"]
        held = "; ".join(str(e.get("request", "?")) for e in known[:5])
        return RecordingMissing(
            f"{what} is not in the recording {self.path} (key {key[:12]}, mode {self.mode!r}; the file holds "
            f"{len(known)} answers{': ' + held if held else ''}). The code now asks something else than when it "
            "was recorded: record again with `pytest --podium-record=new` (or `all`) where the provider is "
            "reachable, or delete the file."
        )

    def save(self) -> None:
        """Write the file if anything was recorded."""
        if not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        head = json.dumps(self.header, separators=(",", ":"))
        tmp.write_text("".join(line + "\n" for line in [head, *self.lines]), encoding="utf-8")
        tmp.replace(self.path)
        self.changed = False


def summary(messages: Sequence[Message]) -> str:
    """A short description of a request (its size and last message), kept beside the answer for people."""
    last = messages[-1] if messages else None
    text = (last.text if last is not None else "").replace("\n", " ")
    return f"{len(messages)} messages, last {last.role if last else '-'}: {text[:120]!r}"


def request_key(messages: Sequence[Message], options: RequestOptions) -> str:
    """The SHA-256 of a request (messages, tools, settings, output schema), with secrets scrubbed."""
    doc = {
        "messages": [message_to_dict(m) for m in messages],
        "tools": [encode(t) for t in options.get("tools") or ()],
        "settings": encode(options.get("settings")),
        "output": encode(options.get("output")),
    }
    text = scrub_json(json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")), shapes=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RecordedModel(Model):
    """A model whose answers come from a :class:`ModelRecording` (or are recorded into it)."""

    def __init__(self, inner: Model, recording: ModelRecording) -> None:
        self.inner = inner
        self.recording = recording
        self.provider = inner.provider
        self.model_name = inner.model_name
        self.timeouts = inner.timeouts
        if recording.recording:
            recording.header.update(model=f"{inner.provider}:{inner.model_name}")

    @property
    @override
    def profile(self) -> ModelProfile:
        return self.inner.profile

    def _recorded(self, key: str) -> dict[str, Any] | None:
        entry = self.recording.take(key, "response")
        if entry is None and not self.recording.recording:
            raise self.recording.missing(key, "a request")
        return entry

    @staticmethod
    def _answer(entry: dict[str, Any]) -> ModelResponse:
        if "error" in entry:
            raise decode_error(entry["error"])
        return ModelResponse.from_dict(entry["response"])

    def _replayed(self, entry: dict[str, Any]) -> Iterator[StreamEvent]:
        """A recorded stream: its deltas, then the response (or the recorded error raised)."""
        for event in entry.get("events") or ():
            yield decode(event)
        yield self._answer(entry)

    def _keep(self, key: str, messages: Sequence[Message], event: StreamEvent, events: list[Any]) -> None:
        """Note one live stream event; the final response stores the exchange."""
        if isinstance(event, ModelResponse):
            self._store(key, messages, event, events)
        else:
            events.append(encode(event))

    def _store(self, key: str, messages: Sequence[Message], response: Any, events: list[Any] | None) -> None:
        entry: dict[str, Any] = {"key": key, "kind": "response", "request": summary(messages)}
        if isinstance(response, BaseException):
            entry["error"] = encode_error(response)
        else:
            entry["response"] = response.to_dict()
        if events is not None:
            entry["events"] = events
        self.recording.add(entry)

    @override
    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        key = request_key(messages, options)
        entry = self._recorded(key)
        if entry is not None:
            return self._answer(entry)
        try:
            response = self.inner.request(messages, **options)
        except PodiumError as exc:
            self._store(key, messages, exc, None)
            raise
        self._store(key, messages, response, None)
        return response

    @override
    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        key = request_key(messages, options)
        entry = self._recorded(key)
        if entry is not None:
            yield from self._replayed(entry)
            return
        events: list[Any] = []
        try:
            for event in self.inner.stream(messages, **options):
                self._keep(key, messages, event, events)
                yield event
        except PodiumError as exc:
            self._store(key, messages, exc, events)
            raise

    @override
    async def arequest(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        key = request_key(messages, options)
        entry = self._recorded(key)
        if entry is not None:
            return self._answer(entry)
        try:
            response = await self.inner.arequest(messages, **options)
        except PodiumError as exc:
            self._store(key, messages, exc, None)
            raise
        self._store(key, messages, response, None)
        return response

    @override
    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        key = request_key(messages, options)
        entry = self._recorded(key)
        if entry is not None:
            for recorded in self._replayed(entry):
                yield recorded
            return
        events: list[Any] = []
        try:
            async for event in self.inner.astream(messages, **options):
                self._keep(key, messages, event, events)
                yield event
        except PodiumError as exc:
            self._store(key, messages, exc, events)
            raise

    @override
    def token_counter(self) -> Any:
        if self.recording.recording:
            exact = self.inner.token_counter()
            self.recording.header["exact_counts"] = exact is not None
            return None if exact is None else _RecordedCounter(self.recording, exact)
        if not self.recording.header.get("exact_counts"):
            return None
        return _RecordedCounter(self.recording, None)


class _RecordedCounter:
    """Exact token counts, recorded by request like the answers (the replay loads no tokenizer)."""

    def __init__(self, recording: ModelRecording, inner: Any) -> None:
        self.recording = recording
        self.inner = inner

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> int:
        key = request_key(messages, {"tools": tools})
        entry = self.recording.take(key, "count")
        if entry is not None:
            return int(entry["count"])
        if self.inner is None:
            raise self.recording.missing(key, "a token count")
        count = int(self.inner.count_tokens(messages, tools))
        self.recording.add({"key": key, "kind": "count", "count": count})
        return count
