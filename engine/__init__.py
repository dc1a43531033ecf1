"""The infill engine: the resident daemon that holds the model, and the client that talks to it.

Only the daemon side (`engine.daemon`, `engine.model`, `engine.sampler`) imports torch.
"""

from pathlib import Path

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "dg-tiny"
