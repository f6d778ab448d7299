"""The one way every remote provider talks HTTP.

* :mod:`~podium.providers.transport.model` -- :class:`~podium.providers.transport.model.WireModel`, the
  base of every remote model: body -> send -> parse, or decode the stream; retries; sync and async.
* :mod:`~podium.providers.transport.http` -- the ``httpx2`` clients of one model, sending and mapping
  every HTTP status and transport failure to Podium's exceptions.
* :mod:`~podium.providers.transport.decoders` -- server-sent events, NDJSON, AWS event streams.
* :mod:`~podium.providers.transport.auth` -- credentials: API-key headers, tokens, AWS SigV4, Google ADC.
* :mod:`~podium.providers.transport.guard` -- timeouts, content types, complete streams, stream retries.
* :mod:`~podium.providers.transport.errors` -- HTTP statuses and error bodies to the exception tree.

A provider module holds only its wire mapping (request builder, answer and stream translation) and its
profile. Nothing here is imported by ``import podium``: a model's module imports it when it is used.
"""
