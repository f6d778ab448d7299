"""Resolving ``"provider:model"`` strings to models, importing each provider module only when used.

Three ways a provider name is known, looked up in this order:

1. :func:`register_provider` at run time (an application's own provider, or one replacing a built-in);
2. the built-in providers below, each a ``"podium.providers.<module>:<factory>"`` string (this package only);
3. plugins: the ``podium.providers`` entry-point group of any installed distribution, read on the first
   name the first two do not know. Podium's own test models (``test:echo``, ``test:scripted:FILE``)
   come this way, from its ``pyproject.toml``::

       [project.entry-points."podium.providers"]
       test = "podium.testing.models:make_test_model"

   so this module never names a package above it (``podium.testing`` builds on the providers).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from podium.exceptions import UserError
from podium.providers.base import Model
from podium.secrets import register_automatic

__all__ = ["ENTRY_POINT_GROUP", "PROVIDERS", "model", "register_provider"]

logger = logging.getLogger("podium.providers")

ENTRY_POINT_GROUP = "podium.providers"
"""The entry-point group where installed distributions declare providers: ``name = "module:factory"``."""

PROVIDERS: dict[str, str] = {}
"""Provider name -> ``"module:factory"``; the factory takes ``(model_name, **options)``. Plugins join it
once the entry points were read (on the first name not found here)."""

_factories: dict[str, Callable[..., Model]] = {}
_plugins_lock = threading.Lock()
_plugins_read = False


def register_provider(name: str, factory: str | Callable[..., Model]) -> None:
    """Register a provider under ``name``: a ``"module:function"`` path (imported lazily) or a callable."""
    if isinstance(factory, str):
        PROVIDERS[name] = factory
        _factories.pop(name, None)
    else:
        PROVIDERS[name] = f"{factory.__module__}:{factory.__qualname__}"
        _factories[name] = factory


def model(spec: str, *, base_url: str | None = None, api_key: str | None = None, **client_options: Any) -> Model:
    """The model named by ``spec`` (``"provider:model"``), built lazily.

    Args:
        spec: Such as ``"openai:gpt-4o"`` or ``"anthropic:claude-sonnet-4-5"``.
        base_url: Send requests to this URL instead of the provider's (proxies, compatible servers).
        api_key: Use this key instead of the provider's environment variable.
        **client_options: Passed to the model class (HTTP client options, timeouts, retry ...).

    Raises:
        UserError: the string has no provider prefix, names an unknown provider, or (for a remote provider)
            no model: ``"openai:"`` says to write ``"openai:<model>"``.
    """
    if not isinstance(spec, str):
        raise UserError(f"a model is named by a string 'provider:model', e.g. 'openai:gpt-4o'; got {spec!r}")
    provider, sep, name = spec.partition(":")
    provider, name = provider.strip(), name.strip()
    if not sep or not provider:
        raise UserError(
            f"model {spec!r} has no provider; write it as 'provider:model', e.g. 'openai:gpt-4o'. "
            f"Providers: {', '.join(sorted(PROVIDERS)) or '(none registered)'}"
        )
    factory = _factories.get(provider)
    if factory is None:
        if provider not in PROVIDERS:
            _read_plugins()
        target = PROVIDERS.get(provider)
        if target is None:
            raise UserError(f"unknown provider {provider!r} in {spec!r}; known: {', '.join(sorted(PROVIDERS))}")
        factory = _load(provider, target)
        _factories[provider] = factory
    if api_key is not None:  # scrubbed from stores, logs and errors as [REDACTED:<provider>:api_key]
        register_automatic(api_key, f"{provider}:api_key")
    options = dict(client_options)
    if base_url is not None:
        options["base_url"] = base_url
    if api_key is not None:
        options["api_key"] = api_key
    return factory(name, **options)


def _load(provider: str, target: str) -> Callable[..., Model]:
    """Import the factory named by ``"module:attr"`` (a missing one is a packaging error, said plainly)."""
    module_name, _, attr = target.partition(":")
    try:
        factory: Callable[..., Model] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(
            f"provider {provider!r} is registered as {target!r}, which cannot be loaded ({exc}); "
            "reinstall the package that provides it"
        ) from exc
    return factory


def _read_plugins() -> None:
    """Add the providers declared in the ``podium.providers`` entry points (once per process)."""
    global _plugins_read
    with _plugins_lock:
        if _plugins_read:
            return
        _plugins_read = True
        from importlib.metadata import entry_points  # tens of ms: only for a name the built-ins do not know

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            if entry.name in PROVIDERS:  # a built-in or an explicit registration wins over a plugin
                logger.debug("provider %r from %s ignored: the name is taken", entry.name, entry.value)
                continue
            PROVIDERS[entry.name] = entry.value


register_provider("local", "podium.providers.local:LocalModel")
register_provider("openai", "podium.providers.openai:OpenAIChatModel")
register_provider("azure", "podium.providers.openai:azure_model")
register_provider("openrouter", "podium.providers.compatible:openrouter")
register_provider("deepseek", "podium.providers.compatible:deepseek")
register_provider("vllm", "podium.providers.compatible:vllm")
register_provider("llamacpp", "podium.providers.compatible:llamacpp")
register_provider("together", "podium.providers.compatible:together")
register_provider("xai", "podium.providers.compatible:xai")
register_provider("openai-compatible", "podium.providers.compatible:openai_compatible")
register_provider("groq", "podium.providers.groq:GroqModel")
register_provider("google", "podium.providers.google:GoogleModel")
register_provider("google-vertex", "podium.providers.google:vertex_model")
register_provider("bedrock", "podium.providers.bedrock:BedrockModel")
register_provider("anthropic", "podium.providers.anthropic:AnthropicModel")
register_provider("openai-responses", "podium.providers.openai_responses:OpenAIResponsesModel")
register_provider("mistral", "podium.providers.mistral:make_model")
register_provider("ollama", "podium.providers.ollama:make_model")
register_provider("cohere", "podium.providers.cohere:make_model")
