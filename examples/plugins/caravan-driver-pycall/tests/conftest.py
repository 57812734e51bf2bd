"""Lets these tests run from a caravan checkout without installing the example first.

Installed (``pip install ./examples/plugins/caravan-driver-pycall``) the package is
imported from site-packages; otherwise from ``src/`` next to this folder.
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("caravan_driver_pycall") is None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "src"))
