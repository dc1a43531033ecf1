"""dg-lsp: the language server that answers inline completions with a text-diffusion model.

Never imports torch: the model lives in the engine daemon, reached through engine.client.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dg-lsp")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
