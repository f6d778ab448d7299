"""The web UI of ``podium serve``: a JSON API with server-sent events, and a page that is one client of it.

Needs the ``web`` extra (Starlette, uvicorn); ``import podium`` never imports this package. The modules:
:mod:`~podium.web.security` (the guard in front of every request), :mod:`~podium.web.api` (the routes),
:mod:`~podium.web.service` (conversations, turns, approvals), :mod:`~podium.web.live` (a turn in progress
and its subscribers), :mod:`~podium.web.events` (events as JSON), :mod:`~podium.web.files` (the read-only
workspace view), :mod:`~podium.web.app` (the application). The API is described in ``docs/web.md``.
"""

__all__: list[str] = []
