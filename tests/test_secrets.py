"""podium.secrets: which values are secrets, how they are scrubbed, and where (logs, errors, registration)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated

import pytest

import podium
import podium.secrets as secrets
from podium import Agent, Injected, tool
from podium.exceptions import AuthenticationError, ProviderConnectionError, ProviderHTTPError
from podium.testing import ScriptedModel
from podium.testing.models import call

KEY = "sk-live-4c1f0a9e7b2d4e6f8a1c3b5d7e9f0a2b"


@pytest.fixture
def forget() -> Iterator[list[str]]:
    """Values a test registers; unregistered afterwards so other tests see a clean registry."""
    values: list[str] = []
    yield values
    for value in values:
        secrets.unregister(value)


def test_provider_key_variables_are_secrets_and_the_marker_names_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert secrets.scrub(f"key={KEY}.") == "key=[REDACTED:ANTHROPIC_API_KEY]."
    assert "ANTHROPIC_API_KEY" in secrets.known_names()
    monkeypatch.delenv("ANTHROPIC_API_KEY")  # the environment is read again when it changes
    assert secrets.scrub(f"key={KEY}.") == f"key={KEY}."


def test_every_provider_key_variable_and_credential_named_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [*secrets.PROVIDER_KEY_ENV, "MY_SERVICE_TOKEN", "HF_TOKEN", "DB_PASSWORD", "STRIPE_SECRET_KEY"]
    for i, name in enumerate(names):
        monkeypatch.setenv(name, f"value-{i:02d}-of-a-credential")
    text = " ".join(f"value-{i:02d}-of-a-credential" for i in range(len(names)))
    assert secrets.scrub(text) == " ".join(f"[REDACTED:{name}]" for name in names)


def test_short_values_placeholders_and_ordinary_variables_are_not_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "abc")  # too short: would match ordinary text
    monkeypatch.setenv("VLLM_API_KEY", "not-needed")
    monkeypatch.setenv("MAX_TOKENS_HINT", "some-ordinary-value")  # not a credential name
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false-or-whatever")
    text = "abc not-needed some-ordinary-value false-or-whatever"
    assert secrets.scrub(text) is text


def test_registered_values_json_escaped_forms_and_longest_first(forget: list[str]) -> None:
    quoted = 'pa"ss\\word-with-escapes'
    forget += [quoted, "hunter2-hunter2", "hunter2-hunter2-and-more"]
    secrets.register(quoted, "db-password")
    secrets.register("hunter2-hunter2", "short")
    secrets.register("hunter2-hunter2-and-more", "long")
    assert secrets.scrub(json.dumps({"p": quoted})) == '{"p": "[REDACTED:db-password]"}'
    assert secrets.scrub("hunter2-hunter2-and-more / hunter2-hunter2") == "[REDACTED:long] / [REDACTED:short]"
    forget.append("key+with/slash=")
    secrets.register("key+with/slash=", "b64")
    assert secrets.scrub("https://h/?k=key%2Bwith%2Fslash%3D&x=1") == "https://h/?k=[REDACTED:b64]&x=1"
    secrets.unregister("hunter2-hunter2")
    assert secrets.scrub("hunter2-hunter2") == "hunter2-hunter2"


def test_scrub_json_stays_valid_json_even_when_the_secret_has_json_syntax(forget: list[str]) -> None:
    tricky = 'vapi-","x":"'  # a value whose raw form spans a string boundary of the document
    forget.append(tricky)
    secrets.register(tricky, "tricky")
    document = json.dumps({"a": f"\nvapi-{tricky}", "b": ["ok", {"k": tricky}]}, ensure_ascii=False)
    clean = secrets.scrub_json(document)
    assert json.loads(clean) == {"a": "\nvapi-[REDACTED:tricky]", "b": ["ok", {"k": "[REDACTED:tricky]"}]}
    plain = json.dumps({"a": "nothing here"})
    assert secrets.scrub_json(plain) is plain


def test_credential_shapes_only_when_asked() -> None:
    text = (
        "Authorization: Bearer abcdefghijklmnop12 x-api-key: zyxwvutsrqponm98 "
        '"api_key": "qwertyuiopasdf" https://h/v1?key=AIzaSyA-abcdefghijklmnopqrstuvwxyz01234&alt=sse '
        "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX gsk_0123456789abcdefghijkl AKIAIOSFODNN7EXAMPLE"
    )
    assert secrets.scrub(text) is text  # conversation content: exact values only
    clean = secrets.scrub(text, shapes=True)
    for leaked in ("abcdefghijklmnop12", "zyxwvutsrqponm98", "qwertyuiopasdf", "AIzaSy", "sk-proj-", "gsk_", "AKIA"):
        assert leaked not in clean, clean
    assert clean.startswith("Authorization: Bearer [REDACTED:credential] x-api-key: [REDACTED:credential]")
    assert "&alt=sse" in clean
    ordinary = "use scikit-learn (sk-learn) and the bearer of bad news; api key rotation is due"
    assert secrets.scrub(ordinary, shapes=True) is ordinary


def test_scrub_value_walks_containers_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", KEY)
    value = {"a": [KEY, (1, KEY.encode())], KEY: None, "n": 3}
    assert secrets.scrub_value(value) == {
        "a": ["[REDACTED:GROQ_API_KEY]", (1, b"[REDACTED:GROQ_API_KEY]")],
        "[REDACTED:GROQ_API_KEY]": None,
        "n": 3,
    }


def test_records_of_podium_child_loggers_and_sdk_loggers_are_scrubbed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("podium.store.deep.child").warning("sent %s", KEY)
    logging.getLogger("httpx").debug("Authorization: Bearer %s", "tok-abcdefghijklmnopq")
    try:
        raise RuntimeError(f"the server said {KEY}")
    except RuntimeError:
        logging.getLogger("podium.providers").exception("request failed")
    logging.getLogger("someone.else").warning("theirs %s", KEY)  # not Podium's business
    podium_text = "\n".join(caplog.handler.format(r) for r in caplog.records if not r.name.startswith("someone"))
    assert KEY not in podium_text
    assert "tok-abcdefghijklmnopq" not in podium_text
    assert "sent [REDACTED:OPENAI_API_KEY]" in podium_text
    assert "RuntimeError: the server said [REDACTED:OPENAI_API_KEY]" in podium_text
    assert caplog.records[-1].getMessage() == f"theirs {KEY}"


def test_the_filter_for_other_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    record = logging.LogRecord("someone.else", logging.INFO, __file__, 1, "k=%s", (KEY,), None)
    assert secrets.SecretFilter().filter(record)
    assert record.getMessage() == "k=[REDACTED:OPENAI_API_KEY]"


def test_provider_errors_are_scrubbed_when_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    error = AuthenticationError(
        f"bad key {KEY}",
        status=401,
        body={"error": {"message": f"bad key {KEY}"}, "raw": f"Bearer {KEY}".encode()},
        headers={"x-echo": KEY},
        provider="mistral",
    )
    assert KEY not in str(error)
    assert KEY not in repr(error.body) and KEY not in repr(error.headers)
    assert str(error).startswith("bad key [REDACTED:MISTRAL_API_KEY] (HTTP 401")
    unknown = ProviderConnectionError("could not reach https://h/v1/models?key=AIzaSyA-abcdefghijklmnopqrstuvwxyz0123")
    assert "AIzaSy" not in str(unknown)
    assert isinstance(error, ProviderHTTPError)


def test_a_key_given_to_podium_model_is_a_secret(forget: list[str]) -> None:
    explicit = "explicit-key-0123456789abcdef"
    forget.append(explicit)
    podium.model("openai:gpt-4o-mini", api_key=explicit, base_url="http://127.0.0.1:9/v1")
    assert secrets.scrub(f"x {explicit} y") == "x [REDACTED:openai:api_key] y"


def test_an_injected_value_is_a_secret_once_a_tool_got_it(forget: list[str]) -> None:
    token = "injected-token-9f8e7d6c5b4a"
    forget.append(token)

    @tool
    def lookup(query: str, token: Annotated[str, Injected()]) -> str:
        """Look something up.

        Args:
            query: What to look up.
        """
        return f"looked up {query} with {token}"

    agent = Agent(ScriptedModel([[call("lookup", {"query": "x"})], "done"]), tools=[lookup], inject={"token": token})
    assert secrets.scrub(token) == token  # not used yet
    result = agent.run("go")
    assert token in result.messages[2].tool_results[0].text  # the run itself is untouched
    assert secrets.scrub(token) == "[REDACTED:injected:token]"


def test_automatic_registrations_are_bounded() -> None:
    values = [f"automatic-value-{i:06d}" for i in range(secrets._MAX_AUTOMATIC + 10)]
    try:
        for value in values:
            secrets.register_automatic(value, "auto")
        assert secrets.scrub(values[0]) == values[0]  # the oldest were forgotten
        assert secrets.scrub(values[-1]) == "[REDACTED:auto]"
    finally:
        for value in values:
            secrets.unregister(value)


def test_podium_secrets_is_there_after_import_podium() -> None:
    assert podium.secrets is secrets
    assert logging.getLogRecordFactory().__module__ == "podium.secrets"


def test_the_docs_example_runs() -> None:
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "secrets.md"
    [block] = re.findall(r"```python\n(.*?)```", doc.read_text(), re.DOTALL)
    exec(compile(block, str(doc), "exec"), {})
    assert "vault-token" not in secrets.known_names()
