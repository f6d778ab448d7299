"""Fixtures for the agent tests: the CLI's private environment, for tests that drive ``podium`` itself."""

from tests.cli.conftest import cli_env  # noqa: F401 (a fixture)
