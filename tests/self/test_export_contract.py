"""Export's columns have one statement, the spec's (inferred), and the mock writes them;
the suite's WhatsApp and export faults are each caught by the tests the matrix names."""

from __future__ import annotations

import pytest
import yaml
from livehelp import finish, live_env, pytest_command, served_mock, start

from conformance.api import api_for
from conformance.mock.shaping import EXPORT_COLUMNS
from conformance.spec import SPEC_PATH


def test_the_spec_states_export_columns_as_inferred_and_the_mock_writes_them():
    spec = yaml.safe_load(SPEC_PATH.read_text())
    media = next(item["get"] for item in spec["paths"].values()
                 if item.get("get", {}).get("operationId") == "exportBatchCall"
                 )["responses"]["200"]["content"]["text/csv"]
    assert media["x-conformance-source"] == "inferred" and media["x-conformance-note"]
    recipient = spec["components"]["schemas"]["OutboundCallRecipientResponseModel"]
    for dialect in ("elevenlabs", "voiceai"):
        columns = api_for(dialect).export_columns
        assert tuple(c for c, _ in columns) == EXPORT_COLUMNS, dialect
        assert all(field in recipient["properties"] for _, field in columns)


def _live(base_url: str, *extra_env: tuple[str, str]) -> tuple[int, str]:
    env = {**live_env("elevenlabs", base_url), **dict(extra_env)}
    return finish(start(pytest_command(
        "conformance_suite/scenarios/test_whatsapp.py",
        "conformance_suite/scenarios/test_export.py",
        "--target=live:elevenlabs", "-n", "0", "-rs"), env))


@pytest.mark.slow
def test_whatsapp_and_export_scenarios_through_the_live_path():
    """Against the served mock as live:elevenlabs with a configured WhatsApp number id (all
    digits, as vendors issue them): every WhatsApp and safe export scenario runs and passes,
    none refused by the guard; unset, the WhatsApp ones skip naming the variable."""
    with served_mock("elevenlabs") as (app, base_url):
        code, out = _live(base_url, ("ELEVENLABS_WHATSAPP_PHONE_NUMBER_ID", "109876543210987"))
        assert code == 0, out[-3000:]
        assert "error" not in out.splitlines()[-1] and "guard" not in out, out[-3000:]
        assert "test_whatsapp.py" not in "".join(
            line for line in out.splitlines() if line.startswith("SKIPPED")), out[-3000:]
        code, out = _live(base_url)
        assert code == 0, out[-3000:]
        skipped = [line for line in out.splitlines() if line.startswith("SKIPPED")
                   and "test_whatsapp.py" in line]
        assert skipped and all("ELEVENLABS_WHATSAPP_PHONE_NUMBER_ID" in line
                               for line in skipped), out[-3000:]
        assert app.state.store.all_batches() == []
