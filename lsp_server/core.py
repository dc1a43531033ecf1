"""The session behind the LSP edge: settings, open documents, the engine link and the completer.

Imported after the initialize answer (see server.py): tree-sitter, the infill package and the engine
client are not needed to say hello, and the editor waits for that answer.
"""

from __future__ import annotations

import logging
from typing import Any

from infill.settings import Settings, SettingsError
from lsp_server.completer import Completer
from lsp_server.documents import DocumentStore
from lsp_server.engine_link import EngineLink
from lsp_server.stats import Stats
from lsp_server.ui import UserInterface

log = logging.getLogger(__name__)


class Core:
    def __init__(self, ui: UserInterface, stats: Stats) -> None:
        self.ui = ui
        self.stats = stats
        self.settings = Settings()
        self.documents = DocumentStore()
        self.link = EngineLink(ui, self.settings)
        self.completer = Completer(self.documents, self.link, stats, self.settings)

    def apply_settings(self, section: Any) -> None:
        """Apply a "dg" section; a bad one is reported once and the previous settings stay."""
        try:
            settings = Settings.from_dict(section, self.settings)
        except SettingsError as exc:
            self.ui.show_once(f"settings:{exc}", f"dg-lsp: {exc}. The previous settings stay in effect.")
            return
        if settings != self.settings:
            # Only a change is news: a late workspace/configuration answer that changes nothing must not
            # let the same bad setting show again.
            self.ui.forget("settings:")
            log.info("settings: %s", settings.to_dict())
        self.settings = self.completer.settings = settings
        self.link.configure(settings)

    async def status(self) -> dict:
        engine = await self.link.report()
        engine_status = engine["status"] or {}
        return {
            "state": engine["state"],
            "model": engine_status.get("model") or self.settings.model_dir or "dg-tiny",
            "device": engine_status.get("device"),
            "engine": engine,
            "languagesNotCovered": sorted(self.completer.uncovered),
            **self.stats.report(),
            "settings": self.settings.to_dict(),
            # What applies: the user's settings, with the model's own defaults where the user set none.
            "effectiveSettings": self.settings.for_model(engine_status.get("min_confidence"),
                                                         engine_status.get("max_lines")).to_dict(),
        }
