"""Callables the pycall tests run as tasks (found through the task's ``python_path``)."""

import os
import signal
import sys
import time


def ignore_sigterm_and_sleep(seconds: float) -> None:
    """Run for ``seconds`` and survive SIGTERM, so only SIGKILL ends it early."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)


def greet(name: str, punctuation: str = "!") -> None:
    """Print a greeting to stdout and a note to stderr."""
    print(f"hello {name}{punctuation}")
    print("greeted", file=sys.stderr)


def fail(message: str) -> None:
    """Raise, so the task exits 1 with a traceback."""
    raise RuntimeError(message)


def show_env(name: str) -> None:
    """Print one environment variable and the working directory."""
    print(os.environ.get(name, "<unset>"))
    print(os.getcwd())


class Jobs:
    """A class holding a callable, to call ``module:Class.method``."""

    @staticmethod
    def answer() -> int:
        """Exit with code 42."""
        return 42
