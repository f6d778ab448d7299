"""Shared test configuration. The network guard plugin is enabled in pyproject (``-p podium.testing.pytest_plugin``)."""
