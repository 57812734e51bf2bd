"""caravan's version, read from the installed distribution's metadata."""

from importlib.metadata import PackageNotFoundError, version


def caravan_version() -> str:
    """The installed ``caravan`` distribution's version (``0.0.0+unknown`` when not installed)."""
    try:
        return version("caravan")
    except PackageNotFoundError:
        return "0.0.0+unknown"
