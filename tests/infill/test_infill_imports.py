import subprocess
import sys

MODULES = ["infill", "infill.completion", "infill.context", "infill.document", "infill.gap", "infill.indentation",
           "infill.languages", "infill.offsets", "infill.request", "infill.snippets", "infill.syntax", "infill.tokens",
           "infill.filters.brackets", "infill.filters.clip", "infill.filters.indent_style", "infill.filters.lines",
           "infill.filters.parse_errors", "infill.filters.repetition", "infill.filters.scan",
           "infill.filters.suffix_repeat", "infill.filters.syntax_end"]


def test_infill_stays_pure_python_over_tree_sitter():
    code = ("import importlib, sys\n"
            f"for name in {MODULES!r}: importlib.import_module(name)\n"
            "heavy = [m for m in ('torch', 'transformers', 'pygls', 'lsprotocol') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)
