"""The CLI's answer to wrong settings: one line, exit code 2, no traceback."""

from __future__ import annotations

import pytest

from streams import __version__
from streams.cli import main


def test_a_typo_in_a_variable_stops_any_command_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSSTREAM_TOPIC_PARTITONS", "6")
    assert main(["settings"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NEWSSTREAM_TOPIC_PARTITIONS" in err
    assert "Traceback" not in err


def test_settings_check_reads_the_rules_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    assert main(["settings", "--check"]) == 0
    assert capsys.readouterr().out == "settings OK\n"
    monkeypatch.setenv("NEWSSTREAM_RULES_PATH", "/no/such/rules.yaml")
    assert main(["settings", "--check"]) == 2
    assert "/no/such/rules.yaml" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"newsstream {__version__}"
