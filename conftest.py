# Shared fixtures for every test suite in the workspace (see burnrate_testing).
import os

from burnrate_testing import TEST_LINK_SECRET

pytest_plugins = ["burnrate_testing"]

# Settings built without a test's isolation read the environment: give them the test secret
# customer links are signed with (never a constant of the product).
os.environ.setdefault("BURNRATE_REPORT_LINK_SECRET", TEST_LINK_SECRET)
