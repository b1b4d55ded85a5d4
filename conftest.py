# Shared fixtures for every test suite in the workspace (see burnrate_common.testing).
pytest_plugins = ["burnrate_common.testing"]
