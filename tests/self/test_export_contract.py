"""Export's columns have one statement, the spec's (inferred), and the mock writes them;
the suite's WhatsApp and export faults are each caught by the tests the matrix names."""

from __future__ import annotations

import yaml

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
