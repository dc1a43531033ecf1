"""Reading and re-encoding files: every byte outside the holes comes back as it was."""

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_cli.textfile import Unreadable, decode, looks_binary, newline_style, read, with_newlines

ENCODINGS = [
    (b"", "utf-8"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
]

lines = st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"), max_size=12),
                 max_size=8)
newlines = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=200)
@given(lines, newlines, st.sampled_from(ENCODINGS), st.booleans())
def test_read_then_encode_gives_the_same_bytes(tmp_path_factory, body, newline, encoding, final_newline):
    bom, codec = encoding
    text = newline.join(body) + (newline if final_newline else "")
    data = bom + text.encode(codec)
    path = tmp_path_factory.mktemp("f") / "file.txt"
    path.write_bytes(data)
    file = read(path, max_bytes=1 << 20)
    assert file.encode(file.text) == data
    assert file.bom == bom
    assert file.text == text


@given(st.binary(max_size=200).filter(lambda data: b"\0" not in data))
def test_any_bytes_without_nul_round_trip_through_latin_1(data):
    text, encoding, bom = decode(data, "latin-1")
    assert bom + text.encode(encoding) == data


def test_latin_1_file_is_read_as_latin_1_and_keeps_its_bytes(tmp_path):
    data = "caf\xe9 = 'cr\xe8me'\r\n".encode("latin-1")
    path = tmp_path / "menu.py"
    path.write_bytes(data)
    file = read(path, max_bytes=1000)
    assert (file.encoding, file.newline, file.text) == ("latin-1", "\r\n", "caf\xe9 = 'cr\xe8me'\r\n")
    assert file.encode(file.text) == data


def test_undecodable_file_without_fallback_is_refused(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"name = 'Ren\xe9'\n")
    with pytest.raises(Unreadable, match="not valid utf-8 or ascii"):
        read(path, max_bytes=1000, fallback_encoding="ascii")


def test_binary_and_oversized_files_are_refused(tmp_path):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    with pytest.raises(Unreadable, match="binary"):
        read(binary, max_bytes=1000)
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 100)
    with pytest.raises(Unreadable, match="larger than 100 bytes"):
        read(big, max_bytes=100)


def test_utf16_text_is_not_binary_despite_its_nul_bytes():
    assert not looks_binary(codecs.BOM_UTF16_LE + "x = 1\n".encode("utf-16-le"))
    assert looks_binary(codecs.BOM_UTF8 + b"a\0b")
    assert looks_binary(b"a\0b")


@pytest.mark.parametrize("text, style", [
    ("a\nb\n", "\n"), ("a\r\nb\r\n", "\r\n"), ("a\rb\r", "\r"), ("no newline", "\n"), ("a\r\nb\r\nc\n", "\r\n"),
])
def test_newline_style_is_the_most_common_ending(text, style):
    assert newline_style(text) == style


@given(st.text(), newlines)
def test_with_newlines_leaves_only_the_asked_ending(text, newline):
    converted = with_newlines(text, newline)
    others = {"\n", "\r\n", "\r"} - {newline}
    unified = converted.replace(newline, "\0")
    assert not any(other in unified for other in others)
    assert with_newlines(converted, "\n") == text.replace("\r\n", "\n").replace("\r", "\n")
