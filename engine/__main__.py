"""dg-engine: run, query and stop the resident infill daemon.

    dg-engine serve [--model DIR] [--socket PATH | --tcp HOST:PORT]
    dg-engine status [--model DIR] [--socket PATH]
    dg-engine stop [--model DIR] [--socket PATH]
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
from engine import protocol as p


def parse_tcp(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 127.0.0.1:7411")
    return host or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="dg-engine", description="The dg-lsp infill engine daemon.")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, help in (("serve", "load the model and serve clients"), ("status", "print the daemon's status"),
                       ("stop", "ask the daemon to shut down")):
        cmd = sub.add_parser(name, help=help)
        cmd.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR,
                         help="model directory (default: the embedded dg-tiny)")
        cmd.add_argument("--socket", type=Path, help="Unix socket path (default: per user and model)")
        cmd.add_argument("--tcp", type=parse_tcp, metavar="HOST:PORT",
                         help="listen on TCP instead (loopback unless HOST says otherwise); needs a token")
        cmd.add_argument("--token", help="shared token for TCP (default: $DG_ENGINE_TOKEN, or a new one for serve)")
    serve = sub.choices["serve"]
    serve.add_argument("--device", help="cuda, mps or cpu (default: the best present)")
    serve.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                       help="default: bfloat16 on a GPU, the faster one on a CPU")
    serve.add_argument("--max-batch", type=int, default=8, help="requests per forward pass")
    serve.add_argument("--log-file", type=Path, help="log here instead of stderr")
    return ap


def serve(args) -> int:
    import asyncio

    from engine.daemon import Daemon, write_token_file
    from engine.engine import Engine
    from engine.scheduler import Scheduler

    logging.basicConfig(filename=args.log_file, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    token = None
    if args.tcp:
        token = args.token or os.environ.get("DG_ENGINE_TOKEN") or secrets.token_urlsafe(24)
        print(f"dg-engine: token written to {write_token_file(token)}", file=sys.stderr)
    scheduler = Scheduler(lambda: Engine(args.model, device=args.device, dtype=args.dtype), max_batch=args.max_batch,
                          compile=True)
    socket_path = None if args.tcp else (args.socket or p.default_socket(args.model))
    asyncio.run(Daemon(scheduler, socket_path=socket_path, tcp=args.tcp, token=token).serve())
    return 0


def client_for(args):
    from engine.client import EngineClient

    address = f"tcp://{args.tcp[0]}:{args.tcp[1]}" if args.tcp else args.socket
    return EngineClient(address, args.model, autostart=False, token=args.token, timeout=10)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from engine.client import EngineError
    from engine.modeldir import ModelDirError, check_dir

    try:
        if args.command == "serve":
            check_dir(args.model.resolve())
            return serve(args)
        client = client_for(args)
        if args.command == "status":
            print(json.dumps(asdict(client.status()), indent=1))
        else:
            client.shutdown()
            print("dg-engine: stopped")
        return 0
    except EngineError as exc:
        print(f"dg-engine: {exc}", file=sys.stderr)
        return 1
    except ModelDirError as exc:
        print(f"dg-engine: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
