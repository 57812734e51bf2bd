"""Finding the JVM on this node and describing it as Nomad's node attributes.

``java -version`` prints three lines to stderr::

    openjdk version "17.0.15" 2025-04-15
    OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
    OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)

which become ``driver.java.version`` (the quoted version), ``driver.java.runtime`` (line
two) and ``driver.java.vm`` (line three).
"""

from __future__ import annotations

import asyncio
import re

PROBE_TIMEOUT = 10.0
_VERSION = re.compile(r'version "([^"]+)"')


def parse_version_output(text: str) -> dict[str, str]:
    """Nomad's ``driver.java.*`` attributes from ``java -version`` output.

    :returns: ``driver.java`` plus whichever of version, runtime and vm could be read.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    attributes = {"driver.java": "1"}
    for index, line in enumerate(lines):
        match = _VERSION.search(line)
        if match is None:
            continue
        attributes["driver.java.version"] = match.group(1)
        if index + 1 < len(lines):
            attributes["driver.java.runtime"] = lines[index + 1]
        if index + 2 < len(lines):
            attributes["driver.java.vm"] = lines[index + 2]
        break
    return attributes


async def probe_java(java: str = "java") -> dict[str, str] | None:
    """Run ``java -version``; its attributes, or None when there is no working JVM."""
    try:
        process = await asyncio.create_subprocess_exec(
            java,
            "-version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError:
        return None
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), PROBE_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    if process.returncode != 0:
        return None
    attributes = parse_version_output((stderr or stdout).decode(errors="replace"))
    return attributes if "driver.java.version" in attributes else None
