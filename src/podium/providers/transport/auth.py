"""Credentials as small adapters: each adds what one kind of API wants to a request before it is sent.

* :class:`HeaderAuth` -- fixed headers: a bearer key (OpenAI, Mistral, Cohere, Groq ...), Anthropic's
  ``x-api-key``, Gemini's ``x-goog-api-key``, Azure OpenAI's ``api-key``.
* :class:`TokenAuth` -- a bearer token from a function, asked for every request (Azure Entra ID token
  providers, which cache and refresh on their own).
* :class:`SigV4Auth` -- AWS Signature Version 4 (Bedrock), by botocore's signer and credential chain
  (environment, profiles, SSO, instance roles ...).
* :class:`GoogleAuth` -- Google Application Default Credentials (Vertex AI), by ``google-auth``, refreshed
  when they expire.

Each has ``blocking``: whether signing may block (fetching a credential), so async requests sign in a thread.
Every key or token an adapter holds is registered as a secret (:mod:`podium.secrets`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import httpx2

from podium.exceptions import UserError
from podium.secrets import register_automatic

__all__ = ["GoogleAuth", "HeaderAuth", "MissingCredentials", "SigV4Auth", "TokenAuth", "bearer", "register_key"]


class HeaderAuth:
    """Fixed headers added to every request."""

    blocking = False

    __slots__ = ("headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = dict(headers)

    def sign(self, request: httpx2.Request) -> None:
        """Add the headers."""
        request.headers.update(self.headers)


class MissingCredentials:
    """No credentials were found: every request raises :class:`~podium.exceptions.UserError` saying how to give them.

    A model is made without checking for a key (``podium.model("openai:gpt-4o")`` works before the key is set);
    the first request says what is missing.
    """

    blocking = False

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def sign(self, request: httpx2.Request) -> None:
        """Raise the error."""
        raise UserError(self.message)


def register_key(key: str, name: str = "api_key") -> None:
    """Register a key handed to a provider as a secret, unless it is read from the environment.

    A key in a variable such as ``OPENAI_API_KEY`` is scrubbed as that variable while it is set
    (:mod:`podium.secrets` reads the environment); registering it again would keep it as an automatic
    secret after the variable is gone.
    """
    if key not in os.environ.values():
        register_automatic(key, name)


def bearer(key: str) -> HeaderAuth:
    """``Authorization: Bearer <key>``."""
    register_key(key)
    return HeaderAuth({"authorization": f"Bearer {key}"})


class TokenAuth:
    """``Authorization: Bearer <token>`` with the token from ``provider()`` for every request."""

    blocking = True

    __slots__ = ("_provider",)

    def __init__(self, provider: Callable[[], str]) -> None:
        self._provider = provider

    def sign(self, request: httpx2.Request) -> None:
        """Ask for the token and add it."""
        token = self._provider()
        register_automatic(token, "token")
        request.headers["authorization"] = f"Bearer {token}"


class SigV4Auth:
    """AWS Signature Version 4 over the request's method, URL, headers and body (botocore's signer).

    Args:
        service: The signing name (``bedrock`` for Bedrock runtime).
        region: The AWS region.
        credentials: A function returning botocore credentials (called at each signing: botocore's
            refreshable credentials renew themselves).
    """

    blocking = True

    __slots__ = ("_credentials", "_lock", "region", "service")

    def __init__(self, service: str, region: str, credentials: Callable[[], Any]) -> None:
        self.service = service
        self.region = region
        self._credentials = credentials
        self._lock = threading.Lock()

    def sign(self, request: httpx2.Request) -> None:
        """Add ``Authorization``, ``X-Amz-Date`` (and the session token) for this exact request."""
        from botocore.auth import SigV4Auth as _Signer
        from botocore.awsrequest import AWSRequest

        with self._lock:
            credentials = self._credentials()
        if credentials is None:
            raise UserError(
                "no AWS credentials found for Bedrock: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
                "or a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK or api_key=)"
            )
        frozen = credentials.get_frozen_credentials()
        register_automatic(frozen.secret_key, "aws_secret_access_key")
        register_automatic(frozen.token, "aws_session_token")
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        aws = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
        _Signer(frozen, self.service, self.region).add_auth(aws)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            value = aws.headers.get(name)
            if value is not None:
                request.headers[name] = value


class GoogleAuth:
    """Google credentials (Application Default Credentials unless given), refreshed when they expire."""

    blocking = True

    __slots__ = ("_credentials", "_lock", "project")

    SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

    def __init__(self, credentials: Any = None) -> None:
        self._lock = threading.Lock()
        self.project: str | None = None
        self._credentials = credentials

    def _load(self) -> Any:
        if self._credentials is None:
            try:
                import google.auth
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise UserError("Vertex AI needs google-auth: pip install 'podium[google]'") from exc
            try:
                self._credentials, self.project = google.auth.default(scopes=list(self.SCOPES))
            except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError
                raise UserError(
                    f"no Google credentials for Vertex AI ({exc}); run `gcloud auth application-default login`, "
                    "set GOOGLE_APPLICATION_CREDENTIALS, or pass credentials="
                ) from exc
        return self._credentials

    def project_id(self) -> str | None:
        """The project the credentials name (``None`` when they name none).

        That is the project of Application Default Credentials, or ``project_id`` of the credentials
        given (service-account keys have one). Loads Application Default Credentials when none were
        given (a :class:`~podium.exceptions.UserError` when there are none).
        """
        with self._lock:
            credentials = self._load()
        project = self.project or getattr(credentials, "project_id", None)
        return str(project) if project else None

    def sign(self, request: httpx2.Request) -> None:
        """Refresh the credentials when needed and add their bearer token."""
        with self._lock:
            credentials = self._load()
            if not credentials.valid:
                from google.auth.transport.requests import Request

                credentials.refresh(Request())
            token = credentials.token
        register_automatic(token, "token")
        request.headers["authorization"] = f"Bearer {token}"
        quota = getattr(credentials, "quota_project_id", None)
        if quota:
            request.headers["x-goog-user-project"] = quota
