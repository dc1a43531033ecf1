"""Syntax-aware context and post-processing for code infilling: pure Python over tree-sitter.

    doc = Document(text, "python", path)          # tree kept up to date by doc.apply_change(start, end, new)
    request = build_request(doc, offset)          # None where no completion makes sense
    ... the engine fills request.prefix / request.suffix with up to request.max_tokens ...
    completion = postprocess(request, raw, doc)   # text to put over [start, end), or a Rejection

All offsets are Python str offsets.
"""

from infill.completion import Completion, Rejection, postprocess
from infill.document import Document
from infill.languages import Language, resolve
from infill.request import CompletionRequest, build_request

__all__ = ["Completion", "CompletionRequest", "Document", "Language", "Rejection", "build_request", "postprocess",
           "resolve"]
