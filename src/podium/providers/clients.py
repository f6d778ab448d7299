"""SDK clients shared by the provider modules: one async client per event loop, SDK options.

Every provider makes its SDK clients through these, so that a model object can be used from several
``asyncio.run`` calls and every SDK gets Podium's base URL, key and "no SDK retries" the same way.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from podium.secrets import register_automatic

__all__ = ["PerLoop", "sdk_options"]

T = TypeVar("T")


def sdk_options(
    client_options: Mapping[str, Any], *, base_url: str | None, api_key: str | None, **fixed: Any
) -> dict[str, Any]:
    """Keyword arguments for an SDK client: the user's options, ``base_url``/``api_key`` when given, then ``fixed``."""
    options = dict(client_options)
    if base_url is not None:
        options["base_url"] = base_url
    if api_key is not None:
        options["api_key"] = api_key
    for key in ("api_key", "auth_token"):  # a key handed to a provider is a secret (see podium.secrets)
        register_automatic(options.get(key), key)
    options.update(fixed)
    return options


class PerLoop(Generic[T]):
    """One async SDK client per event loop.

    An async HTTP client's connections belong to the loop that opened them, so a model used from several
    ``asyncio.run`` calls (scripts, notebooks, tests) gets a client per loop instead of failing with
    "Event loop is closed". Clients of loops that are gone are dropped with them.
    """

    __slots__ = ("_clients", "_factory")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The client for the running loop (made on first use)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
        return client
