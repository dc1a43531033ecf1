import gc
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from infill import Document
from infill.offsets import Utf8Index, encode

PYTHON = '''import os


class Greeter:
    """Says hello; ünïcödé 😀 in a docstring."""

    def greet(self, name: str) -> str:
        if not name:
            return "nobody 🙃"
        return f"hello {name}"
'''

GO = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"héllo, 世界\")\n}\n"
JS = "const greet = (name) => {\n  return `hi ${name} 👋`;\n};\n"

C = "#include <stdio.h>\r\n\r\nint main(void) {\r\n    printf(\"héllo\\n\");\r\n    return 0;\r\n}\r\n"


def shape(node):
    """The whole tree with positions, so a shifted node counts as a difference."""
    return (node.type, node.start_byte, node.end_byte, tuple(node.start_point), tuple(node.end_point),
            tuple(shape(child) for child in node.children))


def full_parse(doc):
    return doc.language.parser().parse(encode(doc.text))


def test_plain_text_has_no_tree():
    doc = Document("just words", "plaintext")
    assert doc.language is None and doc.tree is None
    doc.apply_change(0, 4, "only")
    assert doc.text == "only words"


def test_apply_change_edits_text_and_tree():
    doc = Document("def f(x):\n    return x\n", "python")
    assert doc.tree.root_node.type == "module"
    start = doc.text.index("x\n")
    doc.apply_change(start, start + 1, "x + 1")
    assert doc.text == "def f(x):\n    return x + 1\n"
    assert "binary_operator" in str(doc.tree.root_node)
    assert shape(doc.tree.root_node) == shape(full_parse(doc).root_node)


def test_change_outside_the_text_is_refused():
    doc = Document("abc", "python")
    with pytest.raises(ValueError):
        doc.apply_change(2, 5, "x")
    with pytest.raises(ValueError):
        doc.apply_change(2, 1, "x")


def test_replace_all_resets_tree():
    doc = Document("x = 1\n", "python")
    doc.tree
    doc.replace_all("def g():\n    pass\n")
    assert "function_definition" in str(doc.tree.root_node)


def test_version_counts_changes():
    doc = Document("a", None)
    first = doc.version
    doc.apply_change(0, 0, "b")
    doc.replace_all("c")
    assert doc.version == first + 2


def test_parse_replacement_leaves_the_document_alone():
    doc = Document("x = (1\n", "python")
    before = str(doc.tree.root_node)
    edited, new = doc.parse_replacement(6, 6, ")", 100)
    assert not new.root_node.has_error
    assert str(doc.tree.root_node) == before and doc.text == "x = (1\n"


def test_parse_replacement_keeps_nothing_of_the_text_it_parsed():
    # dg-lsp checks each model answer with parse_replacement; a parse that kept the bytes it read
    # grew the server by the document's size per keystroke (issue #20).
    doc = Document(PYTHON * 200, "python")
    doc.tree
    doc.parse_replacement(10, 10, "x", 10_000)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            doc.parse_replacement(10, 10, "x", 10_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < len(doc.text), f"{grown:,} bytes kept after 50 parses of a {len(doc.text):,}-character document"


@st.composite
def edits(draw, text_strategy):
    text = draw(text_strategy)
    changes = []
    length = len(text)
    for _ in range(draw(st.integers(1, 8))):
        start = draw(st.integers(0, length))
        end = draw(st.integers(start, length))
        new = draw(st.text(alphabet=st.sampled_from(list("abc xy_():{}\"'\n\r\t#é😀\\")), max_size=12))
        changes.append((start, end, new))
        length += len(new) - (end - start)
    return text, changes


@pytest.mark.parametrize(("source", "language"), [(PYTHON, "python"), (C, "c"), (GO, "go"), (JS, "javascript")])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_incremental_edits_give_the_tree_of_a_full_parse(source, language, data):
    _, changes = data.draw(edits(st.just(source)))
    doc = Document(source, language)
    doc.tree
    for start, end, new in changes:
        doc.apply_change(start, end, new)
        if data.draw(st.booleans()):
            doc.tree  # reparse between some edits, batch others
    full = full_parse(doc).root_node
    if full.has_error:
        # Error recovery may differ between an incremental and a fresh parse (tree-sitter does not promise
        # the same ERROR/MISSING nodes), so broken code only has to span the same text and stay broken.
        assert doc.tree.root_node.has_error and doc.tree.root_node.end_byte == full.end_byte
    else:
        assert shape(doc.tree.root_node) == shape(full)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_utf8_index_round_trips_every_offset(text):
    index = Utf8Index(text)
    for offset in range(len(text) + 1):
        byte = index.to_byte(offset)
        assert byte == len(encode(text[:offset]))
        assert index.to_char(byte) == offset


def test_utf8_index_rounds_bytes_inside_a_character_down():
    index = Utf8Index("a😀b")
    assert [index.to_char(b) for b in range(7)] == [0, 1, 1, 1, 1, 2, 3]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_utf8_index_after_a_change_equals_a_fresh_index(data):
    text, changes = data.draw(edits(st.text(alphabet=st.sampled_from(list("ab \n") + ["é", "😀", "中"]), max_size=40)))
    index = Utf8Index(text)
    for start, end, new in changes:
        text_after = text[:start] + new + text[end:]
        index = index.replaced(start, end, new, text_after)
        text = text_after
    fresh = Utf8Index(text)
    for offset in range(len(text) + 1):
        assert index.to_byte(offset) == fresh.to_byte(offset)
    for byte in range(len(encode(text)) + 1):
        assert index.to_char(byte) == fresh.to_char(byte)


def test_a_replacement_parse_past_its_work_limit_gives_nothing_and_spoils_nothing():
    doc = Document("def f(:\n" + "    x = [1,\n" * 1000, "python")
    doc.tree
    assert doc.parse_replacement(8, 8, "(", 0) is None
    doc.apply_change(6, 6, "x")
    assert shape(doc.tree.root_node) == shape(full_parse(doc).root_node)
