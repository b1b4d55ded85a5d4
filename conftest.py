# Shared fixtures for every test suite in the workspace (see burnrate_testing).
pytest_plugins = ["burnrate_testing"]
