"""The infill engine: the resident daemon that holds the model, and the client that talks to it.

Everything here is torch-free (the wire protocol, the clients, the model directory, the canvas
layout, the exit statuses, the in-process adapter) except `engine.serve`, the daemon's side, which
alone imports torch and transformers.
"""

from pathlib import Path

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "dg-tiny"
