"""`redigest digest`: outputs, and one clear line with exit code 2 for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "selfhosted_thread.json"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("fmt", ["markdown", "text", "json"])
@pytest.mark.parametrize("depth", ["brief", "deep"])
def test_example_thread_in_every_format(fmt: str, depth: str) -> None:
    code, out, err = run("digest", str(EXAMPLE), "--format", fmt, "--depth", depth)
    assert code == 0, err
    assert "What do you use to bring Reddit discussions" in out
    if fmt == "json":
        data = json.loads(out)
        assert data["depth"] == depth
        assert data["stats"]["comments_fetched"] == 23
        assert data["thread"]["num_comments"] == 24
    if depth == "deep" and fmt != "json":
        assert "10. Other observations" in out.replace(
            "10. OTHER OBSERVATIONS", "10. Other observations"
        )


def test_budget_option_changes_coverage() -> None:
    _, small, _ = run("digest", str(EXAMPLE), "--format", "json", "--budget", "600")
    _, large, _ = run("digest", str(EXAMPLE), "--format", "json", "--budget", "50000")
    assert json.loads(small)["coverage"]["analyzed"] < json.loads(large)["coverage"]["analyzed"]


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    code, out, _ = run("digest", str(EXAMPLE), "-o", str(target))
    assert code == 0
    assert out == ""
    assert target.read_text(encoding="utf-8").startswith("# ")


def _write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "truncated"),
        (b'[{"kind": "Listing", "data": {"children": [', "truncated"),
        (b"hello", "not valid JSON"),
        (b'{"data": 1}', "is not a Reddit thread"),
        (b"\xff\xfe\xfa", "not"),
    ],
)
def test_bad_files_exit_2_with_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    code, out, err = run("digest", _write(tmp_path, "t.json", content))
    assert code == 2
    assert out == ""
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_missing_file_and_folder(tmp_path: Path) -> None:
    code, _, err = run("digest", str(tmp_path / "nope.json"))
    assert code == 2
    assert "No such file" in err
    assert "https://www.reddit.com/r/" in err
    code, _, err = run("digest", str(tmp_path))
    assert code == 2
    assert "is a folder" in err


def test_url_without_credentials_names_the_settings() -> None:
    code, _, err = run("digest", "https://www.reddit.com/r/selfhosted/comments/abc123/x/")
    assert code == 2
    for key in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USER_AGENT"):
        assert key in err


def test_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIGEST_DEEP_BUDGET", "lots")
    code, _, err = run("digest", str(EXAMPLE))
    assert code == 2
    assert "REDIGEST_DEEP_BUDGET" in err
    assert "lots" not in err  # input values are not echoed (they may be secrets)


def test_unwritable_output(tmp_path: Path) -> None:
    code, _, err = run("digest", str(EXAMPLE), "-o", str(tmp_path / "missing" / "out.md"))
    assert code == 2
    assert "cannot write" in err
