"""Syntax-aware context and post-processing for code infilling: pure Python over tree-sitter."""

from infill.document import Document
from infill.languages import Language, resolve
from infill.completion import Completion, postprocess
from infill.request import InfillRequest, build_request

__all__ = ["Completion", "Document", "InfillRequest", "Language", "build_request", "postprocess", "resolve"]
