"""caravan's version, read from the installed distribution's metadata."""

from importlib.metadata import PackageNotFoundError, version


def caravan_version() -> str:
    """The version of the installed ``caravan`` distribution (``0.0.0+unknown`` if not installed)."""
    try:
        return version("caravan")
    except PackageNotFoundError:
        return "0.0.0+unknown"
