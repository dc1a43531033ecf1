from infill import Document
from infill.snippets import definition_snippets, definitions


def test_definitions_follow_edits_of_the_other_document():
    other = Document("def old_name(x):\n    return x\n", "python", "/p/lib.py")
    assert definitions(other) == {"old_name": "def old_name(x):"}
    other.apply_change(4, 12, "new_name")
    assert definitions(other) == {"new_name": "def new_name(x):"}


def test_exported_and_decorated_definitions_are_found():
    js = Document("export function area(w, h) {\n  return w * h;\n}\nclass Box {\n  size() {}\n}\n", "javascript")
    assert definitions(js) == {"area": "function area(w, h)", "Box": "class Box"}
    py = Document("@cache\ndef load(path: str) -> bytes:\n    ...\n", "python")
    assert definitions(py) == {"load": "def load(path: str) -> bytes:"}


def test_snippets_respect_the_budget_and_the_language():
    doc = Document("area(1, 2) + volume(3)\n", "python")
    lib = Document("def area(w, h):\n    pass\n\ndef volume(x):\n    pass\n", "python", "/p/geo.py")
    js = Document("function area() {}\n", "javascript", "/p/geo.js")
    nearby = doc.text
    assert definition_snippets(doc, nearby, [lib, js], 1000) == ["# /p/geo.py\ndef area(w, h):",
                                                                 "# /p/geo.py\ndef volume(x):"]
    assert definition_snippets(doc, nearby, [lib], 30) == ["# /p/geo.py\ndef area(w, h):"]
    assert definition_snippets(doc, nearby, [lib], 0) == []
    assert definition_snippets(Document("area()", None), "area", [lib], 1000) == []
