"""Arbitrary text and cursors never raise and always give ranges inside the document."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infill import Completion, Document, build_request, postprocess

LANGUAGES = [None, "python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "ruby",
             "yaml", "html"]

# Code-ish characters, line endings of every kind, characters outside the BMP, and a lone
# surrogate (JSON can decode one into a str).
ALPHABET = st.sampled_from(list("abcxyz_019 \t\n\r(){}[]<>:;,.'\"`#/*\\=+-!$@") +
                           ["\r\n", "é", "中", "😀", "𝔘", "\u200b", "\x00", "\ud800"])
code = st.lists(ALPHABET, max_size=120).map("".join)
anything = st.one_of(code, st.text(max_size=80))

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_request(doc, offset, request):
    if request is None:
        return
    text = doc.text
    assert 0 <= request.offset == offset <= request.replace_end <= len(text)
    # The prefix is the text before the cursor, unless headers or imports were put ahead of it.
    assert text[:offset].endswith(request.prefix) or "\n" in request.prefix
    assert text[request.replace_end:].startswith(request.suffix)
    assert request.mode in ("rest_of_line", "line", "block", "short")
    assert request.max_tokens > 0 and request.max_lines >= 1
    assert request.indent == "\t" or set(request.indent) == {" "}


@SETTINGS
@given(language=st.sampled_from(LANGUAGES), text=anything, raw=anything, data=st.data())
def test_any_text_and_cursor(language, text, raw, data):
    doc = Document(text, language)
    offset = data.draw(st.integers(-2, len(text) + 2))
    max_lines = data.draw(st.one_of(st.none(), st.integers(1, 5)))
    request = build_request(doc, offset, prefix_tokens=data.draw(st.integers(0, 64)),
                            suffix_tokens=data.draw(st.integers(0, 32)), max_lines=max_lines)
    if not 0 <= offset <= len(text):
        assert request is None
        return
    check_request(doc, offset, request)
    if request is None:
        return
    completion = postprocess(request, raw, doc)
    if isinstance(completion, Completion):
        assert completion.text.strip()
        assert (completion.start, completion.end) == (request.offset, request.replace_end)
        assert completion.text.count("\n") <= request.max_lines


@SETTINGS
@given(language=st.sampled_from(LANGUAGES), text=code, data=st.data())
def test_requests_after_incremental_edits(language, text, data):
    doc = Document(text, language)
    for _ in range(data.draw(st.integers(1, 5))):
        start = data.draw(st.integers(0, len(doc.text)))
        end = data.draw(st.integers(start, len(doc.text)))
        doc.apply_change(start, end, data.draw(code))
        offset = data.draw(st.integers(0, len(doc.text)))
        check_request(doc, offset, build_request(doc, offset, prefix_tokens=16, suffix_tokens=8))


@SETTINGS
@given(text=anything, data=st.data())
def test_open_documents_never_break_a_request(text, data):
    others = [Document(data.draw(code), "python", f"/p/m{i}.py") for i in range(2)]
    doc = Document(text, "python")
    offset = data.draw(st.integers(0, len(text)))
    check_request(doc, offset, build_request(doc, offset, open_documents=others + [doc]))


def test_binary_and_huge_documents_get_nothing():
    assert build_request(Document("x = 1\x00\n", "python"), 3) is None
    huge = Document("x = 1\n" * 700_000, "python")
    assert huge.tree is None
    assert build_request(huge, 3) is None


@SETTINGS
@given(language=st.sampled_from(LANGUAGES), text=code, raw=anything, data=st.data())
def test_a_document_edited_after_the_request_never_breaks_postprocess(language, text, raw, data):
    doc = Document(text, language)
    request = build_request(doc, data.draw(st.integers(0, len(text))))
    if request is None:
        return
    start = data.draw(st.integers(0, len(doc.text)))
    doc.apply_change(start, data.draw(st.integers(start, len(doc.text))), data.draw(code))
    completion = postprocess(request, raw, doc)
    if isinstance(completion, Completion):
        assert completion.start <= completion.end <= len(doc.text)
