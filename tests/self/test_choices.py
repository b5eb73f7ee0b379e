"""The mock's choices are data, and each one shows through HTTP under both choice sets.

Every probe drives the in-process app over HTTP and validates every response against the
dialect's spec: the alternate set is a second server that is just as correct, not a
broken one. The faults compose with either set (a fault stays observable under both).
"""

from __future__ import annotations

import re
import tomllib
import warnings

import pytest

from conformance.exchanges import validate_response
from conformance.mock import FAULTS, NUMBERS, create_app
from conformance.mock.__main__ import build_parser
from conformance.mock.choices import NAMED, ChoiceError, Choices, describe, load_choices

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

KEY = "mock-key-local"
SETS = ("default", "alternate")


class Http:
    """The app over HTTP; every answer checked against the spec."""

    def __init__(self, app) -> None:
        self.app = app
        self.base = app.state.profile.base_path
        self.headers = {app.state.profile.auth_header: KEY}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.http = TestClient(app)

    def call(self, method: str, path: str, **kw):
        url = self.base + path
        response = self.http.request(method, url, headers=self.headers, **kw)
        errors = validate_response(self.app.state.spec, method, url.split("?")[0],
                                   response.status_code, response.headers.get("content-type"),
                                   response.content)
        assert errors == [], errors
        return response

    def submit(self, names=("completes",), **extra) -> dict:
        body = {"call_name": "cst-choices", "agent_id": "agent_1",
                "recipients": [{"phone_number": NUMBERS[n]} for n in names], **extra}
        response = self.call("POST", "/submit", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, batch_id: str) -> dict:
        return self.call("GET", f"/{batch_id}").json()

    def statuses(self, batch_id: str) -> list[str]:
        return [r["status"] for r in self.get(batch_id)["recipients"]]

    def advance(self, seconds: int) -> None:
        self.app.state.store.advance(seconds)


def _cancel_finished(h: Http):
    batch = h.submit()
    h.advance(3600)
    code = h.call("POST", f"/{batch['id']}/cancel").status_code
    return code, h.get(batch["id"])["status"]


def _retry_unfinished(h: Http):
    running = h.submit(("fails", "completes_long"), target_concurrency_limit=2)["id"]
    h.advance(10)                     # the failed call is over, the long one still talking
    on_running = h.call("POST", f"/{running}/retry")
    cancelled = h.submit(("fails", "completes_long"), target_concurrency_limit=2)["id"]
    h.advance(10)
    h.call("POST", f"/{cancelled}/cancel")
    on_cancelled = h.call("POST", f"/{cancelled}/retry")
    return (on_running.status_code, h.get(running)["retry_count"],
            on_cancelled.status_code, h.get(cancelled)["status"])


def _cancel_finished_recipients(h: Http):
    batch = h.submit(("fails", "completes"), target_concurrency_limit=1)["id"]
    for _ in range(30):               # until the first call is over and the second is not
        h.advance(1)
        if h.statuses(batch)[0] == "failed":
            break
    assert h.get(batch)["status"] == "in_progress"
    h.call("POST", f"/{batch}/cancel")
    return h.statuses(batch)


def _voicemail_finished(h: Http):
    batch = h.submit(("voicemail", "completes"))["id"]
    h.advance(3600)
    got = h.get(batch)
    return got["status"], got["total_calls_finished"]


def _all_failed(h: Http):
    batch = h.submit(("fails", "no_answer"))["id"]
    h.advance(3600)
    return h.get(batch)["status"]


def _concurrency(h: Http):
    batch = h.submit(("completes_long",) * 12)["id"]
    h.advance(0)                      # the batch starts: as many calls as the limit allows
    return h.get(batch)["total_calls_dispatched"]


def _order(h: Http):
    ids = [h.submit()["id"] for _ in range(3)]
    listed = [b["id"] for b in h.call("GET", "/workspace").json()["batch_calls"]]
    return "newest_first" if listed == ids[::-1] else "oldest_first" if listed == ids else listed


def _page_limit(h: Http):
    for _ in range(35):
        h.submit(())
    return len(h.call("GET", "/workspace", params={"limit": 500}).json()["batch_calls"])


def _call_time(h: Http):
    batch = h.submit()["id"]
    h.advance(5)
    return h.get(batch)["status"]


def _id_format(h: Http):
    batch_id = h.submit()["id"]
    if re.fullmatch(r"btcal_[0-9a-f]{24}", batch_id):
        return "hex"
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", batch_id):
        return "uuid"
    return batch_id


def _cursor_format(h: Http):
    h.submit()
    h.submit()
    page = h.call("GET", "/workspace", params={"limit": 1}).json()
    cursor = page["next_doc"]
    following = h.call("GET", "/workspace", params={"limit": 1, "last_doc": cursor})
    assert following.status_code == 200
    if re.fullmatch(r"[0-9a-f]{32}", cursor):
        return "hex"
    if re.fullmatch(r"[A-Za-z0-9_-]{22}", cursor):
        return "base64url"
    return cursor


def _malformed_id(h: Http):
    well_formed = h.submit()["id"]
    unknown = well_formed[:-1] + ("0" if well_formed[-1] != "0" else "1")
    return (h.call("GET", "/not-an-id").status_code,
            h.call("GET", f"/{unknown}").status_code,
            h.call("GET", "/not-an-id/export").status_code)


# key -> (probe, observation under default, observation under alternate)
PROBES = {
    "cancel_finished_batch": (_cancel_finished, (409, "completed"), (200, "completed")),
    "retry_unfinished_batch": (_retry_unfinished, (409, 0, 409, "cancelled"),
                               (200, 1, 200, "in_progress")),
    "cancel_finished_recipients": (_cancel_finished_recipients, ["failed", "cancelled"],
                                   ["cancelled", "cancelled"]),
    "voicemail_counts_as_finished": (_voicemail_finished, ("completed", 2), ("completed", 1)),
    "all_failed_batch_status": (_all_failed, "failed", "completed"),
    "default_concurrency": (_concurrency, 10, 3),
    "list_order": (_order, "newest_first", "oldest_first"),
    "max_page_limit": (_page_limit, 35, 30),
    "call_time_scale": (_call_time, "in_progress", "completed"),
    "id_format": (_id_format, "hex", "uuid"),
    "cursor_format": (_cursor_format, "base64url", "hex"),
    "malformed_id_status": (_malformed_id, (404, 404, 404), (422, 404, 422)),
}


def test_every_choice_has_a_probe():
    keys = set(describe("default"))
    assert set(PROBES) == keys == set(describe("alternate"))


@pytest.mark.parametrize("dialect", ["elevenlabs", "voiceai"])
@pytest.mark.parametrize("which", SETS)
@pytest.mark.parametrize("key", sorted(PROBES))
def test_choice_shows_through_http(key, which, dialect):
    """The choice's value is what a client observes, in both dialects, and every answer on
    the way conforms to the spec."""
    probe, default, alternate = PROBES[key]
    observed = probe(Http(create_app(dialect, choices=which)))
    assert observed == (default if which == "default" else alternate)


def test_the_files_say_value_description_and_alternatives():
    for which in SETS:
        data = tomllib.loads(NAMED[which].read_text(encoding="utf-8"))
        for key, entry in describe(which).items():
            assert entry["description"].strip(), key
            assert entry["value"] in entry["alternatives"], key
            assert len(entry["alternatives"]) >= 2, key
        assert data["name"] == which


def test_the_alternate_set_flips_every_choice():
    default, alternate = describe("default"), describe("alternate")
    for key in default:
        assert default[key]["alternatives"] == alternate[key]["alternatives"], key
        assert default[key]["value"] != alternate[key]["value"], key
    assert load_choices("default") == Choices()


def test_choice_sets_by_name_path_or_object(tmp_path):
    assert load_choices("alternate").list_order == "oldest_first"
    assert load_choices(NAMED["alternate"]).name == "alternate"
    custom = tmp_path / "mine.toml"
    custom.write_text(NAMED["default"].read_text().replace(
        'value = "newest_first"', 'value = "oldest_first"'))
    assert create_app(choices=custom).state.choices.list_order == "oldest_first"
    with pytest.raises(ChoiceError, match="no choice set"):
        load_choices("nonesuch")
    broken = tmp_path / "broken.toml"
    broken.write_text(NAMED["default"].read_text().replace('value = 10', 'value = 7'))
    with pytest.raises(ChoiceError, match="default_concurrency"):
        load_choices(broken)
    assert build_parser().parse_args(["--choices", "alternate"]).choices == "alternate"


#: The one fault that coincides with an alternative (README "Faults").
SAME_AS_ALTERNATE = {"finished-recipient-cancelled"}
#: Probes that read a choice-dependent answer get an alternate-set version here.
ALT_PROBES = {
    "cancel-finished-accepted": lambda api: _alt_cancel_finished(api),
    "retry-requeues-completed": lambda api: _alt_retry_completed(api),
    "concurrency-limit-exceeded": lambda api: _alt_in_flight(api),
    "cancel-leaves-one-pending": lambda api: _alt_cancel_pending(api),
    "delete-in-flight-keeps-calling": lambda api: _alt_delete_in_flight(api),
    "not-found-string-detail": lambda api: type(api.get(
        "00000000-0000-0000-0000-000000000000").json()["detail"]).__name__,
}


def _alt_submit(api, names, **extra) -> str:
    return api.submit({"call_name": "x", "agent_id": "a", "recipients": [
        {"phone_number": NUMBERS[n]} for n in names], **extra}).json()["id"]


def _alt_cancel_finished(api):
    batch = _alt_submit(api, ("completes",))
    api.advance(3600)
    api.cancel(batch)
    return api.get(batch).json()["status"]


def _alt_retry_completed(api):
    batch = _alt_submit(api, ("completes", "fails"))
    api.advance(3600)
    api.retry(batch)
    return api.get(batch).json()["recipients"][0]["status"]


def _alt_in_flight(api):
    batch = _alt_submit(api, ("completes_long",) * 5, target_concurrency_limit=2)
    api.advance(0)
    return sum(r["status"] in ("dispatched", "initiated", "in_progress")
               for r in api.get(batch).json()["recipients"])


def _alt_cancel_pending(api):
    batch = _alt_submit(api, ("completes",) * 10, target_concurrency_limit=1)
    api.advance(0)
    api.cancel(batch)
    return sorted({r["status"] for r in api.get(batch).json()["recipients"]})


def _alt_delete_in_flight(api):
    batch = _alt_submit(api, ("completes",))
    api.advance(0)
    api.delete(batch)
    return api.get(batch).status_code


@pytest.mark.parametrize("name", sorted(n for n in set(FAULTS) - SAME_AS_ALTERNATE
                                         if FAULTS[n].category != "webhooks"))
def test_faults_compose_with_the_alternate_set(name):
    """Under the alternate set too, each fault changes what a client observes (the webhook
    faults break deliveries, whatever the choices: tests/self/test_mock_webhooks.py)."""
    from test_mock_app import PROBES as FAULT_PROBES
    from test_mock_app import Api

    probe = ALT_PROBES.get(name) or FAULT_PROBES[name][0]
    clean = probe(Api(create_app(choices="alternate"), check=False))
    faulty = probe(Api(create_app(faults=[name], choices="alternate"), check=False))
    assert clean != faulty, f"{name} had no observable effect under the alternate set"
