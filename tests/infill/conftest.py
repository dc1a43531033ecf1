import pytest

from infill import Document

CURSOR = "█"


def at_cursor(source: str, language: str | None = None, path: str | None = None) -> tuple[Document, int]:
    """A document from `source` with the cursor marker removed, and the cursor's offset."""
    offset = source.index(CURSOR)
    return Document(source.replace(CURSOR, "", 1), language, path), offset


@pytest.fixture
def cursor_doc():
    return at_cursor


@pytest.fixture
def request_at():
    """(document, request) for `source` with the cursor at the marker."""
    from infill import build_request

    def make(source: str, language: str | None = None, **options):
        doc, offset = at_cursor(source, language)
        request = build_request(doc, offset, **options)
        assert request is not None
        return doc, request

    return make
