"""Load balancers driven by the live service catalog (``caravan lb render|watch|split``).

- :mod:`.catalog`: :class:`CatalogClient` reads the catalog from an agent's HTTP API with
  blocking queries, as :class:`CatalogSnapshot` s of registrations and ``ServiceInstance`` s;
- :mod:`.watch`: :class:`LBWatcher`, the render → validate → write → reload loop;
- :mod:`.reload`: :class:`Reloader`, a reload command or a signal to the proxy;
- :mod:`.splits`: run-time traffic splits stored as service meta.
"""

from .catalog import CatalogClient, CatalogError, CatalogSnapshot, instance_from_registration
from .reload import Reloader, ReloadError
from .splits import SplitArgumentError, parse_split, set_split, split_meta
from .watch import LBWatcher, WatchStats, write_atomically

__all__ = [
    "CatalogClient",
    "CatalogError",
    "CatalogSnapshot",
    "LBWatcher",
    "ReloadError",
    "Reloader",
    "SplitArgumentError",
    "WatchStats",
    "instance_from_registration",
    "parse_split",
    "set_split",
    "split_meta",
    "write_atomically",
]
