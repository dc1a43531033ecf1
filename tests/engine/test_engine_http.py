"""`dg-engine serve --http`: the real daemon and the real model, through HTTP as other clients speak
it (llama.cpp's /infill, OpenAI's /v1/completions and /v1/chat/completions, also through the official
`openai` package)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import chat_prompt, exit_status
from engine import protocol as p
from engine.client import EngineClient
from engine.serve import http_api as api

from tests.http_daemon import TOKEN as TCP_TOKEN
from tests.http_daemon import Http, start, stop, unused_port, wait_healthy

PREFIX = "def mean(values):\n    # Add up the "
SUFFIX = "\n    total = sum(values)\n    return total / len(values)\n"
# A context dg-tiny does not end soon: it keeps counting.
ENDLESS = "numbers = [" + ", ".join(str(i) for i in range(1, 40)) + ", "


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `dg-engine serve --socket PATH --http 127.0.0.1:PORT` with a token in its environment."""
    tmp = tmp_path_factory.mktemp("http")
    proc, port, sock, log = start(tmp, {**os.environ, "DG_ENGINE_TOKEN": TCP_TOKEN})
    srv = Http(port, sock, log, TCP_TOKEN)
    try:
        wait_healthy(srv, proc)
        yield srv
    finally:
        stop(proc, log)


def test_health_is_open_and_everything_else_needs_the_token(server):
    health = json.loads(server.request("GET", "/health", token=None)[2])
    assert health == {"status": "ok", "model": "dg-tiny", "compiled": health["compiled"]}
    code, headers, raw = server.request("GET", "/v1/models", token=None)
    assert code == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(raw)["error"]["code"] == p.UNAUTHORIZED
    assert server.request("GET", "/v1/models", token="x" * len(TCP_TOKEN))[0] == 401
    assert server.post("/infill", {"n_predict": 0}, token=None)[0] == 401
    code, _, raw = server.request("GET", "/v1/models")
    assert code == 200 and json.loads(raw)["data"][0]["id"] == "dg-tiny"


def test_infill_answers_as_llama_cpp_does(server):
    code, _, raw = server.request("POST", "/infill", {
        "input_prefix": "def mean(values):\n", "prompt": "    # Add up the ", "input_suffix": SUFFIX,
        "input_extra": [{"filename": "util.py", "text": "def total(xs):\n    return sum(xs)\n"}],
        "n_predict": 24, "t_max_predict_ms": 1000, "n_indent": 4, "stream": False, "cache_prompt": True,
        "samplers": ["top_k", "top_p", "infill"], "top_k": 40, "id_slot": 0})
    assert code == 200
    assert b'"content":"' in raw  # llama.vim recognises an answer by this, with no space
    body = json.loads(raw)
    assert isinstance(body["content"], str) and body["stop"] is True and body["model"] == "dg-tiny"
    assert body["stop_type"] in ("eos", "limit", "word")
    assert body["timings"]["predicted_n"] == body["tokens_predicted"] <= 24
    assert body["timings"]["predicted_ms"] > 0
    assert body["dg"]["steps"] >= 1


def test_infill_response_fields_are_flattened_paths(server):
    code, body = server.post("/infill", {"input_prefix": PREFIX, "input_suffix": SUFFIX, "n_predict": 8,
                                         "response_fields": ["content", "timings/predicted_n", "nope/x"]})
    assert code == 200 and set(body) == {"content", "timings/predicted_n"}


def test_no_tokens_asked_is_answered_at_once(server):
    """llama.vim sends its extra context ahead with n_predict 0, to be cached for the next request."""
    code, body = server.post("/infill", {"input_extra": [{"text": "x = 1"}], "n_predict": 0})
    assert code == 200 and body["content"] == "" and body["timings"]["predicted_n"] == 0


def test_input_extra_is_far_context_where_the_layout_has_room(server):
    """The chunks go before the prefix: they change the encoder's input (its KV cache misses) under
    a short prefix, and not under one long enough to fill the encoder's budget."""

    def cached(prefix: str, extra: str) -> bool:
        code, body = server.post("/infill", {"input_prefix": prefix, "input_suffix": "\n", "n_predict": 2,
                                             "input_extra": [{"filename": "a.py", "text": extra}]})
        assert code == 200, body
        return body["dg"]["cached_prefix"]

    short = "def scale(x):\n    return "
    cached(short, "FACTOR = 2\n")
    assert cached(short, "FACTOR = 2\n")
    assert not cached(short, "FACTOR = 3\n")
    long = "".join(f"value_{i} = {i}\n" for i in range(300)) + "def scale(x):\n    return "
    cached(long, "FACTOR = 2\n")
    assert cached(long, "FACTOR = 3\n")


def test_completions_through_the_openai_package(server):
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key=TCP_TOKEN, max_retries=0)
    done = client.completions.create(model="dg-tiny", prompt=PREFIX, suffix=SUFFIX, max_tokens=16)
    assert done.object == "text_completion" and done.model == "dg-tiny"
    assert isinstance(done.choices[0].text, str) and done.choices[0].finish_reason in ("stop", "length")

    chunks = list(client.completions.create(model="dg-tiny", prompt=PREFIX, suffix=SUFFIX, max_tokens=16,
                                            stream=True))
    assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert isinstance("".join(c.choices[0].text for c in chunks), str)

    with pytest.raises(openai.BadRequestError, match="'n' must be 1"):
        client.completions.create(model="dg-tiny", prompt=PREFIX, n=2)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="wrong", max_retries=0).models.list()
    assert [m.id for m in client.models.list()] == ["dg-tiny"]


def test_chat_completions_fill_the_gap_the_message_marks(server):
    """What the remote engine sends: the chat layout's message; its logprobs spell the content."""
    client = openai.OpenAI(base_url=server.url, api_key=TCP_TOKEN, max_retries=0)
    message = [{"role": "user", "content": chat_prompt.message(PREFIX, SUFFIX)}]
    done = client.chat.completions.create(model="dg-tiny", messages=message, max_tokens=16, logprobs=True,
                                          extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    choice = done.choices[0]
    assert done.object == "chat.completion" and choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length") and choice.message.content
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    assert all(t.logprob <= 0 and bytes(t.bytes) == t.token.encode() for t in tokens)

    chunks = list(client.chat.completions.create(model="dg-tiny", messages=message, max_tokens=16, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert isinstance("".join(c.choices[0].delta.content or "" for c in chunks), str)

    with pytest.raises(openai.BadRequestError, match="this server fills gaps"):
        client.chat.completions.create(model="dg-tiny", messages=[{"role": "user", "content": "hello"}])


def test_chat_completions_take_the_daemon_s_own_limits(server):
    """`dg.max_lines` ends the middle where the socket's max_lines would."""
    body = {"messages": [{"role": "user", "content": chat_prompt.message(ENDLESS, "\n")}], "max_tokens": 64,
            "dg": {"max_lines": 1, "gate": 0.0}}
    code, answer = server.post("/v1/chat/completions", body)
    assert code == 200 and answer["choices"][0]["message"]["content"].count("\n") <= 1


def test_completions_stream_is_server_sent_events_ending_in_done(server):
    code, headers, raw = server.request("POST", "/v1/completions", {"prompt": PREFIX, "suffix": SUFFIX,
                                                                     "max_tokens": 8, "stream": True,
                                                                     "echo": True})
    assert code == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [e.removeprefix("data: ") for e in raw.decode().split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["text"] == PREFIX  # echo
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


# A context dg-tiny writes many lines for, one short line at a time.
IMPORTS = "import os\nimport sys\n"
# dg-tiny writes "        return self.x\n\n    def __init__(self, x):\n ..." here: the last line's indentation
# comes a token after its newline.
METHODS = "class Point:\n    def __init__(self, x, y):\n"


def sse(raw: bytes) -> list[dict]:
    return [json.loads(e.removeprefix("data: ")) for e in raw.decode().split("\n\n") if e and e != "data: [DONE]"]


def test_a_stream_sends_the_middle_as_it_grows(server):
    """Each denoising step's new text is a delta; the deltas spell the answer the same request gets whole
    (token healing's re-written text is not sent: PREFIX ends inside a word's run)."""
    client = openai.OpenAI(base_url=server.url, api_key=TCP_TOKEN, max_retries=0)
    for prefix, suffix in ((IMPORTS, ""), (PREFIX, SUFFIX)):
        whole = client.completions.create(model="dg-tiny", prompt=prefix, suffix=suffix, max_tokens=24)
        chunks = list(client.completions.create(model="dg-tiny", prompt=prefix, suffix=suffix, max_tokens=24,
                                                stream=True))
        deltas = [c.choices[0].text for c in chunks if c.choices[0].text]
        assert "".join(deltas) == whole.choices[0].text and len(deltas) > 1
        assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason

    message = [{"role": "user", "content": chat_prompt.message(IMPORTS, "")}]
    whole = client.chat.completions.create(model="dg-tiny", messages=message, max_tokens=24)
    chunks = list(client.chat.completions.create(model="dg-tiny", messages=message, max_tokens=24, stream=True,
                                                 logprobs=True))
    deltas = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert "".join(deltas) == whole.choices[0].message.content and len(deltas) > 3
    assert "".join(t.token for t in chunks[-1].choices[0].logprobs.content) == whole.choices[0].message.content


@pytest.mark.parametrize("rules", [{"n_indent": 8}, {"stop": [" + b\n"]}, {"stop": ["os\nimport", "x\n\n"]}])
@pytest.mark.parametrize("prefix", [METHODS, "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n", IMPORTS])
def test_a_stream_holds_back_what_the_stop_rules_may_cut(server, prefix, rules):
    body = {"input_prefix": prefix, "n_predict": 32, **rules}
    code, whole = server.post("/infill", body)
    status, _, raw = server.request("POST", "/infill", {**body, "stream": True})
    events = sse(raw)
    assert code == status == 200 and all(e["stop"] is False for e in events[:-1]) and events[-1]["stop"]
    assert "".join(e["content"] for e in events) == whole["content"]
    assert events[-1]["stop_type"] == whole["stop_type"] and events[-1]["content"] == ""


@settings(max_examples=300, deadline=None)
@given(st.text("ab \n", max_size=12), st.lists(st.text("ab \n", min_size=1, max_size=3), max_size=2),
       st.integers(0, 2))
def test_what_a_stream_sends_is_the_start_of_the_answer(text, stop, n_indent):
    """Whatever the model writes next, the text settled so far begins the answer."""
    ask = api.read_infill({"input_prefix": "x", "stop": stop, "n_indent": n_indent})

    def answer(middle: str) -> str:
        return api.finish(ask, p.InfillResult(middle, 1, 1.0, 1.0, 1.0)).text

    for k in range(len(text) + 1):
        assert answer(text).startswith(api.settled(ask, text[:k]))


def test_t_max_predict_ms_ends_the_middle_at_its_next_newline(server):
    """llama.cpp's rule: once the time is up, the middle ends at the next newline, with stop type "limit"."""
    body = {"input_prefix": IMPORTS, "n_predict": 32}
    _, whole = server.post("/infill", body)
    assert whole["content"].count("\n") > 2
    code, bounded = server.post("/infill", {**body, "t_max_predict_ms": 1})
    assert code == 200 and bounded["stop_type"] == "limit"
    assert bounded["content"] == whole["content"][: whole["content"].index("\n") + 1]
    assert bounded["timings"]["predicted_n"] < whole["timings"]["predicted_n"]
    assert server.post("/infill", {**body, "t_max_predict_ms": 0})[1]["content"] == whole["content"]  # no limit


def test_a_zero_token_completion_is_empty(server):
    code, body = server.post("/v1/completions", {"prompt": PREFIX, "max_tokens": 0})
    assert code == 200 and body["choices"][0]["text"] == "" and body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("path, body, code, words", [
    ("/infill", b"{not json", 400, "not JSON"),
    ("/infill", b"[1, 2]", 400, "JSON object"),
    ("/infill", {"input_prefix": 3}, 400, "'input_prefix' must be str"),
    ("/infill", {"n_predict": "8"}, 400, "'n_predict' must be int"),
    ("/infill", {"n_predict": True}, 400, "not a boolean"),
    ("/infill", {"input_extra": ["text"]}, 400, "'input_extra'"),
    ("/infill", {"stop": [""]}, 400, "'stop'"),
    ("/v1/completions", {"prompt": [1, 2, 3]}, 400, "one string"),
    ("/v1/completions", {"prompt": "x", "max_tokens": -1}, 400, "'max_tokens'"),
    ("/v1/completions", {"prompt": "x", "suffix": ["a"]}, 400, "'suffix' must be str"),
    ("/v1/completions", {"prompt": "x", "stream": "yes"}, 400, "'stream' must be bool"),
    ("/v1/chat/completions", {"messages": []}, 400, "'messages'"),
    ("/v1/chat/completions", {"messages": [{"role": "system", "content": "x"}]}, 400, "the user's"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": 3}]}, 400, "'content'"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": chat_prompt.message("a", "b")}],
                              "top_logprobs": 3}, 400, "'top_logprobs'"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": chat_prompt.message("a", "b")}],
                              "dg": {"max_lines": 0}}, 400, "max_lines"),
])
def test_bad_requests_get_a_clear_4xx(server, path, body, code, words):
    status, _, raw = server.request("POST", path, body)
    error = json.loads(raw)["error"]
    assert status == code and words in error["message"], error
    assert error["type"] == "invalid_request_error" and error["code"] == p.BAD_REQUEST


def test_too_large_unknown_path_and_wrong_method(server):
    status, _, raw = server.request("POST", "/infill", b'{"input_prefix": "' + b"a" * p.MAX_MESSAGE_BYTES + b'"}')
    assert status == 413 and json.loads(raw)["error"]["code"] == p.TOO_LARGE
    status, _, raw = server.request("GET", "/nowhere")
    assert status == 404 and "Not Found" in json.loads(raw)["error"]["message"]
    status, headers, raw = server.request("GET", "/infill")
    assert status == 405 and headers["Allow"] == "POST" and json.loads(raw)["error"]
    assert server.request("GET", "/health")[0] == 200


def test_http_and_socket_clients_at_once(server):
    """Concurrent clients of both doors share the one scheduler, which batches them."""
    before = EngineClient(server.sock, autostart=False, timeout=60).status().requests
    answers: dict[str, object] = {}

    def over_http(k: int) -> None:
        answers[f"http{k}"] = server.post("/infill", {"input_prefix": PREFIX + f"x{k}", "input_suffix": SUFFIX,
                                                      "n_predict": 8})

    def over_socket(k: int) -> None:
        answers[f"sock{k}"] = EngineClient(server.sock, autostart=False, timeout=120).infill(
            PREFIX + f"y{k}", SUFFIX, max_tokens=8, doc=f"doc{k}")

    threads = [threading.Thread(target=over_http, args=(k,)) for k in range(8)]
    threads += [threading.Thread(target=over_socket, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(answers) == 10
    assert all(answers[f"http{k}"][0] == 200 for k in range(8))
    assert all(isinstance(answers[f"sock{k}"], p.InfillResult) for k in range(2))
    assert EngineClient(server.sock, autostart=False, timeout=60).status().requests >= before + 10


def test_a_disconnect_cancels_the_request(server):
    body = json.dumps({"input_prefix": ENDLESS, "n_predict": 256}).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /infill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Authorization: Bearer {TCP_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    time.sleep(0.5)
    s.close()
    deadline = time.monotonic() + 30
    while "cancelled: its HTTP client disconnected" not in server.log.read_text():
        assert time.monotonic() < deadline, server.log.read_text()[-2000:]
        time.sleep(0.1)
    assert server.post("/infill", {"input_prefix": PREFIX, "n_predict": 4})[0] == 200


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=6)
INFILL_KEYS = ("input_prefix", "input_suffix", "prompt", "input_extra", "stop", "n_indent", "t_max_predict_ms",
               "response_fields", "stream")
COMPLETION_KEYS = ("prompt", "suffix", "stop", "echo", "stream", "model", "n")


@st.composite
def bodies(draw):
    """A body of either endpoint, with any values in its fields; the token limit stays small (or bad),
    so that the bodies that are valid run quickly."""
    path = draw(st.sampled_from(["/infill", "/v1/completions"]))
    keys = INFILL_KEYS if path == "/infill" else COMPLETION_KEYS
    body = draw(st.dictionaries(st.sampled_from(keys), JSON, max_size=4))
    limit = "n_predict" if path == "/infill" else "max_tokens"
    body[limit] = draw(st.integers(0, 3) | JSON.filter(lambda v: v is not None and (not isinstance(v, int) or isinstance(v, bool))))
    return path, body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies())
def test_every_request_gets_one_answer_and_the_server_keeps_serving(server, case):
    path, body = case
    status, headers, raw = server.request("POST", path, body)
    assert status in (200, 400), raw
    if status == 400:
        assert json.loads(raw)["error"]["code"] == p.BAD_REQUEST
    elif not headers["Content-Type"].startswith("text/event-stream"):
        json.loads(raw)
    assert server.request("GET", "/health", token=None, timeout=10)[0] == 200


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["/infill", "/v1/completions"]), st.binary(max_size=64))
def test_any_bytes_get_one_answer_and_the_server_keeps_serving(server, path, raw):
    try:
        valid = isinstance(json.loads(raw), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        valid = False
    if valid:  # an object of random bytes is a valid request, asking for every token the gap holds
        return
    status, _, answer = server.request("POST", path, raw)
    assert status == 400 and json.loads(answer)["error"]["code"] == p.BAD_REQUEST
    assert server.request("GET", "/health", token=None, timeout=10)[0] == 200


def test_stop_strings_and_indentation_cut_the_text():
    result = p.InfillResult(text="total = 0\n    for v in values:\nprint(total)\n", steps=12, tokens_per_forward=1.0,
                            mean_confidence=0.5, min_confidence=0.1, token_ends=[5, 7, 9, 10, 20, 30, 31, 44],
                            ms=12.0)
    ask = api.read_infill({"input_prefix": "x", "n_indent": 4, "stop": ["for"]})
    done = api.finish(ask, result)
    assert done.text == "total = 0\n    " and done.reason == "word" and done.stopping_word == "for"
    assert done.tokens == 4
    done = api.finish(api.read_infill({"input_prefix": "x", "n_indent": 4}), result)
    assert done.text == "total = 0\n    for v in values:\n" and done.reason == "eos"


def test_remote_http_needs_the_flag_and_a_token(tmp_path, env_no_token):
    def serve(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "engine", "serve", "--socket", str(tmp_path / "e.sock"),
                               *args], capture_output=True, text=True, timeout=120, env=env_no_token)

    refused = serve("--http", f"0.0.0.0:{unused_port()}")
    assert refused.returncode == exit_status.USAGE and "not a loopback address" in refused.stderr
    no_token = serve("--http", f"0.0.0.0:{unused_port()}", "--allow-remote-plaintext")
    assert no_token.returncode == exit_status.USAGE and "needs a token" in no_token.stderr
    short = tmp_path / "token"
    short.write_text("short")
    weak = serve("--http", f"127.0.0.1:{unused_port()}", "--token-file", str(short))
    assert weak.returncode == exit_status.USAGE and "at least 16 bytes" in weak.stderr
    assert not (tmp_path / "e.sock").exists()


def test_a_taken_http_port_is_one_line_and_leaves_no_socket(tmp_path, env_no_token):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "engine", "serve", "--socket", str(tmp_path / "e.sock"),
                              "--http", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=120,
                             env=env_no_token)
    assert run.returncode == exit_status.USAGE, run.stderr
    assert f"cannot listen on http://127.0.0.1:{port}: Address already in use" in run.stderr
    assert not (tmp_path / "e.sock").exists()


@pytest.mark.parametrize("prompt", [
    "<fim_prefix>def f(x):\n    <fim_suffix>\n    return y\n<fim_middle>",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y\n<|fim_middle|>",
    "<PRE> def f(x):\n     <SUF>\n    return y\n <MID>",
    "<｜fim▁begin｜>def f(x):\n    <｜fim▁hole｜>\n    return y\n<｜fim▁end｜>",
    "[SUFFIX]\n    return y\n[PREFIX]def f(x):\n    ",
])
def test_a_fim_formatted_prompt_without_suffix_is_split(prompt):
    """Zed's edit predictions send /v1/completions a prompt in a code model's FIM format."""
    infill = api.read_completion({"prompt": prompt, "max_tokens": 8}).infill
    assert (infill.prefix, infill.suffix) == ("def f(x):\n    ", "\n    return y\n")
    given = api.read_completion({"prompt": prompt, "suffix": "", "max_tokens": 8}).infill
    assert (given.prefix, given.suffix) == (prompt, "")


def test_a_zed_style_request_is_answered(server):
    code, body = server.post("/v1/completions", {"model": "dg-tiny", "max_tokens": 8, "stop": ["<|endoftext|>"],
                                                 "prompt": "<|fim_prefix|>" + PREFIX + "<|fim_suffix|>" + SUFFIX
                                                           + "<|fim_middle|>"})
    assert code == 200 and "<|fim" not in body["choices"][0]["text"]


def test_an_http_request_in_flight_keeps_an_idle_daemon_up(tmp_path, env_no_token):
    """--idle-exit counts a request in flight over HTTP as a client, as a socket connection is."""
    proc, port, sock, log = start(tmp_path, env_no_token, "--idle-exit", "1")
    srv = Http(port, sock, log, None)
    try:
        wait_healthy(srv, proc)
        t0 = time.monotonic()
        code, body = srv.post("/infill", {"input_prefix": ENDLESS, "n_predict": 256})
        assert code == 200, body
        assert time.monotonic() - t0 > 1, "the request was too quick to show anything"
        # It then exits; stopping a compile under way can take a while on a busy machine.
        assert proc.wait(timeout=240) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
