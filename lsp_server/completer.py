"""An inline completion at a str offset of an open document: from memory when it can, else the model.

Order of the answers: the rest of the suggestion on screen (typing through), a remembered model
answer for the same context, a model call. A newer request for a document supersedes the one in
flight at once: the older one answers with no items, and the daemon stops denoising it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from lsprotocol.types import MessageType

from infill import Completion, build_request
from infill.judge import judge, uncovered
from infill.settings import Settings
from lsp_server import stats as S
from lsp_server.documents import DocumentStore, OpenDocument
from lsp_server.engine_link import EngineLink, NotReady
from lsp_server.memory import Answer, AnswerCache, Shown

log = logging.getLogger(__name__)


@dataclass
class _InFlight:
    task: asyncio.Task
    superseded: bool = False


class Completer:
    def __init__(self, documents: DocumentStore, link: EngineLink, stats: S.Stats, settings: Settings) -> None:
        self.documents = documents
        self.link = link
        self.stats = stats
        self.settings = settings
        self.cache = AnswerCache()
        self._shown: dict[str, Shown] = {}
        self._in_flight: dict[str, _InFlight] = {}
        self.uncovered: set[str] = set()  # languages asked for that the model was not trained on

    def forget(self, uri: str) -> None:
        """The document closed."""
        self._shown.pop(uri, None)
        self._supersede(uri)

    async def complete(self, od: OpenDocument, offset: int, *, invoked: bool = False) -> Completion | None:
        """The completion at `offset`; `invoked`: the user asked for it explicitly (no debounce)."""
        started = time.perf_counter()
        completion, source = None, S.NONE
        mine = self._supersede(od.uri, asyncio.current_task())
        try:
            completion, source = await self._complete(od, offset, invoked)
            return completion
        except asyncio.CancelledError:
            source = S.CANCELLED
            if not mine.superseded:
                raise  # cancelled by the client: pygls answers RequestCancelled
            asyncio.current_task().uncancel()
            return None
        finally:
            if self._in_flight.get(od.uri) is mine:
                del self._in_flight[od.uri]
            self.stats.record(source, (time.perf_counter() - started) * 1000, items=int(completion is not None))

    def _supersede(self, uri: str, task: asyncio.Task | None = None) -> _InFlight | None:
        older = self._in_flight.pop(uri, None)
        if older is not None and not older.task.done():
            older.superseded = True
            older.task.cancel()
        if task is None:
            return None
        self._in_flight[uri] = mine = _InFlight(task)
        return mine

    async def _complete(self, od: OpenDocument, offset: int, invoked: bool) -> tuple[Completion | None, str]:
        # The model's own defaults once its engine has said them; the generic ones until then.
        status = self.link.engine_status
        settings = self.settings.for_model(status and status.min_confidence, status and status.max_lines)
        doc = od.doc
        if not settings.enabled or not self._language_ok(od) or not self._model_covers(od):
            return None, S.NONE
        text = doc.text
        shown = self._shown.get(od.uri)
        if shown is not None:
            rest = shown.rest_after(text, offset)
            if rest is not None:
                # Nothing typed: the same request again (an editor re-asking), a cache hit.
                source = S.TYPING_THROUGH if offset > shown.offset else S.CACHE
                return Completion(rest[0], offset, rest[1]), source
        request = build_request(doc, offset, max_lines=settings.max_lines,
                                open_documents=[other.doc for other in self.documents])
        if request is None:
            return None, S.NONE
        # The gate is in the key: the engine stops an answer where its joint probability falls below it.
        key = (request.language, request.mode, request.max_tokens, request.max_lines, settings.min_confidence,
               request.word_ends, request.prefix, request.suffix)
        answer = self.cache.get(key)
        source = S.CACHE
        if answer is None:
            source = S.MODEL
            try:
                answer = await self._ask_model(od.uri, request, invoked, settings.min_confidence)
            except NotReady:
                return None, S.NONE
            if answer is None:
                return None, source
            if answer.text.strip():
                # An empty answer is not remembered: asking again may well get one.
                self.cache.put(key, answer)
            if doc.text is not text:
                # The document changed while the model worked: the answer is for text no longer
                # there. It stays cached for a request whose context matches again.
                return None, source
        verdict = judge(request, answer.text, answer.token_confidences, answer.token_ends, doc,
                        settings.min_confidence)
        if not isinstance(verdict, Completion):
            self.stats.rejected[verdict.reason] += 1
            return None, source
        self._shown[od.uri] = Shown(text, verdict.start, verdict.end, verdict.text)
        return verdict, source

    async def _ask_model(self, uri: str, request, invoked: bool, gate: float) -> Answer | None:
        """The model's answer, None when it gave none; raises NotReady when the engine is not up."""
        if self.settings.debounce_ms and not invoked:
            # A newer keystroke supersedes this request during the wait, before any model work.
            await asyncio.sleep(self.settings.debounce_ms / 1000)
        self.link.check_ready()
        self.stats.model_calls += 1
        started = time.perf_counter()
        result = await self.link.infill(uri, request.prefix, request.suffix, request.max_tokens, request.max_lines,
                                        gate, request.word_ends)
        if result is None:
            return None
        self.stats.record_model((time.perf_counter() - started) * 1000)
        return Answer(result.text, result.token_confidences, result.token_ends)

    def _model_covers(self, od: OpenDocument) -> bool:
        """Whether the model declares the document's language; if not, the user is told once per
        language, and the model is not asked."""
        status = self.link.engine_status
        names = [od.language_id] + ([od.doc.language.name] if od.doc.language else [])
        rejection = uncovered(names, status.languages if status else [])
        if rejection is None:
            return True
        self.uncovered.add(od.language_id)
        self.stats.rejected[rejection.reason] += 1
        self.link.ui.show_once(
            f"language:{status.model}:{od.language_id}",
            f"dg-lsp: the model {status.model} was trained on {', '.join(status.languages)} only, so it makes no "
            f"completions in {od.language_id} files. Point the dg.modelDir setting at a model that covers "
            f"{od.language_id}.", MessageType.Info)
        return False

    def _language_ok(self, od: OpenDocument) -> bool:
        language = od.doc.language
        # A language without a grammar gets completions only when the user names it: the model is
        # trained on code, and plain-text guesses in prose files would be noise.
        if language is None:
            return od.language_id.lower() in {name.lower() for name in self.settings.enabled_languages}
        return self.settings.language_enabled(od.language_id, language.name)
