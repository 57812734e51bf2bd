"""Free TCP ports on 127.0.0.1 for tests that start servers, agents and proxies."""

from __future__ import annotations

import socket


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports on 127.0.0.1 that nothing listened on a moment ago.

    The sockets are held together until all are bound, so the ports differ.
    """
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    """One port on 127.0.0.1 that nothing listened on a moment ago."""
    return free_ports(1)[0]
