"""The README's first command on a fresh clone: ``orchestrator serve`` in an empty folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def fresh_service(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """``orchestrator serve`` started as ``make run`` starts it: defaults only, no ./data yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    port = _free_port()
    env["ORCH_PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        yield base, tmp_path, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_in_an_empty_folder_creates_its_data_and_answers(
    fresh_service: tuple[str, Path, subprocess.Popen[str]],
) -> None:
    base, folder, process = fresh_service
    if process.poll() is not None:
        output = process.stdout.read() if process.stdout else ""
        pytest.fail(f"orchestrator serve exited with {process.returncode}:\n{output[-2000:]}")
    assert _get(f"{base}/readyz")[0] == 200
    status, body = _get(f"{base}/")
    assert status == 200 and "Staff sign in" in body
    status, body = _get(f"{base}/sign-in")
    assert status == 200 and "Sign in" in body
    assert (folder / "data" / "orchestrator.db").is_file()


def test_migrate_creates_a_data_folder_that_does_not_exist_yet(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env["ORCH_DATA_DIR"] = str(tmp_path / "not" / "yet")
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "not" / "yet" / "orchestrator.db").is_file()
