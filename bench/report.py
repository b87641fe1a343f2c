"""Where benchmark reports go: printed, and kept in bench/results/NAME.json."""

from __future__ import annotations

import json
import pathlib

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def write(name: str, report: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
