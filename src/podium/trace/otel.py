"""OpenTelemetry spans of runs, following the GenAI semantic conventions (the ``otel`` extra).

:class:`OTelSink` is a trace sink (:data:`~podium.trace.TraceSink`): give it to an agent,
``Agent(..., trace_sinks=[OTelSink()])``, and each run's trace records become spans as they are written:

* ``invoke_agent {agent}`` -- one per run (kind ``INTERNAL``), from the ``run`` record to the ``end`` record,
  with the run's total usage and cost;
* ``chat {model}`` -- one per model request (kind ``CLIENT``), from the ``request`` record (written before the
  request is sent) to its ``response`` record; compaction summaries are ``chat`` spans too, marked
  ``podium.request.purpose = "compaction"``;
* ``execute_tool {tool}`` -- one per tool call (kind ``INTERNAL``), from the ``tools`` record (written before
  the calls start) to the call's ``tool`` record. Parallel calls overlap.

Request and tool spans are children of their run's span; a run's span is a child of the span current where
the run was started (``agent.run`` inside ``tracer.start_as_current_span(...)``), or, for a sub-agent whose agent
has a sink too, of the ``execute_tool`` span of the call that started it.

Attribute names are those of the OpenTelemetry GenAI conventions (v1.37 and later: ``gen_ai.provider.name``;
the older ``gen_ai.system`` is written too, with its older values, for back-ends that still read only it).
Podium's own facts use ``podium.*`` names (``podium.cost`` in USD, ``podium.run_id``, ``podium.step``).
Message contents (prompts, answers, tool arguments and results) are written only with
``capture_content=True``, as the conventions' opt-in attributes (``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``,
``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``); they are the trace's, so already scrubbed.

Nothing leaves the process unless the application configured an SDK with an exporter: without a
``tracer_provider``, the global one is used, which is the API's no-op provider until one is set.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
except ImportError as _exc:  # pragma: no cover - the extra is installed in development
    from podium.exceptions import UserError

    raise UserError(
        "OpenTelemetry export needs the OpenTelemetry API: pip install 'podium[otel]' "
        "(and an SDK with an exporter, e.g. opentelemetry-sdk, to send spans anywhere)"
    ) from _exc

from podium.trace.format import Trace
from podium.trace.otel_content import input_messages, output_messages, system_instructions, tool_definitions

__all__ = ["OTelSink"]

logger = logging.getLogger("podium.trace.otel")

_NS = 1_000_000_000

PROVIDER_NAMES: Mapping[str, tuple[str, str]] = {
    "openai": ("openai", "openai"),
    "openai-responses": ("openai", "openai"),
    "azure": ("azure.ai.openai", "az.ai.openai"),
    "anthropic": ("anthropic", "anthropic"),
    "bedrock": ("aws.bedrock", "aws.bedrock"),
    "google": ("gcp.gemini", "gemini"),
    "google-vertex": ("gcp.vertex_ai", "vertex_ai"),
    "groq": ("groq", "groq"),
    "mistral": ("mistral_ai", "mistral_ai"),
    "cohere": ("cohere", "cohere"),
    "deepseek": ("deepseek", "deepseek"),
    "xai": ("x_ai", "xai"),
}
"""Podium provider -> (``gen_ai.provider.name``, ``gen_ai.system``) where the conventions name it; other
providers (``local``, ``ollama``, ``openrouter``, ``vllm``, plugins) keep Podium's name, as the conventions
allow for systems they do not list."""

_FAILED = frozenset({"error", "invalid_args", "retry", "timeout"})
"""Tool outcome kinds that end a call's span with status ERROR. ``ok``, ``approval`` (a sub-agent waiting for
approvals) and ``interrupted`` (the run was cancelled or steered) do not: they are not failures."""

_SETTINGS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
}

_ACTIVE: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("podium_otel_run", default=None)
"""The run whose tool calls are starting in this context: a run started from one of its tools (a sub-agent,
or an agent called by a tool function) puts its span under that call's span. Sub-agent threads and tasks
start with a copy of their parent's context, so they see it."""


@dataclass(eq=False)
class _Tool:
    span: Span
    name: str
    args: Any
    start: int
    child_end: int = 0  # the latest end of a run started by this call (its span must cover it)
    claimed: bool = False


@dataclass(eq=False)
class _Run:
    """The open spans of one run."""

    span: Span
    provider: str
    model: str
    start: int
    context: otel_context.Context
    chat: Span | None = None
    chat_start: int = 0
    tools: dict[str, _Tool] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # call ids of the current batch, by index
    definitions: dict[str, str] = field(default_factory=dict)  # tool name -> description
    cost: float = 0.0
    priced: bool = False
    last_output: list[dict[str, Any]] | None = None
    parent: _Tool | None = None
    where: tuple[int, object] = (0, None)  # thread and asyncio task its records are written from
    finalizer: weakref.finalize[Any, Any] | None = None
    outer: contextvars.Token[_Run | None] | None = None
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class OTelSink:
    """Turns each run's trace records into OpenTelemetry spans as they are written (see the module docstring).

    One sink serves any number of runs, also at the same time (threads, tasks, sub-agents): records are
    told apart by the trace they belong to.

    Args:
        tracer_provider: Where spans go; ``None`` takes the global provider (no-op until the application
            sets one with an exporter).
        capture_content: Also write message contents (prompts, answers, tool arguments and results). Off by
            default: they may hold personal data.

    Example::

        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        agent = Agent("openai:gpt-4o", trace_sinks=[OTelSink(provider)])
    """

    def __init__(self, tracer_provider: TracerProvider | None = None, *, capture_content: bool = False) -> None:
        self.capture_content = capture_content
        """Whether message contents are written (opt-in attributes of the conventions)."""
        self.tracer: Tracer = otel_trace.get_tracer("podium", _version(), tracer_provider=tracer_provider)
        """The tracer spans are made with."""
        self._runs: weakref.WeakKeyDictionary[Trace, _Run] = weakref.WeakKeyDictionary()
        self._direct: _Run | None = None  # the run of records handed over by hand (not by a Trace)
        self._lock = threading.Lock()

    # -- the sink

    def __call__(self, record: dict[str, Any], line: str) -> None:
        """Handle one trace record given by hand (its trace is found up the stack, if any)."""
        self.receive(_calling_trace(), record, line)

    def receive(self, trace: Trace | None, record: dict[str, Any], line: str) -> None:
        """Handle one record of ``trace`` (what :meth:`Trace.append <podium.trace.Trace.append>` calls)."""
        if self.capture_content and line:  # contents leave the process: the scrubbed line, not the record
            record = json.loads(line)
        kind = record.get("kind")
        if kind == "run":
            self._start_run(trace, record)
            return
        run = self._run_of(trace)
        if run is None or run.closed:
            return
        handler = _HANDLERS.get(str(kind))
        if handler is None:
            return
        with run.lock:
            try:
                handler(self, run, record, trace)
            except Exception:  # a record this sink cannot read: its spans go on without it
                logger.warning("OTelSink could not read trace record %s (%s)", record.get("seq"), kind, exc_info=True)

    def export(self, trace: Trace) -> None:
        """Write the spans of a finished (e.g. loaded) trace now; their times are those of this moment."""
        for record in trace.records:
            self(record, "")

    def _run_of(self, trace: Trace | None) -> _Run | None:
        with self._lock:
            return self._runs.get(trace) if trace is not None else self._direct

    # -- run

    def _start_run(self, trace: Trace | None, record: dict[str, Any]) -> None:
        provider, _, model = str(record.get("model") or "").partition(":")
        agent = str(record.get("agent") or "agent")
        parent_tool = _parent_call(record)
        parent = otel_trace.set_span_in_context(parent_tool.span) if parent_tool is not None else None
        start = time.time_ns()
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            **_provider_attributes(provider),
            "gen_ai.request.model": model,
            "podium.run_id": str(record.get("run_id") or ""),
        }
        if record.get("resume"):  # a paused run, resumed: the same run id, a new span
            attributes["podium.resumed"] = True
        conversation = record.get("conversation_id")
        if isinstance(conversation, str) and conversation:
            attributes["gen_ai.conversation.id"] = conversation
        attributes.update(_settings_attributes(record.get("settings")))
        if self.capture_content:
            attributes.update(_prompt_attributes(record))
        span = self.tracer.start_span(
            f"invoke_agent {agent}",
            context=parent if parent is not None else otel_context.get_current(),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=start,
        )
        run: _Run | None = _Run(span, provider, model, start, otel_trace.set_span_in_context(span), parent=parent_tool)
        if not span.is_recording():  # no SDK (the API's no-op provider) or sampled out: nothing more to do
            run = None
        with self._lock:
            if trace is None:
                old, self._direct = self._direct, run
            else:
                old = self._runs.pop(trace, None)
                if run is not None:
                    self._runs[trace] = run
        if run is not None and trace is not None:
            run.finalizer = weakref.finalize(trace, _abandon, run)
        if old is not None:  # the same trace recording a second run: the first one did not end
            _abandon(old)

    def _end(self, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
        now = time.time_ns()
        status = str(record.get("status") or "completed")
        _close_tools(run, now, "abandoned")
        _end_chat(run, now, "abandoned")
        span = run.span
        span.set_attribute("podium.run.status", status)
        if isinstance(record.get("steps"), int):
            span.set_attribute("podium.steps", record["steps"])
        _set_usage(span, record.get("usage"))
        cost = record.get("cost")
        if isinstance(cost, (int, float)):
            span.set_attribute("podium.cost", float(cost))
        elif run.priced:
            span.set_attribute("podium.cost", run.cost)
        if status == "error":
            _set_error(span, record.get("error"))
        elif self.capture_content and run.last_output is not None:
            span.set_attribute("gen_ai.output.messages", _json(run.last_output))
        _finish(run, now)


# -- record handlers (each called with the run's lock held)


def _on_request(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    now = time.time_ns()
    _end_chat(run, now, "abandoned")  # a request whose response was never recorded
    provider, model = run.provider, run.model
    if isinstance(record.get("model"), str):
        provider, _, model = record["model"].partition(":")
    purpose = str(record.get("purpose") or "answer")
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        **_provider_attributes(provider),
        "gen_ai.request.model": model,
        "podium.step": _int(record.get("step")),
        "podium.request.purpose": purpose,
    }
    attributes.update(_settings_attributes(record.get("settings")))
    if record.get("output") is not None:
        attributes["gen_ai.output.type"] = "json"
    tools = _request_tools(trace, record)
    if tools is not None:
        run.definitions = {str(t.get("name")): str(t.get("description") or "") for t in tools}
    if sink.capture_content and trace is not None:
        messages = trace.request_messages(record)
        attributes["gen_ai.input.messages"] = _json(input_messages(messages))
        instructions = system_instructions(messages)
        if instructions:
            attributes["gen_ai.system_instructions"] = _json(instructions)
        if tools:
            attributes["gen_ai.tool.definitions"] = _json(tool_definitions(tools))
    run.chat = sink.tracer.start_span(
        f"chat {model}",
        context=run.context,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        start_time=now,
    )
    run.chat_start = now


def _on_response(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    span = run.chat
    if span is None:
        return
    answer = _dict(record.get("answer"))
    now = time.time_ns()
    if "value" in answer:
        response = _response_of(answer["value"])
        _set_response(span, response)
        cost = response.get("cost")
        if isinstance(cost, (int, float)):
            run.cost += float(cost)
            run.priced = True
        output = output_messages(response)
        run.last_output = output
        if sink.capture_content:
            span.set_attribute("gen_ai.output.messages", _json(output))
    elif "error" in answer:
        _set_error(span, answer["error"])
    elif "interrupted" in answer:
        span.set_attribute("podium.interrupted", True)
        partial = (answer["interrupted"] or {}).get("partial")
        if isinstance(partial, dict):
            _set_response(span, partial)
    run.chat = None
    span.end(end_time=max(now, run.chat_start))


def _on_tools(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    now = time.time_ns()
    parent = run.context
    run.order = []
    for call in _list(record.get("calls")):
        if not isinstance(call, dict):
            continue
        call_id, name = str(call.get("id") or ""), str(call.get("name") or "")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
        }
        description = run.definitions.get(name)
        if description:
            attributes["gen_ai.tool.description"] = description
        if sink.capture_content:
            attributes["gen_ai.tool.call.arguments"] = _json(call.get("args"))
        span = sink.tracer.start_span(
            f"execute_tool {name}", context=parent, kind=SpanKind.INTERNAL, attributes=attributes, start_time=now
        )
        run.tools[call_id] = _Tool(span, name, call.get("args"), now)
        run.order.append(call_id)
    run.where = _where()
    if run.outer is None:
        run.outer = _ACTIVE.set(run)
    else:
        _ACTIVE.set(run)


def _on_tool(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    call_id = record.get("call_id")
    if not isinstance(call_id, str):
        index = record.get("index")
        call_id = run.order[index] if isinstance(index, int) and 0 <= index < len(run.order) else None
    tool = run.tools.pop(call_id, None) if call_id is not None else None
    if tool is None:
        return
    now = time.time_ns()
    answer = _dict(record.get("answer"))
    outcome = answer.get("outcome")
    end = now
    if isinstance(outcome, dict):
        kind = str(outcome.get("kind") or "ok")
        tool.span.set_attribute("podium.tool.outcome", kind)
        duration = outcome.get("duration")
        if isinstance(duration, (int, float)) and duration >= 0:
            # the loop takes answers in call order: a call that ended before an earlier one ends at its own time
            end = min(now, max(tool.start + int(duration * _NS), tool.child_end))
        if kind in _FAILED:
            _set_error(tool.span, outcome.get("error"), fallback=kind)
        if sink.capture_content:
            result = _result_content(outcome.get("result"))
            tool.span.set_attribute("gen_ai.tool.call.result", result if isinstance(result, str) else _json(result))
    elif "error" in answer:
        _set_error(tool.span, answer["error"])
    elif "interrupted" in answer:
        tool.span.set_attribute("podium.tool.outcome", "interrupted")
    tool.span.end(end_time=max(end, tool.start))


def _on_abandon(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    _close_tools(run, time.time_ns(), "abandoned")


def _on_tools_error(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    now = time.time_ns()
    error = _dict(record.get("answer")).get("error")
    for tool in run.tools.values():
        _set_error(tool.span, error)
        tool.span.end(end_time=max(now, tool.start))
    run.tools.clear()


def _on_take(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    taken = _dict(record.get("answer")).get("value")
    if isinstance(taken, list) and taken:
        attributes: dict[str, Any] = {"podium.messages": len(taken)}
        if sink.capture_content:
            messages = [m.get("v") if isinstance(m, dict) and m.get("$") == "message" else m for m in taken]
            attributes["gen_ai.input.messages"] = _json(input_messages([m for m in messages if isinstance(m, dict)]))
        run.span.add_event("podium.steering", attributes)


def _on_decision(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    decision = record.get("decision") or {}
    name = str(decision.get("$", "")).rpartition(":")[2].lower() if isinstance(decision, dict) else ""
    run.span.add_event(
        "podium.approval.decision",
        {
            "gen_ai.tool.call.id": str(record.get("call_id") or ""),
            "gen_ai.tool.name": str(record.get("tool") or ""),
            "podium.decision": name or "unknown",
            "podium.decision.source": str(record.get("source") or ""),
        },
    )


def _on_compaction(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    attributes: dict[str, Any] = {
        "podium.step": _int(record.get("step")),
        "podium.compaction.tokens_before": _int(record.get("tokens_before")),
        "podium.compaction.tokens_after": _int(record.get("tokens_after")),
        "podium.compaction.strategies": [str(s) for s in _list(record.get("strategies"))],
    }
    run.span.add_event("podium.compaction", attributes)


def _on_paused(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    run.span.add_event("podium.paused", {"podium.pending": [str(c) for c in _list(record.get("pending"))]})


def _on_end(sink: OTelSink, run: _Run, record: dict[str, Any], trace: Trace | None) -> None:
    sink._end(run, record, trace)
    with sink._lock:
        if trace is not None and sink._runs.get(trace) is run:
            del sink._runs[trace]
        elif trace is None and sink._direct is run:
            sink._direct = None


_HANDLERS = {
    "request": _on_request,
    "response": _on_response,
    "tools": _on_tools,
    "tools_error": _on_tools_error,
    "take": _on_take,
    "tool": _on_tool,
    "abandon": _on_abandon,
    "decision": _on_decision,
    "compaction": _on_compaction,
    "paused": _on_paused,
    "end": _on_end,
}


# -- helpers


def _calling_trace() -> Trace | None:
    """The :class:`Trace` whose ``append`` called the sink (``None`` when called some other way).

    A sink is called with a record only; the trace it belongs to tells concurrent runs apart. It is the
    ``self`` of the nearest ``Trace.append`` up the stack (the sink may be wrapped in a function or two).
    """
    frame: FrameType | None = sys._getframe(2)  # 0: here, 1: OTelSink.__call__
    for _ in range(_FRAMES):
        if frame is None:
            return None
        if frame.f_code is _APPEND:
            owner = frame.f_locals.get("self")
            return owner if isinstance(owner, Trace) else None
        frame = frame.f_back
    return None


_APPEND = Trace.append.__code__
_FRAMES = 4
"""How far up the stack the sink looks for the ``Trace.append`` that called it."""


def _parent_call(record: dict[str, Any]) -> _Tool | None:
    """The open tool call that started the run of ``record`` (a sub-agent's), claimed; else ``None``."""
    parent = _ACTIVE.get()
    if parent is None or parent.closed or parent.where == _where():
        return None  # not started from a tool: from the code that drives the parent run, between its events
    prompt = "".join(
        str(p.get("text", "")) for p in record.get("prompt") or [] if isinstance(p, dict) and p.get("type") == "text"
    )
    agent = str(record.get("agent") or "")
    with parent.lock:
        open_calls = [t for t in parent.tools.values() if not t.claimed]
        chosen = next((t for t in open_calls if prompt and _task(t.args) == prompt), None)
        chosen = chosen or next((t for t in open_calls if t.name == agent), None)
        chosen = chosen or (open_calls[0] if open_calls else None)
        if chosen is not None:
            chosen.claimed = True
        return chosen


def _where() -> tuple[int, object]:
    """This thread and asyncio task (a tool or sub-agent runs on another thread, or as another task)."""
    task = None
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running event loop in this thread
            task = None
    return threading.get_ident(), task


def _task(args: Any) -> str | None:
    if not isinstance(args, dict):
        return None
    task = args.get("task")
    if isinstance(task, str):
        return task
    values = list(args.values())
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


def _finish(run: _Run, now: int) -> None:
    run.closed = True
    if run.finalizer is not None:
        run.finalizer.detach()
    end = max(now, run.start)
    run.span.end(end_time=end)
    if run.parent is not None:
        run.parent.child_end = max(run.parent.child_end, end)
    if run.outer is not None:
        try:
            _ACTIVE.reset(run.outer)
        except ValueError:  # ended in another context than the one its tools started in
            if _ACTIVE.get() is run:
                _ACTIVE.set(None)
        run.outer = None


def _abandon(run: _Run) -> None:
    """End a run's spans that were left open (its trace was dropped, or recorded another run, before ``end``).

    The caller stopped the run (a stream left unfinished): like a cancellation, not an error.
    """
    with run.lock:
        if run.closed:
            return
        now = time.time_ns()
        _close_tools(run, now, "abandoned")
        _end_chat(run, now, "abandoned")
        run.span.set_attribute("podium.run.status", "abandoned")
        run.closed = True
        run.span.end(end_time=max(now, run.start))


def _close_tools(run: _Run, now: int, reason: str) -> None:
    """End the spans of calls the run stopped waiting for (cancelled, interrupted, dropped): not errors."""
    for tool in run.tools.values():
        tool.span.set_attribute("podium.tool.outcome", reason)
        tool.span.end(end_time=max(now, tool.start))
    run.tools.clear()


def _end_chat(run: _Run, now: int, reason: str) -> None:
    if run.chat is not None:
        run.chat.set_attribute("podium.interrupted", True)
        run.chat.set_attribute("podium.request.outcome", reason)
        run.chat.end(end_time=max(now, run.chat_start))
        run.chat = None


def _provider_attributes(provider: str) -> dict[str, str]:
    name, system = PROVIDER_NAMES.get(provider, (provider or "_OTHER", provider or "_OTHER"))
    return {"gen_ai.provider.name": name, "gen_ai.system": system}


def _settings_attributes(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        return {}
    out: dict[str, Any] = {}
    for key, name in _SETTINGS.items():
        value = settings.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    stop = settings.get("stop")
    if isinstance(stop, list) and stop:
        out["gen_ai.request.stop_sequences"] = [str(s) for s in stop]
    return out


def _prompt_attributes(record: dict[str, Any]) -> dict[str, Any]:
    parts = record.get("prompt")
    if not isinstance(parts, list):
        return {}
    return {"gen_ai.input.messages": _json(input_messages([{"role": "user", "parts": parts}]))}


def _request_tools(trace: Trace | None, record: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = record.get("tools")
    if isinstance(tools, list):
        return [t for t in tools if isinstance(t, dict)]
    if trace is not None and isinstance(tools, dict):
        try:
            return [t for t in trace.request_tools(record) if isinstance(t, dict)]
        except (LookupError, ValueError, TypeError):
            return None
    return None


def _response_of(value: Any) -> dict[str, Any]:
    """The response dict inside a ``response`` record's ``{"value"}`` (``{"$": "response", "v": ...}``)."""
    if isinstance(value, dict) and value.get("$") == "response":
        value = value.get("v")
    if isinstance(value, dict) and isinstance(value.get("response"), dict):
        value = value["response"]
    return value if isinstance(value, dict) else {}


def _set_response(span: Span, response: Mapping[str, Any]) -> None:
    if isinstance(response.get("model"), str):
        span.set_attribute("gen_ai.response.model", response["model"])
    details = response.get("provider_details")
    if isinstance(details, dict):
        response_id = details.get("id") or details.get("responseId")  # Gemini's is ``responseId``
        if isinstance(response_id, str) and response_id:
            span.set_attribute("gen_ai.response.id", response_id)
    if isinstance(response.get("finish_reason"), str):
        span.set_attribute("gen_ai.response.finish_reasons", [response["finish_reason"]])
    _set_usage(span, response.get("usage"))
    cost = response.get("cost")
    if isinstance(cost, (int, float)):
        span.set_attribute("podium.cost", float(cost))


def _set_usage(span: Span, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    for key, name in (
        ("input_tokens", "gen_ai.usage.input_tokens"),
        ("output_tokens", "gen_ai.usage.output_tokens"),
        ("cache_read_tokens", "gen_ai.usage.cache_read.input_tokens"),
        ("cache_write_tokens", "gen_ai.usage.cache_creation.input_tokens"),
        ("reasoning_tokens", "gen_ai.usage.reasoning.output_tokens"),
        ("requests", "podium.usage.requests"),
    ):
        value = usage.get(key)
        if isinstance(value, int) and (value or key in ("input_tokens", "output_tokens")):
            span.set_attribute(name, value)


def _set_error(span: Span, error: Any, *, fallback: str = "_OTHER") -> None:
    """Status ERROR, ``error.type`` and an ``exception`` event for an encoded error (or just ``fallback``)."""
    if isinstance(error, dict) and error.get("type"):
        module, _, name = str(error["type"]).partition(":")
        kind = name if module == "builtins" or not name else f"{module}.{name}"
        message = str(error.get("text") or error.get("message") or "")
        span.set_attribute("error.type", kind)
        status = (error.get("attrs") or {}).get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            span.set_attribute("http.response.status_code", status)
        span.add_event("exception", {"exception.type": kind, "exception.message": message})
        span.set_status(Status(StatusCode.ERROR, message[:500] or kind))
        return
    span.set_attribute("error.type", fallback)
    span.set_status(Status(StatusCode.ERROR, fallback))


def _result_content(result: Any) -> Any:
    """A tool result part (``{"$": "part", "v": {...}}``) as the conventions' tool call result: its content."""
    if isinstance(result, dict) and result.get("$") == "part":
        result = result.get("v")
    if isinstance(result, dict) and isinstance(result.get("content"), list):
        texts = [p.get("text") for p in result["content"] if isinstance(p, dict) and p.get("type") == "text"]
        if len(texts) == len(result["content"]):
            return "\n".join(str(t) for t in texts)
        return result["content"]
    return result


def _version() -> str | None:
    """Podium's version (the instrumentation scope's), if installed as a distribution."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("podium")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
