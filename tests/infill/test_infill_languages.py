import pytest

from infill.languages import LANGUAGES, resolve

SAMPLES = {
    "python": "def f(x):\n    return x\n",
    "javascript": "function f(x) { return x; }\n",
    "typescript": "function f(x: number): number { return x; }\n",
    "tsx": "const A = () => <div>{x}</div>;\n",
    "go": "package main\n\nfunc f(x int) int { return x }\n",
    "rust": "fn f(x: i32) -> i32 { x }\n",
    "java": "class A { int f(int x) { return x; } }\n",
    "c": "int f(int x) { return x; }\n",
    "cpp": "template <class T> T f(T x) { return x; }\n",
    "c_sharp": "class A { int F(int x) { return x; } }\n",
    "kotlin": "fun f(x: Int): Int { return x }\n",
    "scala": "object A { def f(x: Int): Int = x }\n",
    "php": "<?php function f($x) { return $x; }\n",
    "ruby": "def f(x)\n  x\nend\n",
    "lua": "local function f(x) return x end\n",
    "bash": "f() { echo \"$1\"; }\n",
    "css": "a { color: red; }\n",
    "html": "<p>hi</p>\n",
    "json": "{\"a\": [1, 2]}\n",
    "yaml": "a:\n  - 1\n",
    "toml": "[a]\nb = 1\n",
}


@pytest.mark.parametrize("lang", LANGUAGES, ids=lambda lang: lang.name)
def test_every_grammar_loads_and_parses_a_sample(lang):
    tree = lang.parser().parse(SAMPLES[lang.name].encode())
    assert not tree.root_node.has_error


@pytest.mark.parametrize(("language_id", "path", "name"), [
    ("python", None, "python"),
    ("Python", None, "python"),
    ("typescriptreact", None, "tsx"),
    ("javascriptreact", None, "javascript"),
    ("shellscript", None, "bash"),
    (None, "/src/main.rs", "rust"),
    (None, "x/Y.JAVA", "java"),
    (None, "a.hpp", "cpp"),
    (None, "a.h", "c"),
    ("plaintext", "notes.go", "go"),
    ("go", "weird.txt", "go"),
])
def test_resolve_by_lsp_id_then_extension(language_id, path, name):
    assert resolve(language_id, path).name == name


@pytest.mark.parametrize(("language_id", "path"), [
    (None, None), ("plaintext", None), ("markdown", "README.md"), (None, "Makefile"), ("", ""),
])
def test_unknown_languages_are_plain_text(language_id, path):
    assert resolve(language_id, path) is None


def test_ids_and_extensions_are_unambiguous():
    ids = [i for lang in LANGUAGES for i in lang.lsp_ids]
    extensions = [e for lang in LANGUAGES for e in lang.extensions]
    assert len(ids) == len(set(ids))
    assert len(extensions) == len(set(extensions))
