"""Resolving ``"provider:model"`` strings to models, importing each provider module only when used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from podium.exceptions import UserError
from podium.providers.base import Model
from podium.providers.clients import sdk_options
from podium.secrets import register_automatic

__all__ = ["PROVIDERS", "model", "register_provider"]

PROVIDERS: dict[str, str] = {}
"""Provider name -> ``"module:factory"``; the factory takes ``(model_name, **options)``."""

_factories: dict[str, Callable[..., Model]] = {}


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
        **client_options: Passed to the provider's client.

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
        target = PROVIDERS.get(provider)
        if target is None:
            raise UserError(f"unknown provider {provider!r} in {spec!r}; known: {', '.join(sorted(PROVIDERS))}")
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
        _factories[provider] = factory
    if api_key is not None:  # scrubbed from stores, logs and errors as [REDACTED:<provider>:api_key]
        register_automatic(api_key, f"{provider}:api_key")
    return factory(name, **sdk_options(client_options, base_url=base_url, api_key=api_key))


register_provider("test", "podium.testing.models:make_test_model")
register_provider("local", "podium.providers.local:LocalModel")
register_provider("openai", "podium.providers.openai:OpenAIChatModel")
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
