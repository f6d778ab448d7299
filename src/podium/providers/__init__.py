"""Model providers: one module per vendor, each importing its SDK lazily.

Use :func:`podium.model` with a ``"provider:model"`` string to get a model.
"""
