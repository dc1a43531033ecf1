"""What the user sees outside completions: messages shown once, and progress while the model loads."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

_LOG_LEVEL = {types.MessageType.Error: logging.ERROR, types.MessageType.Warning: logging.WARNING,
              types.MessageType.Info: logging.INFO}
PROGRESS_CREATE_TIMEOUT_S = 5.0


class UserInterface:
    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self._shown: set[str] = set()
        self._tokens = itertools.count(1)

    def show_once(self, key: str, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        """Log the message; show it through window/showMessage unless `key` was shown already.

        A problem that persists (a daemon that will not start, a bad setting sent again) would
        otherwise put up the same popup on every keystroke.
        """
        log.log(_LOG_LEVEL.get(kind, logging.INFO), "%s", message)
        if key in self._shown:
            return
        self._shown.add(key)
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def forget(self, *prefixes: str) -> None:
        """Let the messages whose keys start with a prefix show again (the problem went away)."""
        self._shown = {key for key in self._shown if not key.startswith(prefixes)}

    @contextlib.asynccontextmanager
    async def progress(self, title: str, message: str):
        """window/workDoneProgress around a block, where the client supports it; yields a
        callable that sets the message the progress ends with."""
        end = {"message": None}
        token = None
        if get_capability(self.server.client_capabilities, "window.work_done_progress", False):
            token = f"dg-{next(self._tokens)}"
            try:
                await asyncio.wait_for(self.server.work_done_progress.create_async(token),
                                       PROGRESS_CREATE_TIMEOUT_S)
                self.server.work_done_progress.begin(
                    token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=False))
            except Exception as exc:  # a client that refuses progress still gets completions
                log.info("no progress report: %s", exc)
                token = None
        try:
            yield lambda text: end.update(message=text)
        finally:
            if token is not None:
                self.server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=end["message"]))
