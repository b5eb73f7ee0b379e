"""The official ElevenLabs SDK against the mock served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from conformance.mock import NUMBERS, create_app

elevenlabs = pytest.importorskip("elevenlabs")
from elevenlabs import ElevenLabs  # noqa: E402
from elevenlabs.core.api_error import ApiError  # noqa: E402
from elevenlabs.errors import UnprocessableEntityError  # noqa: E402

from conformance.mock.server import served as serve_in_thread  # noqa: E402

KEY, OTHER_KEY = "mock-key-local", "mock-key-other"
NO_RETRY = {"max_retries": 0}


@pytest.fixture(scope="module")
def served():
    app = create_app("elevenlabs", admin=True)
    with serve_in_thread(app) as base_url:
        yield app, base_url


@pytest.fixture
def mock(served):
    app, base_url = served
    httpx.post(f"{base_url}/_mock/reset").raise_for_status()
    return app, base_url


def advance(base_url: str, seconds: int) -> int:
    response = httpx.post(f"{base_url}/_mock/clock/advance", json={"seconds": seconds})
    response.raise_for_status()
    return response.json()["now"]


def client(base_url: str, key: str = KEY) -> ElevenLabs:
    return ElevenLabs(api_key=key, base_url=base_url)


def batches(c: ElevenLabs):
    return c.conversational_ai.batch_calls


def create(c: ElevenLabs, names, **kw):
    return batches(c).create(
        call_name=kw.pop("call_name", "SDK test"), agent_id=kw.pop("agent_id", "agent_sdk"),
        recipients=[{"phone_number": NUMBERS[n]} for n in names], request_options=NO_RETRY,
        **kw)


def test_full_lifecycle_through_the_sdk(mock):
    _, base_url = mock
    c = client(base_url)
    created = create(c, ("completes", "fails_once", "voicemail"), target_concurrency_limit=2)
    assert created.status == "pending"
    assert created.name == "SDK test" and created.agent_id == "agent_sdk"
    assert created.total_calls_scheduled == 3 and created.total_calls_dispatched == 0
    assert created.telephony_call_config.ringing_timeout_secs == 60

    advance(base_url, 3600)
    got = batches(c).get(created.id, request_options=NO_RETRY)
    assert got.status == "completed"
    assert [r.status for r in got.recipients] == ["completed", "failed", "voicemail"]
    assert all(r.conversation_id for r in got.recipients)
    assert got.total_calls_finished == got.total_calls_dispatched == 3

    retried = batches(c).retry(created.id, request_options=NO_RETRY)
    assert retried.retry_count == 1 and retried.status == "in_progress"
    advance(base_url, 3600)
    got = batches(c).get(created.id, request_options=NO_RETRY)
    assert [r.status for r in got.recipients] == ["completed", "completed", "voicemail"]
    assert got.status == "completed" and got.retry_count == 1

    chunks = batches(c).export(created.id, limit=2, request_options=NO_RETRY)
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows[0][0] == "recipient_id" and len(rows) == 3

    batches(c).delete(created.id, request_options=NO_RETRY)
    with pytest.raises(ApiError) as info:
        batches(c).get(created.id, request_options=NO_RETRY)
    assert info.value.status_code == 404


def test_cancel_through_the_sdk(mock):
    _, base_url = mock
    c = client(base_url)
    created = create(c, ("completes_long",) * 4, target_concurrency_limit=1,
                     scheduled_time_unix=advance(base_url, 0) + 60)
    cancelled = batches(c).cancel(created.id, request_options=NO_RETRY)
    assert cancelled.status == "cancelled"
    got = batches(c).get(created.id, request_options=NO_RETRY)
    assert {r.status for r in got.recipients} == {"cancelled"}
    with pytest.raises(ApiError) as info:
        batches(c).cancel(created.id, request_options=NO_RETRY)
    assert info.value.status_code == 409


def test_list_paging_and_agent_filter(mock):
    _, base_url = mock
    c = client(base_url)
    ids = [create(c, ("completes",), agent_id=f"agent_{i % 2}").id for i in range(5)]
    seen, last_doc = [], None
    while True:
        page = batches(c).list(limit=2, last_doc=last_doc, request_options=NO_RETRY)
        assert len(page.batch_calls) <= 2
        seen += [b.id for b in page.batch_calls]
        if not page.has_more:
            assert page.next_doc is None
            break
        last_doc = page.next_doc
    assert seen == ids[::-1]
    only = batches(c).list(agent_id="agent_0", request_options=NO_RETRY)
    assert [b.id for b in only.batch_calls] == [ids[4], ids[2], ids[0]]
    assert all(b.agent_id == "agent_0" for b in only.batch_calls)


def test_errors_through_the_sdk(mock):
    _, base_url = mock
    c = client(base_url)
    with pytest.raises(UnprocessableEntityError) as info:
        batches(c).create(call_name="x", agent_id="a",
                          recipients=[{"phone_number": NUMBERS["completes"]}],
                          target_concurrency_limit=0, request_options=NO_RETRY)
    assert info.value.body["detail"][0]["loc"] == ["body", "target_concurrency_limit"]
    with pytest.raises(ApiError) as info:
        batches(client(base_url, "wrong-key")).list(request_options=NO_RETRY)
    assert info.value.status_code == 401
    assert info.value.body["detail"]["status"] == "invalid_api_key"
    mine = create(c, ("completes",))
    with pytest.raises(ApiError) as info:
        batches(client(base_url, OTHER_KEY)).get(mine.id, request_options=NO_RETRY)
    assert info.value.status_code == 404
    assert batches(client(base_url, OTHER_KEY)).list(request_options=NO_RETRY).batch_calls == []
