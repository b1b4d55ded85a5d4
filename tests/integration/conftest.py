import sys
from pathlib import Path

# The cross-service tests share their harness (``test_across_services.Services``) by import;
# pytest's importlib mode does not put this folder on the path by itself.
sys.path.insert(0, str(Path(__file__).parent))
