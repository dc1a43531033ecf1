"""Fuzzing the LSP stream: whatever frames, params and positions arrive, every request gets exactly
one answer, and the server still answers a normal completion afterwards. Bounded: a fixed number of
examples per property, each with a hang guard."""

from __future__ import annotations

import itertools
import json
import queue
import re
import subprocess
import threading

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.lsp.conftest import SERVER

URI = "file:///work/example/fuzz.py"
TEXT = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
REPLY_TIMEOUT_S = 30.0  # a hang guard, not a measure
# No shrinking: a failing example is reported as found, within the bound.
EXAMPLES = settings(max_examples=40, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow])


class Server:
    """dg-lsp over stdio with a thread collecting the responses it sends."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.responses: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ids = itertools.count(1)

    def _read(self) -> None:
        out, length = self.proc.stdout, None
        while header := out.readline():
            if m := re.match(rb"Content-Length: (\d+)", header):
                length = int(m.group(1))
            elif header == b"\r\n" and length is not None:
                message = json.loads(out.read(length))
                length = None
                if "method" not in message:
                    self.responses.put(message)

    @staticmethod
    def frame(body: bytes) -> bytes:
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def message(self, method: str, params, msg_id=None) -> bytes:
        msg = {"jsonrpc": "2.0", "method": method, "params": params}
        if msg_id is not None:
            msg["id"] = msg_id
        return self.frame(json.dumps(msg).encode())

    def answers(self, ids: set, extra: int = 0) -> list[dict]:
        """Responses until every id in `ids` and `extra` responses with a null id have come."""
        got = []
        while not ids <= {r.get("id") for r in got} or sum(r.get("id") is None for r in got) < extra:
            got.append(self.responses.get(timeout=REPLY_TIMEOUT_S))
        return got

    def normal_completion_answers(self, noise: int = 0) -> None:
        """A well-formed completion request is answered; before it, at most `noise` other answers: errors
        with a null id, or the answer to request "x"."""
        msg_id = f"normal-{next(self.ids)}"
        self.send(self.message("textDocument/inlineCompletion", {
            "textDocument": {"uri": URI}, "position": {"line": 4, "character": 11}, "context": {"triggerKind": 2}},
            msg_id))
        got = self.answers({msg_id})
        assert got[-1].get("result") == {"items": []}, got
        assert len(got) - 1 <= noise and all(r.get("id") in (None, "x") for r in got[:-1]), got
        assert self.responses.empty(), f"an answer too many: {self.responses.get()}"


@pytest.fixture(scope="module")
def server():
    s = Server()
    s.send(s.message("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                    "initializationOptions": {"enabled": False}}, 0))
    s.answers({0})
    s.send(s.message("initialized", {}))
    s.send(s.message("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "python", "version": 1,
                                                               "text": TEXT}}))
    yield s
    s.proc.kill()
    s.proc.wait()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=3), max_leaves=8)
numbers = st.integers(min_value=-(2**40), max_value=2**40) | st.sampled_from([0, 1, 4, 11, 2**31 - 1, -1])
positions = st.fixed_dictionaries({"line": numbers, "character": numbers}) | json_values
completion_params = st.fixed_dictionaries({
    "textDocument": st.fixed_dictionaries({"uri": st.sampled_from([URI, "file:///nowhere.py", ""])}) | json_values,
    "position": positions,
    "context": st.fixed_dictionaries({"triggerKind": st.sampled_from([1, 2, 3, -1])}) | json_values,
}) | json_values
requests = st.one_of(
    st.tuples(st.just("textDocument/inlineCompletion"), completion_params),
    st.tuples(st.just("workspace/executeCommand"),
              st.fixed_dictionaries({"command": st.sampled_from(["dg.status", "nope"])}) | json_values),
    st.tuples(st.sampled_from(["no/suchMethod", "textDocument/hover", "$/cancelRequest"]), json_values),
)
changes = st.fixed_dictionaries({
    "textDocument": st.fixed_dictionaries({"uri": st.just(URI), "version": st.integers(2, 10**6)}),
    "contentChanges": st.lists(st.fixed_dictionaries({
        "range": st.fixed_dictionaries({"start": positions, "end": positions}), "text": st.text(max_size=10)}),
        max_size=2)}) | json_values


@EXAMPLES
@given(st.lists(st.one_of(requests.map(lambda r: ("request", r)), changes.map(lambda c: ("change", c)),
                          st.binary(max_size=40).map(lambda b: ("bytes", b))), min_size=1, max_size=6))
def test_lsp_fuzz_every_request_gets_one_answer(server, messages):
    ids, bad_bodies = set(), 0
    for kind, payload in messages:
        if kind == "request":
            msg_id = f"fuzz-{next(server.ids)}"
            ids.add(msg_id)
            server.send(server.message(*payload, msg_id))
        elif kind == "change":
            server.send(server.message("textDocument/didChange", payload))
        else:
            server.send(server.frame(payload))
            bad_bodies += 1  # random bytes are never a JSON-RPC message: one error with a null id each
    got = server.answers(ids, extra=bad_bodies)
    answered = [r["id"] for r in got if r.get("id") is not None]
    assert sorted(answered) == sorted(ids), got
    # Re-open the document so that a didChange that replaced its text does not change the next example.
    server.send(server.message("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "python",
                                                                         "version": 1, "text": TEXT}}))
    server.normal_completion_answers()


@EXAMPLES
@given(st.binary(max_size=200), st.sampled_from([-50, -5, -1, 0, 1, 10, 30, 500]))
def test_lsp_fuzz_a_bad_frame_costs_only_that_frame(server, junk, length_error):
    body = json.dumps({"jsonrpc": "2.0", "id": "x", "method": "workspace/executeCommand",
                       "params": {"command": "dg.status"}}).encode()
    # A frame whose Content-Length is off by length_error, or (0) a run of junk that is no frame at all.
    bad = b"Content-Length: %d\r\n\r\n" % max(0, len(body) + length_error) + body if length_error else junk
    server.send(bad + b"\r\n\r\n")  # the CR LF pair ends any header block the junk began
    server.normal_completion_answers(noise=3)
