"""`dg-infill --engine-url`: the real CLI against the real `dg-engine serve --http` as the remote
engine, with the embedded model; a refused token, a server that is not there and clashing options
end the run with one line saying what to fix."""

from __future__ import annotations

import json

import pytest

from engine import exit_status

from tests.http_daemon import TOKEN, served, unused_port  # noqa: F401 (served: a fixture)

SOURCE = "def mean(values):\n    total = <FILL>\n    return total / len(values)\n\n\nprint(<FILL>)\n"


def records(run) -> list[dict]:
    return [json.loads(line) for line in run.stdout.decode().splitlines()]


def test_cli_fills_holes_through_a_remote_engine(cli, tmp_path, served):
    (tmp_path / "stats.py").write_text(SOURCE)
    (tmp_path / "token").write_text(TOKEN)
    run = cli.run("stats.py", "--json", "--min-confidence", "0", "--engine-url", served.url,
                  "--token-file", str(tmp_path / "token"), cwd=tmp_path)
    assert run.returncode in (exit_status.OK, exit_status.HOLES_LEFT), run.stderr.decode()
    found = records(run)
    assert len(found) == 2 and any(r["status"] == "filled" for r in found), found
    assert (tmp_path / "stats.py").read_text() == SOURCE  # nothing written without --write
    assert served.http.request("GET", "/v1/models")[0] == 200


def test_cli_token_on_the_command_line_works_and_warns(cli, tmp_path, served):
    (tmp_path / "stats.py").write_text(SOURCE)
    run = cli.run("stats.py", "--json", "--engine-url", served.url, "--token", TOKEN, cwd=tmp_path)
    assert run.returncode in (exit_status.OK, exit_status.HOLES_LEFT), run.stderr.decode()
    assert "--token shows in `ps`" in run.stderr.decode()


def test_cli_a_refused_token_and_a_missing_server_are_engine_errors(cli, tmp_path, served):
    (tmp_path / "stats.py").write_text(SOURCE)
    (tmp_path / "token").write_text("not-the-token-of-this-server")
    refused = cli.run("stats.py", "--engine-url", served.url, "--token-file", str(tmp_path / "token"), cwd=tmp_path)
    assert refused.returncode == exit_status.ENGINE
    assert "refused the token (401)" in refused.stderr.decode()
    url = f"http://127.0.0.1:{unused_port()}/v1"
    missing = cli.run("stats.py", "--engine-url", url, cwd=tmp_path)
    assert missing.returncode == exit_status.ENGINE and f"no engine answers at {url}" in missing.stderr.decode()
    assert (tmp_path / "stats.py").read_text() == SOURCE


@pytest.mark.parametrize("args, says", [
    (["--engine-url", "ftp://host/v1"], "http(s)://HOST:PORT/v1"),
    (["--engine-url", "http://127.0.0.1:9/v1", "--in-process"], "cannot go with --in-process"),
    (["--engine-url", "http://127.0.0.1:9/v1", "--trace"], "cannot go with --trace"),
])
def test_cli_engine_url_usage_errors(cli, tmp_path, args, says):
    (tmp_path / "stats.py").write_text(SOURCE)
    run = cli.run("stats.py", *args, cwd=tmp_path)
    assert run.returncode == exit_status.USAGE and says in run.stderr.decode(), run.stderr.decode()
