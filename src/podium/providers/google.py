"""Google Gemini, on the Gemini API (provider ``google``) and on Vertex AI (provider ``google-vertex``).

Podium builds the ``generateContent`` JSON and reads the answers itself
(:mod:`podium.providers.google_wire`) and sends them over its own transport
(:mod:`podium.providers.transport`); no Google SDK is imported. Vertex's credentials come from
``google-auth`` (``pip install 'podium[google]'``).

**Gemini API**: ``POST {base}/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse``
for streams), base ``https://generativelanguage.googleapis.com`` (or ``GOOGLE_GEMINI_BASE_URL``, or
``base_url=``), the key from ``api_key=``, else ``GOOGLE_API_KEY``, else ``GEMINI_API_KEY`` (the order of
google-genai) in the ``x-goog-api-key`` header.

**Vertex AI**: ``GoogleModel(name, vertex=True, project=..., location=...)`` or
``podium.model("google-vertex:gemini-2.5-flash", project=..., location=...)`` sends to
``https://{location}-aiplatform.googleapis.com/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent``
(``aiplatform.googleapis.com`` for the ``global`` location, the default; ``aiplatform.{us,eu}.rep.googleapis.com``
for the multi-regions). Project and location default to ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION``,
then the project of Application Default Credentials; requests carry their bearer token (``credentials=``
to give others). With an API key and no project, Vertex is used in express mode (``x-goog-api-key``).
``GOOGLE_VERTEX_BASE_URL`` or ``base_url=`` replaces the host; google-genai's rules for which of the explicit
arguments and the environment variables win are kept (:func:`vertex_target`). API versions: ``v1beta`` on the
Gemini API, ``v1beta1`` (or ``GOOGLE_GENAI_API_VERSION``) on Vertex; pass ``api_version=``.

Settings: temperature, max_tokens, top_p, stop, seed, thinking (``thinkingConfig``, see
:func:`~podium.providers.google_wire.thinking_config`), tool_choice (``toolConfig``; a forced tool
uses ``allowedFunctionNames``), timeout; ``parallel_tool_calls`` has no Gemini switch and is
ignored. ``ModelSettings(extra={"google": {...}})`` is deep-merged into the body last (for example
``safetySettings`` or ``generationConfig.responseModalities``); ``cached_content`` names an explicit
context cache made with :meth:`GoogleModel.create_cache`.

Errors, retries, timeouts and the end of a stream (a candidate's ``finishReason``, or a blocked prompt;
Gemini sends no other end marker) are the transport's: a 400 with reason ``API_KEY_INVALID`` is an
:class:`~podium.exceptions.AuthenticationError`, a 429's ``RetryInfo.retryDelay`` fills ``retry_after``,
an error chunk inside a stream is the error its ``code`` gives.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podium.exceptions import UserError
from podium.messages import JsonDict
from podium.messages import Message
from podium.messages import ModelResponse
from podium.providers.base import WireCall
from podium.providers.google_wire import GeminiAccumulator
from podium.providers.google_wire import build_request
from podium.providers.profiles import ModelProfile
from podium.providers.retry import call_with_retries
from podium.providers.retry import call_with_retries_async
from podium.providers.transport.auth import GoogleAuth
from podium.providers.transport.auth import HeaderAuth
from podium.providers.transport.auth import MissingCredentials
from podium.providers.transport.auth import register_key
from podium.providers.transport.guard import JSON
from podium.providers.transport.guard import Deadline
from podium.providers.transport.guard import resolve_timeouts
from podium.providers.transport.http import Auth
from podium.providers.transport.http import Endpoint
from podium.providers.transport.http import dumps
from podium.providers.transport.model import StreamState
from podium.providers.transport.model import WireModel
from podium.settings import ModelSettings
from podium.settings import ToolDefinition

__all__ = ["GoogleCache", "GoogleModel", "VertexTarget", "google_profile", "vertex_model", "vertex_target"]

logger = logging.getLogger("podium.providers")

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
GEMINI_VERSION = "v1beta"
VERTEX_VERSION = "v1beta1"
_MULTI_REGIONS = frozenset({"us", "eu"})
_SDK_OPTIONS = {
    "client": "a google-genai client is no longer used: pass http_client=httpx2.Client(...) (and "
    "async_http_client=) to send through a client of your own",
    "http_options": "google-genai's http_options are no longer used: pass base_url=, api_version=, "
    "default_headers=, default_query= or timeout= (seconds) to the model",
}


@dataclass(frozen=True, slots=True)
class GoogleCache:
    """An explicit context cache (``cachedContents``) on the Gemini API or Vertex."""

    name: str
    """Resource name, such as ``cachedContents/abc123``; pass it as ``extra={"google": {"cached_content": name}}``."""
    model: str | None = None
    """The model the cache belongs to."""
    expire_time: str | None = None
    """When the cache expires (RFC 3339)."""
    tokens: int = 0
    """Tokens held by the cache."""
    details: JsonDict | None = None
    """The whole ``CachedContent`` resource as returned."""


def google_profile(model_name: str) -> ModelProfile:
    """Capabilities of a Gemini model family."""
    name = model_name.lower().rsplit("/", 1)[-1]
    if name.startswith("gemma"):
        return ModelProfile(context_window=131_072, vision=True, tools=False, structured_output=False)
    if "gemini-1.5" in name:
        window = 2_097_152 if "pro" in name else 1_048_576
        return ModelProfile(
            context_window=window, max_output_tokens=8192, vision=True, files=True, structured_output=True
        )
    if "gemini-2.0" in name:
        return ModelProfile(
            context_window=1_048_576,
            max_output_tokens=8192,
            vision=True,
            files=True,
            thinking="thinking" in name,
            structured_output=True,
        )
    if "gemini" in name:  # 2.5, 3 and later
        return ModelProfile(
            context_window=1_048_576,
            max_output_tokens=65_536,
            vision=True,
            files=True,
            thinking=True,
            structured_output=True,
        )
    return ModelProfile(vision=True, files=True, structured_output=True)


def env_api_key() -> str | None:
    """The key from ``GOOGLE_API_KEY``, else ``GEMINI_API_KEY`` (google-genai's order)."""
    google, gemini = os.environ.get("GOOGLE_API_KEY"), os.environ.get("GEMINI_API_KEY")
    if google and gemini:
        logger.debug("both GOOGLE_API_KEY and GEMINI_API_KEY are set; using GOOGLE_API_KEY")
    return google or gemini or None


@dataclass(frozen=True, slots=True)
class VertexTarget:
    """Where Vertex requests go and how they are authenticated (see :func:`vertex_target`)."""

    base_url: str
    """Scheme and host (and any path prefix) of every request."""
    project: str | None
    """The project; ``None`` with an API key, through a gateway, or when it comes from the credentials."""
    location: str | None
    """The location (``global`` unless given); ``None`` in express mode or through a gateway."""
    api_key: str | None
    """A Vertex API key (express mode), sent as ``x-goog-api-key`` instead of a bearer token."""
    gateway: bool
    """``base_url`` is a gateway of one's own with neither project nor key: requests carry no project path
    and, without a key, no credentials (the gateway adds them); with no key they go to ``base_url`` itself."""


def vertex_target(
    *, project: str | None, location: str | None, api_key: str | None, credentials: Any, base_url: str | None
) -> VertexTarget:
    """Resolve the Vertex endpoint from the arguments and the environment, as google-genai does.

    ``GOOGLE_CLOUD_PROJECT``, ``GOOGLE_CLOUD_LOCATION``, ``GOOGLE_API_KEY``/``GEMINI_API_KEY`` and
    ``GOOGLE_VERTEX_BASE_URL`` fill what is not given. An explicit argument beats the environment: given
    credentials, project or location drop a key from the environment; a given key drops a project and
    location from the environment; a project or location from the environment beats a key from it.

    Raises:
        UserError: Both ``credentials`` and ``api_key`` were given.
    """
    if credentials is not None and api_key:
        raise UserError("google-vertex takes credentials= or api_key=, not both: pass one of them")
    env_project = os.environ.get("GOOGLE_CLOUD_PROJECT") or None
    env_location = os.environ.get("GOOGLE_CLOUD_LOCATION") or None
    env_key = env_api_key()
    resolved_project, resolved_location, key = project or env_project, location or env_location, api_key or env_key
    explicit_place = bool(project or location)
    if (credentials is not None or explicit_place or (env_project or env_location)) and not api_key:
        key = None  # given credentials or a project (also one from the environment) beat a key from it
    elif api_key and not explicit_place:
        resolved_project = resolved_location = None  # a given key beats a project from the environment
    key = key.strip() if key else None
    custom = (base_url or os.environ.get("GOOGLE_VERTEX_BASE_URL") or "").rstrip("/") or None
    if not resolved_location and not key and (not custom or custom.endswith(".googleapis.com")):
        resolved_location = "global"
    gateway = bool(custom and not custom.endswith(".googleapis.com") and not ((project and location) or api_key))
    if gateway:
        resolved_project = resolved_location = None
    if custom:
        base = custom
    elif (key and not resolved_location) or resolved_location == "global":
        base = "https://aiplatform.googleapis.com"
    elif resolved_location in _MULTI_REGIONS:
        base = f"https://aiplatform.{resolved_location}.rep.googleapis.com"
    else:
        base = f"https://{resolved_location}-aiplatform.googleapis.com"
    return VertexTarget(base.rstrip("/"), resolved_project, resolved_location, key, gateway)


class GoogleModel(WireModel):
    """A Gemini model on the Gemini API or Vertex AI.

    Args:
        model_name: Such as ``gemini-2.5-flash`` (a name with a ``/``, such as ``tunedModels/x``, is used as it is).
        base_url: Send requests here instead of Google's endpoint (proxies, replay servers); also
            ``GOOGLE_GEMINI_BASE_URL`` / ``GOOGLE_VERTEX_BASE_URL``.
        api_key: Gemini API key (default: ``GOOGLE_API_KEY``, else ``GEMINI_API_KEY``); on Vertex, a key
            for express mode.
        retry: Podium's retry policy (default :class:`RetryPolicy`).
        profile: Override the capability profile.
        vertex: Use Vertex AI (provider name ``google-vertex``).
        project: Vertex project id (default ``GOOGLE_CLOUD_PROJECT``, then the credentials' project).
        location: Vertex location, such as ``us-central1`` (default ``GOOGLE_CLOUD_LOCATION``, else ``global``).
        credentials: ``google.auth`` credentials for Vertex (default: Application Default Credentials).
        api_version: API version (default ``v1beta`` on the Gemini API, ``v1beta1`` on Vertex).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
            given as ``timeout=`` (seconds) is the total.
        **client_options: HTTP client options (:data:`~podium.providers.transport.http.CLIENT_OPTIONS`).

    Raises:
        UserError: An unknown option, ``project``/``location``/``credentials`` without ``vertex``, or
            both ``credentials`` and ``api_key``. A missing key or project is raised by the first request.
    """

    provider = "google"
    end_marker = "a finishReason"
    family_profile = google_profile

    def __init__(
        self,
        model_name: str,
        *,
        vertex: bool = False,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        api_version: str | None = None,
        **options: Any,
    ) -> None:
        self.provider = "google-vertex" if vertex else "google"
        for name, hint in _SDK_OPTIONS.items():
            if options.get(name) is not None:
                raise UserError(f"{self.provider}: {name}= is not an option any more; {hint}")
            options.pop(name, None)
        self._vertex: VertexTarget | None = None
        self._google_auth: GoogleAuth | None = None
        self._project: str | None = None
        self._place = (project, location, credentials)
        if not vertex:
            given = [n for n, v in (("project", project), ("location", location), ("credentials", credentials)) if v]
            if given:
                raise UserError(
                    f"{'=, '.join(given)}= are Vertex AI options: use the google-vertex provider "
                    f"(podium.model('google-vertex:{model_name}', ...)) or GoogleModel(..., vertex=True)"
                )
        if vertex:
            env_version = os.environ.get("GOOGLE_GENAI_API_VERSION")
            default_version = env_version if env_version and env_version != "beta" else VERTEX_VERSION
        else:
            default_version = GEMINI_VERSION
        self._version = default_version if api_version is None else api_version.strip("/")
        super().__init__(model_name, **options)

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """The Gemini API with its key, or Vertex AI (express mode's key, or Google credentials)."""
        if self.provider == "google-vertex":
            project, location, credentials = self._place
            return self._vertex_endpoint(project, location, api_key, credentials, base_url)
        return _gemini_endpoint(self.model_name, base_url, api_key)

    def _vertex_endpoint(
        self, project: str | None, location: str | None, api_key: str | None, credentials: Any, base_url: str | None
    ) -> Endpoint:
        target = vertex_target(
            project=project, location=location, api_key=api_key, credentials=credentials, base_url=base_url
        )
        self._vertex = target
        self._project = target.project
        auth: Auth | None = None
        if target.api_key:
            register_key(target.api_key)
            auth = HeaderAuth({"x-goog-api-key": target.api_key})
        elif not target.gateway:
            if credentials is not None and not all(hasattr(credentials, a) for a in ("valid", "token", "refresh")):
                raise UserError(
                    f"credentials= takes google-auth credentials (google.auth.credentials.Credentials, such as "
                    f"google.oauth2.service_account.Credentials), not {type(credentials).__name__}"
                )
            auth = self._google_auth = GoogleAuth(credentials)
        return Endpoint(target.base_url, auth=auth)

    # ------------------------------------------------------------------ the wire mapping

    def wire_body(self, call: WireCall) -> dict[str, Any]:
        """The ``generateContent`` body (the same for a stream: the method is in the path)."""
        messages, tools, settings, output, _ = call
        return build_request(
            messages, provider=self.provider, model_name=self.model_name, tools=tools, settings=settings, output=output
        )

    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """``/{version}/models/{model}:generateContent`` (Vertex: under the project and location)."""
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return self._resource(f"{self._model_path()}:{method}")

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a ``generateContent`` answer."""
        answer = GeminiAccumulator(self.provider, self.model_name)
        answer.feed(data)
        return answer.finish()

    def stream_state(self) -> StreamState:
        """A fresh translator of ``streamGenerateContent`` chunks."""
        return GeminiAccumulator(self.provider, self.model_name)

    # ------------------------------------------------------------------ paths

    def _model_path(self) -> str:
        name = self.model_name
        if "/" in name:
            return name
        return f"publishers/google/models/{name}" if self._vertex is not None else f"models/{name}"

    def _scoped(self, path: str) -> str:
        """``path`` under ``projects/{project}/locations/{location}/`` on Vertex (unless it names a project)."""
        target = self._vertex
        if target is None or path.startswith("projects/") or not (target.project or self._google_auth):
            return path
        return f"projects/{self._vertex_project()}/locations/{target.location or 'global'}/{path}"

    def _resource(self, path: str) -> str:
        """The request path of ``path`` (``cachedContents/x``, ``models/m:generateContent``) under the base URL."""
        target = self._vertex
        if target is not None and target.gateway and not target.api_key:
            return path[path.index("?") :] if "?" in path else ""  # google-genai sends to the gateway's URL
        path = self._scoped(path)
        return f"/{self._version}/{path}" if self._version else f"/{path}"

    def _vertex_project(self) -> str:
        """The Vertex project: given, from the environment, or named by the credentials (loaded once)."""
        if self._project is None:
            needs = (
                "Vertex AI needs a project: pass project= (and location=) or set GOOGLE_CLOUD_PROJECT "
                "(and GOOGLE_CLOUD_LOCATION), or use Application Default Credentials that name one "
                "(`gcloud auth application-default login`, `gcloud config set project <id>`)"
            )
            assert self._google_auth is not None
            try:
                project = self._google_auth.project_id()
            except UserError as exc:
                raise UserError(f"{needs}; {exc}") from exc
            if not project:
                raise UserError(f"{needs}; the credentials name no project")
            self._project = project
        return self._project

    # ------------------------------------------------------------------ explicit context caches

    def _cache_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        ttl: float | str | None,
        display_name: str | None,
    ) -> JsonDict:
        body = self.build_body(messages, tools, ModelSettings(), None, stream=False)
        cache: JsonDict = {"model": self._scoped(self._model_path()), **body}
        if ttl is not None:
            cache["ttl"] = ttl if isinstance(ttl, str) else f"{ttl:g}s"
        if display_name is not None:
            cache["displayName"] = display_name
        return cache

    @staticmethod
    def _cache_of(data: Mapping[str, Any]) -> GoogleCache:
        usage = data.get("usageMetadata") or {}
        return GoogleCache(
            name=str(data.get("name", "")),
            model=data.get("model"),
            expire_time=data.get("expireTime"),
            tokens=int(usage.get("totalTokenCount", 0)),
            details=dict(data),
        )

    def _call(self, method: str, path: str, body: JsonDict | None) -> Any:
        """One JSON request to ``path`` (relative to the API version) and its parsed answer."""
        timeouts = resolve_timeouts(self.timeouts, None)
        deadline = Deadline(timeouts, self.provider, self.model_name)
        content = dumps(body) if body is not None else b""
        response = self.http.open(
            self._resource(path), content, stream=False, timeouts=timeouts, expected=JSON, method=method
        )
        raw = b"".join(self.http.chunks(response, deadline))
        return self._loads(raw) if raw.strip() else {}

    async def _acall(self, method: str, path: str, body: JsonDict | None) -> Any:
        """Async twin of :meth:`_call`."""
        timeouts = resolve_timeouts(self.timeouts, None)
        deadline = Deadline(timeouts, self.provider, self.model_name)
        content = dumps(body) if body is not None else b""
        response = await self.http.aopen(
            self._resource(path), content, stream=False, timeouts=timeouts, expected=JSON, method=method
        )
        raw = b"".join([chunk async for chunk in self.http.achunks(response, deadline)])
        return self._loads(raw) if raw.strip() else {}

    def create_cache(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        ttl: float | str | None = None,
        display_name: str | None = None,
    ) -> GoogleCache:
        """Put ``messages`` (system instruction included) and ``tools`` in an explicit context cache.

        Use it with ``ModelSettings(extra={"google": {"cached_content": cache.name}})``; later
        requests then send only the new messages. ``ttl`` is seconds (or a string like ``"300s"``).
        """
        body = self._cache_body(messages, tools, ttl, display_name)
        return self._cache_of(call_with_retries(lambda: self._call("POST", "cachedContents", body), self.retry))

    async def acreate_cache(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        ttl: float | str | None = None,
        display_name: str | None = None,
    ) -> GoogleCache:
        """Async twin of :meth:`create_cache`."""
        body = self._cache_body(messages, tools, ttl, display_name)
        data = await call_with_retries_async(lambda: self._acall("POST", "cachedContents", body), self.retry)
        return self._cache_of(data)

    def delete_cache(self, cache: GoogleCache | str) -> None:
        """Delete an explicit context cache."""
        name = cache.name if isinstance(cache, GoogleCache) else cache
        call_with_retries(lambda: self._call("DELETE", name, None), self.retry)

    async def adelete_cache(self, cache: GoogleCache | str) -> None:
        """Async twin of :meth:`delete_cache`."""
        name = cache.name if isinstance(cache, GoogleCache) else cache
        await call_with_retries_async(lambda: self._acall("DELETE", name, None), self.retry)


def _gemini_endpoint(model_name: str, base_url: str | None, api_key: str | None) -> Endpoint:
    """The Gemini API's endpoint: base URL and ``x-goog-api-key`` (or the error a request without one raises)."""
    base = base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or GEMINI_BASE_URL
    key = (api_key or env_api_key() or "").strip()
    auth: Auth
    if key:
        register_key(key)
        auth = HeaderAuth({"x-goog-api-key": key})
    else:
        auth = MissingCredentials(
            "no API key for google: set the GOOGLE_API_KEY (or GEMINI_API_KEY) environment variable or "
            f"pass api_key= (e.g. podium.model('google:{model_name}', api_key='...'))"
        )
    return Endpoint(base.rstrip("/"), auth=auth)


def vertex_model(model_name: str, **options: Any) -> GoogleModel:
    """A Gemini model on Vertex AI (the ``google-vertex`` provider)."""
    return GoogleModel(model_name, vertex=True, **options)
