"""dg-lsp: the language server that answers inline completions with a text-diffusion model.

Never imports torch: the model lives in the engine daemon, reached through engine.client.
"""

# The project version (pyproject.toml), written out: importlib.metadata costs a tenth of the one
# second `initialize` may take. tests/lsp/test_lsp_cli.py checks that the two agree.
__version__ = "0.1.0"
