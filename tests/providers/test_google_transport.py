"""The Google provider's own transport: endpoints, keys, Vertex credentials and options (no google-genai).

Requests go over real HTTP to a local :class:`ReplayServer`. Google's own hosts (``https://...googleapis.com``)
are reached through :class:`ToLocal`, an ``httpx2`` transport that records the URL Podium built and sends
the request to the local server instead, so the default endpoints are checked without the network.
Vertex credentials are real google-auth credentials: a service-account key made here, whose token
endpoint is the local server.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest

import podium
from podium.exceptions import InvalidResponseError, UserError
from podium.messages import Message
from podium.providers.google import GoogleCache, GoogleModel, vertex_target
from podium.providers.retry import RetryPolicy
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer

CASSETTES = Path(__file__).parent.parent / "cassettes"
OK = Cassette.load(CASSETTES / "gemini" / "test_google_model.yaml").interactions[0]
NO_RETRY = RetryPolicy(max_retries=0)
HELLO = [Message.user("Hello!")]
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
VERTEX_MODEL = "publishers/google/models/gemini-2.5-flash:generateContent"
ENV = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-adc.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # no gcloud project of the machine


def answer(path: str, method: str = "POST", body: Any = None, status: int = 200) -> Interaction:
    """``OK``'s answer (or ``body`` as JSON) for ``method path``."""
    data = OK.body if body is None else json.dumps(body).encode()
    return Interaction(RecordedRequest(method, "http://x" + path, path, {}, None), status, OK.headers, data)


def serve(*interactions: Interaction) -> ReplayServer:
    return ReplayServer(Cassette(Path("synthetic"), list(interactions)))


class ToLocal(httpx2.BaseTransport):
    """Sends every request to ``target`` over plain HTTP; ``urls`` keeps the URLs as Podium built them."""

    def __init__(self, target: str) -> None:
        self.target = httpx2.URL(target)
        self.inner = httpx2.HTTPTransport()
        self.urls: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.urls.append(str(request.url))
        request.url = request.url.copy_with(scheme="http", host=self.target.host, port=self.target.port)
        return self.inner.handle_request(request)


def token_answer(token: str) -> Interaction:
    body = {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
    return answer("/token", body=body)


@pytest.fixture(scope="module")
def private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def service_account(path: Path, private_key: str, token_uri: str, project: str | None) -> Path:
    info = {
        "type": "service_account",
        "client_email": "podium-test@example.iam.gserviceaccount.com",
        "client_id": "1",
        "private_key_id": "k1",
        "private_key": private_key,
        "token_uri": token_uri,
    }
    if project is not None:
        info["project_id"] = project
    path.write_text(json.dumps(info))
    return path


def token(value: str) -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token=value)  # type: ignore[no-untyped-call]


# --------------------------------------------------------------------------- Gemini API


def test_gemini_default_endpoint_key_header_and_key_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """``GOOGLE_API_KEY`` wins over ``GEMINI_API_KEY`` (google-genai's order); the key is ``x-goog-api-key``."""
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key\n")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    with serve(answer(GEMINI_PATH)) as server:
        local = ToLocal(server.url)
        response = podium.model("google:gemini-2.5-flash", transport=local, retry=NO_RETRY).request(HELLO)
        sent = server.received[0]
    assert response.text == "Hello! How can I help you today?"
    assert local.urls == ["https://generativelanguage.googleapis.com" + GEMINI_PATH]
    assert sent.headers["x-goog-api-key"] == "google-key"
    assert "authorization" not in sent.headers
    assert sent.json == {"contents": [{"parts": [{"text": "Hello!"}], "role": "user"}]}


def test_gemini_key_from_gemini_api_key_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    with serve(answer("/prefix/v1alpha/models/gemini-2.5-flash:generateContent")) as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url + "/prefix/")
        model = GoogleModel("gemini-2.5-flash", api_version="v1alpha", retry=NO_RETRY)
        assert model.request(HELLO).text == "Hello! How can I help you today?"
        assert server.received[0].headers["x-goog-api-key"] == "gemini-key"
        assert model.base_url == server.url + "/prefix"


def test_stream_keeps_alt_sse_next_to_default_query_and_client_params() -> None:
    """httpx replaces a URL's query with given params; the transport merges them, so ``alt=sse`` stays."""
    stream = Cassette.load(CASSETTES / "gemini" / "test_google_model_stream.yaml").interactions[0]
    with ReplayServer(Cassette(Path("synthetic"), [stream])) as server:
        model = GoogleModel(
            "gemini-2.0-flash-exp",
            base_url=server.url,
            api_key="k",
            default_query={"tag": "x"},
            http_client=httpx2.Client(params={"client": "1"}),
            retry=NO_RETRY,
        )
        final = list(model.stream([Message.user("What is the capital of France?")]))[-1]
        received = server.received[0]
    assert received.path == "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent"
    assert sorted(received.query.split("&")) == ["alt=sse", "client=1", "tag=x"]
    assert received.headers["accept"] == "text/event-stream"
    assert final.text == "The capital of France is Paris.\n"  # type: ignore[union-attr]


def test_given_http_clients_are_the_ones_used() -> None:
    """``http_client=`` / ``async_http_client=`` replace the SDK client argument: requests go through them."""
    seen: list[str] = []

    def hook(request: httpx2.Request) -> None:
        seen.append(f"sync {request.url.path}")

    async def ahook(request: httpx2.Request) -> None:
        seen.append(f"async {request.url.path}")

    client = httpx2.Client(event_hooks={"request": [hook]})
    aclient = httpx2.AsyncClient(event_hooks={"request": [ahook]})
    with serve(answer(GEMINI_PATH), answer(GEMINI_PATH)) as server:
        model = GoogleModel(
            "gemini-2.5-flash",
            base_url=server.url,
            api_key="k",
            http_client=client,
            async_http_client=aclient,
            retry=NO_RETRY,
        )
        assert model.request(HELLO).text == asyncio.run(model.arequest(HELLO)).text
    assert seen == [f"sync {GEMINI_PATH}", f"async {GEMINI_PATH}"]


def test_a_json_chunk_that_is_not_an_object_is_an_invalid_response() -> None:
    bad = Interaction(
        RecordedRequest("POST", "http://x", "/v1beta/models/m:streamGenerateContent", {}, None),
        200,
        {"content-type": "text/event-stream"},
        b'data: ["not", "a", "chunk"]\r\n\r\n',
    )
    with serve(bad) as server:
        model = GoogleModel("m", base_url=server.url, api_key="k", retry=NO_RETRY)
        with pytest.raises(InvalidResponseError, match="list JSON where a generateContent response belongs"):
            list(model.stream(HELLO))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"client": object()}, ["client=", "http_client="]),
        ({"http_options": {"timeout": 1000}}, ["http_options=", "timeout="]),
        ({"project": "p"}, ["project=", "google-vertex"]),
        ({"credentials": object(), "location": "us"}, ["location=, credentials=", "vertex=True"]),
        ({"debug_config": {}}, ["unknown option", "debug_config"]),
    ],
)
def test_options_that_are_not_for_the_gemini_api_are_refused(options: dict[str, Any], words: list[str]) -> None:
    GoogleModel("gemini-2.5-flash", api_key="k", client=None, http_options=None)  # None: nothing to refuse
    with pytest.raises(UserError) as info:
        GoogleModel("gemini-2.5-flash", api_key="k", **options)
    for word in words:
        assert word in str(info.value)


# --------------------------------------------------------------------------- Vertex AI: endpoints


def test_vertex_default_endpoint_project_from_adc_service_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, private_key: str
) -> None:
    """No project given: Application Default Credentials name it; their token (refreshed) is the bearer."""
    with serve(
        token_answer("ya29.local-token"), answer(f"/v1beta1/projects/adc-project/locations/global/{VERTEX_MODEL}")
    ) as server:
        adc = service_account(tmp_path / "sa.json", private_key, server.url + "/token", "adc-project")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        local = ToLocal(server.url)
        model = podium.model("google-vertex:gemini-2.5-flash", transport=local, retry=NO_RETRY)
        response = model.request(HELLO)
        token_request, sent = server.received
    assert local.urls == [
        f"https://aiplatform.googleapis.com/v1beta1/projects/adc-project/locations/global/{VERTEX_MODEL}"
    ]
    assert token_request.path == "/token"
    assert b"assertion=" in token_request.body  # the service account's signed JWT, sent by google-auth
    assert sent.headers["authorization"] == "Bearer ya29.local-token"
    assert response.provider == "google-vertex"
    assert response.text == "Hello! How can I help you today?"


def test_vertex_without_any_project_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, private_key: str
) -> None:
    adc = service_account(tmp_path / "sa.json", private_key, "http://127.0.0.1:9/token", None)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    model = podium.model("google-vertex:gemini-2.5-flash")
    with pytest.raises(UserError, match="the credentials name no project") as info:
        model.request(HELLO)
    assert "project=" in str(info.value)
    assert "GOOGLE_CLOUD_PROJECT" in str(info.value)


def test_vertex_project_and_location_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    monkeypatch.setenv("GOOGLE_API_KEY", "ignored: the project from the environment wins")
    path = f"/v1beta1/projects/env-project/locations/europe-west4/{VERTEX_MODEL}"
    with serve(answer(path)) as server:
        local = ToLocal(server.url)
        GoogleModel("gemini-2.5-flash", vertex=True, credentials=token("t1"), transport=local).request(HELLO)
        sent = server.received[0]
    assert local.urls == ["https://europe-west4-aiplatform.googleapis.com" + path]
    assert sent.headers["authorization"] == "Bearer t1"
    assert "x-goog-api-key" not in sent.headers


def test_vertex_express_mode_with_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")  # a given key beats a project from the environment
    with serve(answer(f"/v1beta1/{VERTEX_MODEL}")) as server:
        local = ToLocal(server.url)
        model = podium.model("google-vertex:gemini-2.5-flash", api_key="vertex-key", transport=local)
        assert model.request(HELLO).text == "Hello! How can I help you today?"
        sent = server.received[0]
    assert local.urls == [f"https://aiplatform.googleapis.com/v1beta1/{VERTEX_MODEL}"]
    assert sent.headers["x-goog-api-key"] == "vertex-key"
    assert "authorization" not in sent.headers


def test_vertex_quota_project_header_and_api_version() -> None:
    from google.oauth2.credentials import Credentials

    credentials = Credentials(token="t2", quota_project_id="billing-project")  # type: ignore[no-untyped-call]
    path = f"/v1/projects/p/locations/us-central1/{VERTEX_MODEL}"
    with serve(answer(path)) as server:
        model = GoogleModel(
            "gemini-2.5-flash",
            vertex=True,
            project="p",
            location="us-central1",
            credentials=credentials,
            base_url=server.url,
            api_version="v1",
        )
        asyncio.run(model.arequest(HELLO))
        sent = server.received[0]
    assert sent.path == path
    assert sent.headers["authorization"] == "Bearer t2"
    assert sent.headers["x-goog-user-project"] == "billing-project"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        # (base_url, project, location, api_key)
        ({"project": "p"}, {}, ("https://aiplatform.googleapis.com", "p", "global", None)),
        ({"project": "p", "location": "us"}, {}, ("https://aiplatform.us.rep.googleapis.com", "p", "us", None)),
        (
            {"project": "p", "location": "asia-east1"},
            {},
            ("https://asia-east1-aiplatform.googleapis.com", "p", "asia-east1", None),
        ),
        ({"project": "p"}, {"GEMINI_API_KEY": "k"}, ("https://aiplatform.googleapis.com", "p", "global", None)),
        ({}, {"GOOGLE_API_KEY": "k"}, ("https://aiplatform.googleapis.com", None, None, "k")),
        (
            {},
            {"GOOGLE_API_KEY": "k", "GOOGLE_CLOUD_PROJECT": "e"},
            ("https://aiplatform.googleapis.com", "e", "global", None),
        ),
        ({"api_key": "k"}, {"GOOGLE_CLOUD_PROJECT": "e"}, ("https://aiplatform.googleapis.com", None, None, "k")),
        (
            {"api_key": "k", "project": "p", "location": "eu"},
            {},
            ("https://aiplatform.eu.rep.googleapis.com", "p", "eu", "k"),
        ),
        ({"credentials": "c"}, {"GOOGLE_API_KEY": "k"}, ("https://aiplatform.googleapis.com", None, "global", None)),
        (
            {"base_url": "https://eu-aiplatform.googleapis.com/"},
            {},
            ("https://eu-aiplatform.googleapis.com", None, "global", None),
        ),
        ({}, {"GOOGLE_VERTEX_BASE_URL": "http://gw", "GOOGLE_CLOUD_PROJECT": "e"}, ("http://gw", None, None, None)),
    ],
)
def test_vertex_target_follows_google_genai(
    args: dict[str, Any], env: dict[str, str], expected: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    full = {"project": None, "location": None, "api_key": None, "credentials": None, "base_url": None, **args}
    target = vertex_target(**full)
    assert (target.base_url, target.project, target.location, target.api_key) == expected
    assert target.gateway == (expected[0] == "http://gw")


def test_vertex_gateway_gets_the_requests_at_its_own_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """A base URL of one's own with no project nor key is a gateway: google-genai posts to that URL itself."""
    with serve(answer("/gw/generate")) as server:
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
        model = GoogleModel("gemini-2.5-flash", vertex=True, base_url=server.url + "/gw/generate", retry=NO_RETRY)
        assert model.request(HELLO).text == "Hello! How can I help you today?"
        assert "authorization" not in server.received[0].headers


def test_vertex_credentials_and_key_together_or_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(UserError, match="credentials= or api_key=, not both"):
        GoogleModel("gemini-2.5-flash", vertex=True, api_key="k", credentials=token("t"))
    with pytest.raises(UserError, match="takes google-auth credentials"):
        GoogleModel("gemini-2.5-flash", vertex=True, project="p", credentials="a-token-string")


# --------------------------------------------------------------------------- explicit caches on Vertex


def test_vertex_cache_create_and_delete_paths() -> None:
    scope = "/v1beta1/projects/p/locations/us-central1"
    created = {"name": "projects/p/locations/us-central1/cachedContents/c1", "usageMetadata": {"totalTokenCount": 7}}
    with serve(
        answer(f"{scope}/cachedContents", body=created),
        answer(f"{scope}/cachedContents/c1", method="DELETE", body={}),
        answer(f"{scope}/cachedContents", body=created),
        answer(f"{scope}/cachedContents/c1", method="DELETE", body={}),
    ) as server:
        model = GoogleModel(
            "gemini-2.5-flash",
            vertex=True,
            project="p",
            location="us-central1",
            credentials=token("t"),
            base_url=server.url,
        )
        cache = model.create_cache([Message.system("Be brief."), Message.user("x" * 10)], ttl=60)
        model.delete_cache(cache)

        async def both() -> GoogleCache:
            again = await model.acreate_cache([Message.user("y")], display_name="d")
            await model.adelete_cache(again.name)
            return again

        again = asyncio.run(both())
        assert not server.unplayed
        sent = server.received[0].json
        assert [r.method for r in server.received] == ["POST", "DELETE", "POST", "DELETE"]
        assert server.received[1].body == b""
    assert sent["model"] == "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash"
    assert sent["ttl"] == "60s"
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}], "role": "user"}
    assert cache == again
    assert cache.tokens == 7


# --------------------------------------------------------------------------- no SDK


def test_no_google_genai_import_anywhere_in_podium() -> None:
    src = Path(__file__).parents[2] / "src" / "podium"
    offenders = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n == "google.genai" or n.startswith("google.genai.") for n in names):
                offenders.append(str(path.relative_to(src)))
    assert offenders == []


def test_a_gemini_request_loads_neither_google_genai_nor_google_auth() -> None:
    code = (
        "import sys, podium\n"
        "from podium.testing.cassette import Cassette, ReplayServer\n"
        f"cassette = Cassette.load({str(CASSETTES / 'gemini' / 'test_google_model.yaml')!r})\n"
        "with ReplayServer(cassette) as server:\n"
        "    model = podium.model('google:gemini-2.5-flash', base_url=server.url, api_key='k')\n"
        "    assert model.request([podium.Message.user('Hello!')]).text\n"
        "loaded = [m for m in sys.modules if m.startswith(('google.genai', 'google.auth'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
