"""Tool-calling success of a local GGUF model through Podium's parser and loop.

A fixed set of 26 single-tool prompts (is the first response exactly the expected call?) and 5 round
trips (does the agent call the tool, get the result, and answer with it, within 4 steps?).

    python bench/local_tools.py                      # the default embedded model (SmolLM2-135M)
    python bench/local_tools.py /path/to/model.gguf  # any GGUF
    python bench/local_tools.py --json out.json

Results for the models the docs recommend are in docs/local-models.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from podium import Agent, tool
from podium.messages import Message
from podium.providers.local import LocalModel


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return f"It is 22 degrees and sunny in {city}."


@tool
def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


@tool
def write_file(path: str, content: str) -> str:
    """Write text to a file.

    Args:
        path: File path.
        content: The text to write.
    """
    return f"wrote {len(content)} characters to {path}"


@tool
def search_web(query: str) -> str:
    """Search the web.

    Args:
        query: What to search for.
    """
    return f"Top result for {query!r}: example.org"


@tool
def convert_currency(amount: float, to: str) -> str:
    """Convert an amount of US dollars to another currency.

    Args:
        amount: Amount in USD.
        to: Target currency code, like EUR.
    """
    return f"{amount} USD is {amount * 0.9:.2f} {to}"


TOOLS = [get_weather, add, write_file, search_web, convert_currency]

# (prompt, expected tool, expected arguments: substrings (case-insensitive) or numbers)
PROMPTS: list[tuple[str, str, dict[str, Any]]] = [
    ("What is the weather in Paris?", "get_weather", {"city": "paris"}),
    ("What's the weather like in Tokyo today?", "get_weather", {"city": "tokyo"}),
    ("Is it raining in London?", "get_weather", {"city": "london"}),
    ("Weather in Berlin please.", "get_weather", {"city": "berlin"}),
    ("Tell me the weather for New York.", "get_weather", {"city": "new york"}),
    ("How hot is it in Cairo right now?", "get_weather", {"city": "cairo"}),
    ("Add 3 and 4.", "add", {"a": 3, "b": 4}),
    ("What is 12 plus 30?", "add", {"a": 12, "b": 30}),
    ("Compute 2.5 + 7.", "add", {"a": 2.5, "b": 7}),
    ("Please add 100 and 250.", "add", {"a": 100, "b": 250}),
    ("What do you get if you add 9 to 16?", "add", {"a": 9, "b": 16}),
    ("Sum 1.5 and 1.5 for me.", "add", {"a": 1.5, "b": 1.5}),
    ("Create a file hello.txt containing hi", "write_file", {"path": "hello.txt", "content": "hi"}),
    ("Write 'buy milk' to todo.txt.", "write_file", {"path": "todo.txt", "content": "buy milk"}),
    ("Save the text 'done' in status.txt.", "write_file", {"path": "status.txt", "content": "done"}),
    ("Make a file notes.md with the content '# Notes'.", "write_file", {"path": "notes.md", "content": "# notes"}),
    ("Put 'hello world' into greeting.txt.", "write_file", {"path": "greeting.txt", "content": "hello world"}),
    ("Search the web for python asyncio tutorial.", "search_web", {"query": "asyncio"}),
    ("Look up the latest news about Mars rovers online.", "search_web", {"query": "mars"}),
    ("Find information on the web about the Eiffel Tower.", "search_web", {"query": "eiffel"}),
    ("Search for 'best pizza in Naples'.", "search_web", {"query": "pizza"}),
    ("Google the population of Canada.", "search_web", {"query": "canada"}),
    ("Convert 100 dollars to EUR.", "convert_currency", {"amount": 100, "to": "eur"}),
    ("How much is 50 USD in GBP?", "convert_currency", {"amount": 50, "to": "gbp"}),
    ("Change 20 US dollars into JPY.", "convert_currency", {"amount": 20, "to": "jpy"}),
    ("Convert 7.5 USD to CHF please.", "convert_currency", {"amount": 7.5, "to": "chf"}),
]

ROUND_TRIPS: list[tuple[str, str]] = [
    ("What is the weather in Paris?", "22"),
    ("Add 3 and 4.", "7"),
    ("Convert 100 dollars to EUR.", "90"),
    ("Weather in Oslo please.", "22"),
    ("What is 12 plus 30?", "42"),
]


def _arg_ok(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (int, float)):
        try:
            return abs(float(actual) - float(expected)) < 1e-9
        except (TypeError, ValueError):
            return False
    return isinstance(actual, str) and expected.lower() in actual.lower()


def single_call(model: LocalModel, prompt: str, name: str, args: dict[str, Any]) -> tuple[bool, str]:
    response = model.request([Message.user(prompt)], tools=[t.definition for t in TOOLS])
    calls = response.tool_calls
    ok = len(calls) == 1 and calls[0].name == name and all(_arg_ok(v, calls[0].args.get(k)) for k, v in args.items())
    shown = "; ".join(f"{c.name}({json.dumps(c.args)})" for c in calls) or repr(response.text[:80])
    return ok, shown


def round_trip(model: LocalModel, prompt: str, expect: str) -> tuple[bool, str]:
    agent = Agent(model, tools=TOOLS, max_steps=4)
    try:
        result = agent.run(prompt)
    except Exception as exc:  # report, do not stop the evaluation
        return False, f"{type(exc).__name__}: {exc}"[:120]
    called = any(m.role == "tool" for m in result.messages)
    ok = called and expect in result.output
    return ok, f"steps={result.steps} called={called} answer={result.output[:80]!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default="", help="GGUF path (default: the embedded SmolLM2)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    model = LocalModel(args.model, n_threads=args.threads)
    started = time.perf_counter()
    singles = []
    for prompt, name, expected in PROMPTS:
        ok, shown = single_call(model, prompt, name, expected)
        singles.append({"prompt": prompt, "ok": ok, "got": shown})
        print(f"{'PASS' if ok else 'fail'}  {prompt:55} -> {shown}", flush=True)
    trips = []
    for prompt, expect in ROUND_TRIPS:
        ok, shown = round_trip(model, prompt, expect)
        trips.append({"prompt": prompt, "ok": ok, "got": shown})
        print(f"{'PASS' if ok else 'fail'}  round trip {prompt:44} -> {shown}", flush=True)
    summary = {
        "model": model.model_name,
        "single_calls": f"{sum(s['ok'] for s in singles)}/{len(singles)}",
        "round_trips": f"{sum(t['ok'] for t in trips)}/{len(trips)}",
        "seconds": round(time.perf_counter() - started, 1),
        "threads": model.n_threads,
    }
    print(json.dumps(summary), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "single": singles, "round_trips": trips}, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
