"""Credentials, base URLs and extra headers, read from arguments and the environment as the vendor SDKs read them.

Podium sends its own HTTP (:mod:`podium.providers.transport`), so what a user set up for an official SDK
keeps working: its base URL and key variables, OpenAI's organization and project, and the SDKs'
``*_CUSTOM_HEADERS`` variable. An argument always wins over the environment, and headers the user passes
(``default_headers=``) over the variable's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from podium.providers.transport.auth import MissingCredentials
from podium.providers.transport.auth import bearer
from podium.providers.transport.http import Auth
from podium.providers.transport.http import Endpoint

__all__ = ["OPENAI_BASE_URL", "env_headers", "given_header", "key_auth", "missing_key", "openai_endpoint"]

OPENAI_BASE_URL = "https://api.openai.com/v1"


def env_headers(variable: str) -> dict[str, str]:
    """Headers from the environment variable ``variable``: one ``Name: value`` a line (others are skipped).

    Names are lower-cased (HTTP compares them without case), so a header given twice is sent once.
    """
    headers: dict[str, str] = {}
    for line in os.environ.get(variable, "").split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers


def given_header(options: Mapping[str, Any], *names: str) -> bool:
    """Whether the user's ``default_headers`` option sets one of ``names`` (their own credentials)."""
    given = {str(name).lower() for name in options.get("default_headers") or {}}
    return not given.isdisjoint(names)


def missing_key(provider: str, model_name: str, variable: str) -> MissingCredentials:
    """Credentials that make the first request fail, saying how to give a key."""
    return MissingCredentials(
        f"no API key for {provider}: set the {variable} environment variable or pass api_key= "
        f"(e.g. podium.model('{provider}:{model_name}', api_key='...'))"
    )


def openai_endpoint(
    provider: str,
    model_name: str,
    options: Mapping[str, Any],
    *,
    base_url: str | None,
    api_key: str | None,
    organization: str | None = None,
    project: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
) -> Endpoint:
    """Where an OpenAI model's requests go and what they carry, as the ``openai`` SDK reads them.

    The base URL from ``base_url``, ``OPENAI_BASE_URL`` or ``https://api.openai.com/v1``; the key from
    ``api_key`` or ``OPENAI_API_KEY`` (``api_key_env``: a compatible service's variable) as a bearer token
    (a request without either fails saying so; an ``Authorization`` in the ``default_headers`` of
    ``options`` is sent instead, as the SDK does); ``OpenAI-Organization`` from ``organization`` or
    ``OPENAI_ORG_ID``, ``OpenAI-Project`` from ``project`` or ``OPENAI_PROJECT_ID``; and the headers of
    ``OPENAI_CUSTOM_HEADERS``.
    """
    base = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
    headers: dict[str, str] = {}
    organization = organization or os.environ.get("OPENAI_ORG_ID")
    if organization:
        headers["openai-organization"] = organization
    project = project or os.environ.get("OPENAI_PROJECT_ID")
    if project:
        headers["openai-project"] = project
    headers.update(env_headers("OPENAI_CUSTOM_HEADERS"))  # as in the SDK, they win over its own headers
    auth = None if given_header(options, "authorization") else key_auth(provider, model_name, api_key, api_key_env)
    return Endpoint(base.rstrip("/"), auth=auth, headers=headers)


def key_auth(provider: str, model_name: str, api_key: str | None, variable: str) -> Auth:
    """A bearer key from ``api_key`` or the environment ``variable``, or credentials that say how to set one."""
    key = api_key or os.environ.get(variable)
    return bearer(key) if key else missing_key(provider, model_name, variable)
