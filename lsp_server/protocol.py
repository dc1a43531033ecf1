"""pygls' LanguageServerProtocol without pygls' own copy of the open documents, and with the
answers JSON-RPC owes a client that speaks out of turn.

pygls keeps every open document as a string it splits into lines on each change (at the line
breaks of str.splitlines, which are not the LSP's). dg keeps its documents in
lsp_server.documents, incrementally parsed by tree-sitter; a second copy would double the work of
every keystroke. These overrides hand text sync straight to the server's handlers.

Before `initialize`, a request gets -32002 (ServerNotInitialized) and a notification other than
`exit` is dropped, as the LSP specification says; pygls would run the handler on a session that is
not there and send the client the traceback. No error reply carries a traceback: it goes to the log.
"""

from __future__ import annotations

import logging
from functools import partial

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcServerNotInitialized
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import RPCNotification, RPCRequest

log = logging.getLogger(__name__)


class DgProtocol(LanguageServerProtocol):
    initialize_seen = False

    def handle_message(self, message):
        method = getattr(message, "method", None)
        if method == types.INITIALIZE:
            self.initialize_seen = True
        elif not self.initialize_seen and method != types.EXIT:
            if isinstance(message, RPCRequest):
                error = JsonRpcServerNotInitialized("the server is not initialized: send initialize first")
                self._send_response(message.id, error=error.to_response_error())
                return
            if isinstance(message, RPCNotification):
                log.warning("dropped %s, which came before initialize", method)
                return
        super().handle_message(message)

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        # pygls files the future of every generator handler (the text-sync ones below, a didChange per
        # keystroke) under a fresh id and forgets it only for client requests: each notification
        # leaked a Future and its id, 2 KB a keystroke. Ids that are not a client request's are
        # dropped once their handler is done.
        if not (isinstance(callback, partial) and callback.func == self._send_handler_result):
            done = callback

            def callback(future, msg_id=msg_id):
                # A future cancelled at shutdown calls back while pygls iterates over these futures.
                if not future.cancelled():
                    self._request_futures.pop(msg_id, None)
                done(future)
        super()._execute_handler(msg_id, handler, callback, args, kwargs)

    def _send_response(self, msg_id, result=None, error=None):
        if error is not None and error.code == JsonRpcInternalError.CODE and error.data is not None:
            log.error("request %s failed: %s", msg_id, error.data)
            error = types.ResponseError(code=error.code, message=error.message)
        super()._send_response(msg_id, result, error)

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None
