"""The external real chats (`../shared/external`, licence unclear): used as test input only, never copied.

One place for their path. Tests that read them are marked `requires_external` and skip in a
clone that does not have them beside it (a user's clone). `SCRIPTCHECK_EXTERNAL_CHATS` moves it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

EXTERNAL_CHATS = Path(
    os.environ.get(
        "SCRIPTCHECK_EXTERNAL_CHATS",
        Path(__file__).resolve().parents[2] / "shared" / "external" / "jddc2019_sample.jsonl",
    )
)

requires_external = pytest.mark.skipif(not EXTERNAL_CHATS.is_file(), reason=f"external chats not found at {EXTERNAL_CHATS}")


def external_records() -> list[dict[str, Any]]:
    """The external chats, one dict per line, in file order."""
    return [json.loads(line) for line in EXTERNAL_CHATS.read_text(encoding="utf-8").splitlines() if line.strip()]
