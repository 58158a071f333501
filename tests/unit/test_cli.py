"""The `inthegrid` program as a user meets it: help with a description and an example for every
subcommand, and bad input or settings answered with one line naming what is wrong, never a traceback.
Usage errors exit 2, runtime errors 1."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from inthegrid.cli import build_parser, main

ROOT = Path(__file__).parents[2]
RULE = str(ROOT / "k8s" / "examples" / "arbitragerule-proof-of-concept.yaml")
PRICES = str(ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_describes_itself_with_an_example(name: str) -> None:
    text = subcommands()[name].format_help()
    parser = subcommands()[name]
    assert parser.description and len(parser.description) > 30, name
    assert f"example:\n  inthegrid {name}" in text or f"inthegrid {name}" in text.split("example:")[1]


@pytest.mark.parametrize(
    ("argv", "env", "status", "says"),
    [
        (["feed", "--zones", "XX"], {}, 2, "INTHEGRID_FEED_ZONES: unknown bidding zone 'XX'"),
        (["recorder", "--batch", "-1"], {}, 2, "INTHEGRID_RECORDER_BATCH: Input should be greater than"),
        (["gateway"], {"INTHEGRID_RATE_LIMIT_PER_MINUTE": "abc"}, 2, "INTHEGRID_RATE_LIMIT_PER_MINUTE"),
        (["backtest", "--prices", "missing.csv", "--rule", RULE, "--out", "x"], {}, 2, "does not exist"),
        (
            [
                "backtest",
                "--prices",
                PRICES,
                "--rule",
                RULE,
                "--from",
                "2023-01-01",
                "--to",
                "2023-01-01",
                "--out",
                "/proc/inthegrid/out",
            ],
            {},
            1,
            "No such file or directory: /proc/inthegrid",
        ),
    ],
    ids=["unknown-zone", "negative-batch", "non-numeric-env", "missing-table", "unwritable-out"],
)
def test_bad_input_is_one_clear_line_and_the_right_status(
    argv: list[str],
    env: dict[str, str],
    status: int,
    says: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(argv) == status
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert err.startswith(f"inthegrid {argv[0]}: error: ")


def test_a_secret_setting_is_named_but_never_echoed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTHEGRID_ENTSOE_REQUESTS_PER_MINUTE", "not-a-number")
    monkeypatch.setenv("INTHEGRID_ENTSOE_TOKEN", "s3cr3t-token-value")
    assert main(["feed", "--source", "entsoe", "--zones", "NL"]) == 2
    err = capsys.readouterr().err
    assert "INTHEGRID_ENTSOE_REQUESTS_PER_MINUTE" in err and "s3cr3t" not in err


def test_argparse_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["feed", "--source", "carrier-pigeon"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err
