"""dg-engine: run, query and stop the resident infill daemon.

    dg-engine serve [--model DIR] [--layout sep|chat] [--socket PATH | --tcp HOST:PORT] [--http HOST:PORT]
                    [--idle-exit SECONDS]
    dg-engine status [--model DIR] [--socket PATH | --tcp HOST:PORT]
    dg-engine stop [--model DIR] [--socket PATH | --tcp HOST:PORT]

A TCP daemon's token comes from $DG_ENGINE_TOKEN or --token-file (--token works, but shows in `ps`);
serve makes one when given none, and leaves it in a per-address file of the runtime directory, where
local clients find it. `--http` serves the HTTP completion APIs (llama.cpp's /infill, OpenAI's
/v1/completions) beside the socket; from the same token sources, a token is then required as
`Authorization: Bearer`, and always when the address is not loopback.

Exit status: see engine/exit_status.py (and --help).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
from dataclasses import asdict
from pathlib import Path

from engine import DEFAULT_MODEL_DIR
from engine import exit_status
from engine import protocol as p
from engine.address import ALLOW_REMOTE_FLAG, ListenError, host_port, is_loopback, refuse_remote
from engine.spec import LAYOUTS, ModelSpec

MIN_TOKEN_BYTES = 16
# PyTorch's CPU matmuls in bfloat16 go through oneDNN, which keeps two caches keyed by exact shapes
# and read their capacities once, from the environment: oneDNN's primitive cache (about 280 KB per
# shape) and ideep's computation cache (about 260 KB). At their default of 1,024 entries each, a
# daemon serving varied contexts (every new context length is a new shape) grows by up to 560 MB
# before they fill (issue #20). dg-tiny's steps use 117 shapes across batches of 1, 2, 4 and 8
# rows and both canvases, so 256 entries each keep those with room for recent encoder lengths, in
# about 140 MB; 70 varied batches took as long with 128 entries each as with the defaults.
# LRU_CACHE_CAPACITY=0 crashes PyTorch 2.13. Values already in the environment are kept.
NATIVE_CACHE_BOUNDS = {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "256", "LRU_CACHE_CAPACITY": "256"}


class UsageError(Exception):
    """A command line that cannot work; the message says what to change."""


def read_token(args) -> str | None:
    """The token from --token, --token-file or $DG_ENGINE_TOKEN, in that order; None when none is given."""
    if args.token:
        print("dg-engine: warning: --token shows in `ps` to every user of this machine; "
              f"prefer ${p.TOKEN_ENV} or --token-file", file=sys.stderr)
    try:
        return p.token_from(args.token, args.token_file)
    except OSError as exc:
        raise UsageError(f"cannot read the token file: {exc}") from None


def check_token(token: str) -> str:
    if len(token.encode()) < MIN_TOKEN_BYTES:
        raise UsageError(f"a token needs at least {MIN_TOKEN_BYTES} bytes, this one has {len(token.encode())}; "
                         f"`python -c 'import secrets; print(secrets.token_urlsafe(32))'` makes one")
    return token


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="dg-engine", description="The dg-lsp infill engine daemon.",
                                 epilog=exit_status.table("dg-engine"))
    sub = ap.add_subparsers(dest="command", required=True)
    for name, help in (("serve", "load the model and serve clients"), ("status", "print the daemon's status"),
                       ("stop", "ask the daemon to shut down")):
        cmd = sub.add_parser(name, help=help)
        cmd.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR,
                         help="model directory (default: the embedded dg-tiny)")
        cmd.add_argument("--socket", type=Path, help="Unix socket path (default: per user and model)")
        cmd.add_argument("--tcp", type=host_port, metavar="HOST:PORT",
                         help="TCP instead of a Unix socket, with a shared token; loopback addresses only unless "
                              f"{ALLOW_REMOTE_FLAG}")
        cmd.add_argument("--token-file", type=Path, metavar="PATH",
                         help="read the TCP (and --http) token from PATH (default: $DG_ENGINE_TOKEN; serve makes "
                              "a TCP one when neither is set, and clients on this machine then find it)")
        cmd.add_argument("--token", help="the token on the command line, where `ps` shows it (avoid)")
    serve = sub.choices["serve"]
    serve.add_argument("--device", help="cuda, mps or cpu (default: the best present)")
    serve.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                       help="default: bfloat16 on a GPU, the faster one on a CPU")
    serve.add_argument("--layout", choices=LAYOUTS,
                       help="serve with this layout instead of the model's own (dg.json's, else: chat for a "
                            "checkpoint with a chat template and no <sep> token, sep otherwise)")
    serve.add_argument("--max-batch", type=int, default=8, help="requests per forward pass")
    serve.add_argument("--log-file", type=Path, help="log here instead of stderr")
    serve.add_argument("--trace", action="store_true",
                       help="log what the model sees for each request: its encoder prompt and starting canvas")
    serve.add_argument("--idle-exit", type=float, metavar="SECONDS",
                       help="exit after this long without a client (default: run until stopped; a daemon that "
                            "a client starts exits after 5 minutes)")
    serve.add_argument("--http", type=host_port, metavar="HOST:PORT",
                       help="also serve the HTTP completion APIs (llama.cpp's /infill, OpenAI's /v1/completions) "
                            "here; with a token given, clients send it as 'Authorization: Bearer', and a "
                            f"non-loopback address needs one and {ALLOW_REMOTE_FLAG}")
    serve.add_argument(ALLOW_REMOTE_FLAG, action="store_true",
                       help="allow --tcp or --http on a non-loopback address. The token and the code travel "
                            "unencrypted: use it only on a trusted network, or put TLS or an SSH tunnel in front")
    return ap


def serve(args) -> int:
    import asyncio

    for name, value in NATIVE_CACHE_BOUNDS.items():  # before anything imports torch
        os.environ.setdefault(name, value)
    from engine.serve import native_memory

    native_memory.limit_arenas()
    from engine.serve.daemon import Daemon
    from engine.serve.engine import Engine
    from engine.serve.scheduler import Scheduler

    given = read_token(args) if args.tcp or args.http else None
    token = http_token = None
    if args.tcp:
        if refusal := refuse_remote(args.tcp[0], args.allow_remote_plaintext, "the engine"):
            raise UsageError(refusal)
        token = check_token(given or secrets.token_urlsafe(32))
    if args.http:
        if refusal := refuse_remote(args.http[0], args.allow_remote_plaintext, "the HTTP APIs"):
            raise UsageError(refusal)
        if not given and not is_loopback(args.http[0]):
            raise UsageError(f"--http on {args.http[0]!r}, not a loopback address, needs a token: set "
                             "$DG_ENGINE_TOKEN or --token-file")
        http_token = given and check_token(given)
    logging.basicConfig(filename=args.log_file, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.trace:  # the engine's own debug lines, not every library's
        logging.getLogger("dg-engine").setLevel(logging.DEBUG)
    scheduler = Scheduler(lambda: Engine(args.model, device=args.device, dtype=args.dtype, layout=args.layout),
                          max_batch=args.max_batch,
                          compile=True)
    socket_path = None if args.tcp else (args.socket or p.default_socket(args.model))
    asyncio.run(Daemon(scheduler, socket_path=socket_path, tcp=args.tcp, token=token,
                       idle_exit_s=args.idle_exit, http=args.http, http_token=http_token).serve())
    if scheduler.load_error is not None:
        print(f"dg-engine: {scheduler.load_error}", file=sys.stderr)
        return exit_status.ENGINE
    return exit_status.OK


def client_for(args):
    from engine.client import EngineClient

    address = f"tcp://{args.tcp[0]}:{args.tcp[1]}" if args.tcp else args.socket
    return EngineClient(address, args.model, autostart=False, token=read_token(args), timeout=10)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from engine.modeldir import ModelDirError, check_dir

    try:
        if args.command == "serve":
            check_dir(args.model.resolve())
            ModelSpec.read(args.model.resolve(), layout=args.layout)  # a layout that cannot work, in one line
            return serve(args)
        client = client_for(args)
        if args.command == "status":
            print(json.dumps(asdict(client.status()), indent=1))
        else:
            client.shutdown()
            print("dg-engine: stopped")
        return exit_status.OK
    except p.EngineError as exc:
        print(f"dg-engine: {exc} ({exc.code})", file=sys.stderr)
        return exit_status.ENGINE
    except (ListenError, UsageError, ModelDirError) as exc:
        print(f"dg-engine: {exc}", file=sys.stderr)
        return exit_status.USAGE


if __name__ == "__main__":
    sys.exit(main())
