"""TCP addresses on the command line, and the rule that keeps them on this machine.

Shared by `dg-engine` and `dg-lsp`. No torch, nothing heavy: `dg-lsp` imports it only when asked
for TCP.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket

ALLOW_REMOTE_FLAG = "--allow-remote-plaintext"


class ListenError(Exception):
    """The address cannot be listened on (in use, not this machine's, a path too long)."""


def host_port(value: str) -> tuple[str, int]:
    """argparse type for HOST:PORT (HOST defaults to 127.0.0.1; [::1]:PORT for IPv6)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port in 1..65535, e.g. 127.0.0.1:7411; "
                                         f"got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is a loopback one."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def refuse_remote(host: str, allowed: bool, what: str) -> str | None:
    """The one-line refusal for a non-loopback bind that was not explicitly allowed, else None."""
    if allowed or is_loopback(host):
        return None
    return (f"refusing to listen on {host!r}, which is not a loopback address: {what} would be reachable from "
            f"other machines, unencrypted. Use 127.0.0.1 and an SSH tunnel, or pass {ALLOW_REMOTE_FLAG} "
            f"if the network is trusted or TLS is added in front")
