"""The language table: LSP language ids and file extensions -> tree-sitter grammar and syntax facts.

Every other module asks this one about a language; none names a grammar itself. A language that is
not in the table is plain text: `resolve` returns None and callers fall back to text-only rules.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from functools import cached_property

import tree_sitter


@dataclass(frozen=True)
class Language:
    name: str
    lsp_ids: tuple[str, ...]
    extensions: tuple[str, ...]
    module: str
    # The grammar module's entry point: tree-sitter-typescript and -php each ship two grammars.
    function: str = "language"
    line_comment: str | None = None
    block_comment: tuple[str, str] | None = None
    # Line endings after which the next lines are a block body ("def f():", "if (x) {").
    block_openers: tuple[str, ...] = ()
    # Characters that open and close string literals; Rust's "'" is left out because lifetimes
    # ('a) would read as unterminated strings.
    quotes: str = ""
    indent: str = "    "
    import_types: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def ts_language(self) -> tree_sitter.Language:
        return tree_sitter.Language(getattr(importlib.import_module(self.module), self.function)())

    def parser(self) -> tree_sitter.Parser:
        return tree_sitter.Parser(self.ts_language)


# Most languages here share C's comments, brackets and quotes.
_C_LIKE = {"line_comment": "//", "block_comment": ("/*", "*/"), "block_openers": ("{", "(", "["),
           "quotes": "\"'"}
_C_IMPORTS = frozenset({"preproc_include", "using_declaration", "alias_declaration"})
_JS_IMPORTS = frozenset({"import_statement"})
_JS_LIKE = {**_C_LIKE, "quotes": "\"'`", "indent": "  ", "import_types": _JS_IMPORTS}

LANGUAGES: tuple[Language, ...] = (
    Language("python", ("python",), (".py", ".pyi", ".pyw"), "tree_sitter_python",
             line_comment="#", block_openers=(":", "(", "[", "{"), quotes="\"'",
             import_types=frozenset({"import_statement", "import_from_statement", "future_import_statement"})),
    Language("javascript", ("javascript", "javascriptreact", "js", "jsx"), (".js", ".mjs", ".cjs", ".jsx"),
             "tree_sitter_javascript", **_JS_LIKE),
    Language("typescript", ("typescript", "ts"), (".ts", ".mts", ".cts"), "tree_sitter_typescript",
             function="language_typescript", **_JS_LIKE),
    Language("tsx", ("typescriptreact", "tsx"), (".tsx",), "tree_sitter_typescript", function="language_tsx",
             **_JS_LIKE),
    Language("go", ("go",), (".go",), "tree_sitter_go", **{**_C_LIKE, "quotes": "\"'`"}, indent="\t",
             import_types=frozenset({"import_declaration", "package_clause"})),
    Language("rust", ("rust",), (".rs",), "tree_sitter_rust", **{**_C_LIKE, "quotes": "\""},
             import_types=frozenset({"use_declaration", "extern_crate_declaration"})),
    Language("java", ("java",), (".java",), "tree_sitter_java", **_C_LIKE,
             import_types=frozenset({"import_declaration", "package_declaration"})),
    Language("c", ("c",), (".c", ".h"), "tree_sitter_c", **_C_LIKE, import_types=_C_IMPORTS),
    Language("cpp", ("cpp", "c++", "cuda-cpp"),
             (".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp", ".cu"), "tree_sitter_cpp",
             **_C_LIKE, import_types=_C_IMPORTS),
    Language("c_sharp", ("csharp", "c#"), (".cs",), "tree_sitter_c_sharp", **_C_LIKE,
             import_types=frozenset({"using_directive"})),
    Language("kotlin", ("kotlin",), (".kt", ".kts"), "tree_sitter_kotlin", **_C_LIKE,
             import_types=frozenset({"import_header", "import_list", "package_header"})),
    Language("scala", ("scala",), (".scala", ".sc"), "tree_sitter_scala",
             **{**_C_LIKE, "block_openers": ("{", "(", "[", "=")}, indent="  ",
             import_types=frozenset({"import_declaration", "package_clause"})),
    Language("php", ("php",), (".php",), "tree_sitter_php", function="language_php", **_C_LIKE,
             import_types=frozenset({"namespace_use_declaration", "namespace_definition"})),
    Language("ruby", ("ruby",), (".rb", ".rake", ".gemspec"), "tree_sitter_ruby", line_comment="#",
             block_openers=("do", "then", "else", "begin", "|", "{", "(", "["), quotes="\"'", indent="  "),
    Language("lua", ("lua",), (".lua",), "tree_sitter_lua", line_comment="--", block_comment=("--[[", "]]"),
             block_openers=("then", "do", "else", "{", "("), quotes="\"'"),
    Language("bash", ("shellscript", "bash", "sh", "zsh"), (".sh", ".bash", ".zsh"), "tree_sitter_bash",
             line_comment="#", block_openers=("then", "do", "else", "{", "("), quotes="\"'"),
    Language("css", ("css",), (".css",), "tree_sitter_css", **{**_C_LIKE, "line_comment": None},
             indent="  "),
    Language("html", ("html",), (".html", ".htm"), "tree_sitter_html", block_comment=("<!--", "-->"),
             block_openers=(">",), quotes="\"'", indent="  "),
    Language("json", ("json", "jsonc"), (".json", ".jsonc"), "tree_sitter_json",
             **{**_C_LIKE, "block_openers": ("{", "["), "quotes": "\""}, indent="  "),
    Language("yaml", ("yaml",), (".yaml", ".yml"), "tree_sitter_yaml", line_comment="#", block_openers=(":",),
             quotes="\"'", indent="  "),
    Language("toml", ("toml",), (".toml",), "tree_sitter_toml", line_comment="#", block_openers=("[", "{"),
             quotes="\"'"),
)

_BY_ID = {lsp_id: lang for lang in LANGUAGES for lsp_id in lang.lsp_ids + (lang.name,)}
_BY_EXTENSION = {ext: lang for lang in LANGUAGES for ext in lang.extensions}


def resolve(language_id: str | None = None, path: str | None = None) -> Language | None:
    """The language for an LSP language id, else for the path's extension; None means plain text."""
    if language_id:
        lang = _BY_ID.get(language_id.lower())
        if lang is not None:
            return lang
    if path:
        return _BY_EXTENSION.get(os.path.splitext(path)[1].lower())
    return None
