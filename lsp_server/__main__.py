"""dg-lsp command line: `dg-lsp [--stdio | --tcp HOST:PORT] [--log-file PATH]`."""

from __future__ import annotations

import argparse
import logging
import sys

from lsp_server import __version__


def _host_port(value: str) -> tuple[str, int]:
    from engine.address import host_port  # only for --tcp: the stdio path stays light

    return host_port(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dg-lsp",
        description="Language server for inline code completions from a text-diffusion model. "
                    "Editors start it as `dg-lsp --stdio`; settings arrive from the editor (the \"dg\" section).")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="talk LSP over stdin and stdout (the default)")
    transport.add_argument("--tcp", metavar="HOST:PORT", type=_host_port,
                           help="listen for one LSP client on a TCP address, e.g. 127.0.0.1:2087")
    parser.add_argument("--allow-remote-plaintext", action="store_true",
                        help="allow --tcp on a non-loopback address. The LSP has no authentication and no "
                             "encryption: anyone who reaches the port can use it; prefer an SSH tunnel")
    parser.add_argument("--log-file", metavar="PATH", help="write the log to PATH instead of stderr")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level (default INFO)")
    parser.add_argument("--version", action="version", version=f"dg-lsp {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.tcp:
        from engine.address import refuse_remote

        if refusal := refuse_remote(args.tcp[0], args.allow_remote_plaintext, "the language server"):
            sys.exit(f"dg-lsp: {refusal}")
    # stdout carries the LSP stream: the log goes to a file or stderr, never stdout.
    handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level, handlers=[handler])
    if args.log_level != "DEBUG":
        # pygls logs every message it sends at INFO: a payload per keystroke.
        logging.getLogger("pygls").setLevel(logging.WARNING)
    # Imported after the arguments are parsed, so --help and --version answer without loading pygls.
    from lsp_server import stream
    from lsp_server.server import server

    if args.tcp:
        stream.start_tcp(server, *args.tcp)
    else:
        stream.start_io(server)


if __name__ == "__main__":
    main()
