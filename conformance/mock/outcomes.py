"""Deterministic call outcomes, like payment test cards.

Every fictional US number of the form ``+1 NPA 555-01XX`` (any area code; ``XX`` = 00..99,
e.g. ``+14155550100``) has a fixed outcome, chosen by ``XX``. Numbers outside that range, and
WhatsApp recipients (no phone number), get DEFAULT_OUTCOME. The table is the contract;
conformance/mock/README.md repeats it.

| XX    | first attempt                              | on retry (attempt 2+)          |
|-------|--------------------------------------------|--------------------------------|
| 00-09 | completes; talk time 30 s x (1 + last digit) (30..300 s) | same             |
| 10-19 | fails (call set-up error, 2 s after initiation)          | fails again      |
| 20-29 | voicemail (answered by a machine, 20 s message)          | voicemail again  |
| 30-39 | never answers: rings `ringing_timeout_secs`, then failed | never answers    |
| 40-49 | fails once (like 10-19)                    | completes, 60 s talk           |
| 50-59 | voicemail once (like 20-29)                | completes, 60 s talk           |
| 60-69 | never answers once (like 30-39)            | completes, 60 s talk           |
| 70-99 | completes, 60 s talk                       | same                           |
| other | completes, 60 s talk (DEFAULT_OUTCOME)     | same                           |

Timeline of one call, in seconds after it is dispatched (mock time):
``dispatched`` at +0; ``initiated`` at +DIAL_SECS (conversation_id assigned);
answered calls go ``in_progress`` at +DIAL_SECS+RING_SECS and end (completed / voicemail)
after their talk time; failed set-ups end ``failed`` at +DIAL_SECS+FAIL_SECS; unanswered
calls end ``failed`` at +DIAL_SECS+ringing_timeout_secs.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.fictional import FICTIONAL_PHONE

DIAL_SECS = 1        # dispatched -> initiated
RING_SECS = 5        # initiated -> in_progress, when the call is answered
FAIL_SECS = 2        # initiated -> failed, when the call cannot be set up

COMPLETES = "completes"
FAILS = "fails"
VOICEMAIL = "voicemail"
NO_ANSWER = "no_answer"

@dataclass(frozen=True)
class Outcome:
    result: str          # completes | fails | voicemail | no_answer
    talk_secs: int = 0   # for completes / voicemail


DEFAULT_OUTCOME = Outcome(COMPLETES, 60)


@dataclass(frozen=True)
class Step:
    at: int        # seconds after dispatch
    status: str    # recipient status entered at that moment


def outcome_for(phone_number: str | None, attempt: int = 1) -> Outcome:
    """The outcome of call attempt `attempt` (1 = first call, 2 = first retry, ...)."""
    match = FICTIONAL_PHONE.fullmatch(phone_number or "")
    if not match:
        return DEFAULT_OUTCOME
    xx = int(match.group(1))
    decade, digit = divmod(xx, 10)
    if decade == 0:
        return Outcome(COMPLETES, 30 * (1 + digit))
    if decade == 1:
        return Outcome(FAILS)
    if decade == 2:
        return Outcome(VOICEMAIL, 20)
    if decade == 3:
        return Outcome(NO_ANSWER)
    if decade in (4, 5, 6) and attempt >= 2:
        return DEFAULT_OUTCOME
    if decade == 4:
        return Outcome(FAILS)
    if decade == 5:
        return Outcome(VOICEMAIL, 20)
    if decade == 6:
        return Outcome(NO_ANSWER)
    return DEFAULT_OUTCOME


def plan(outcome: Outcome, ringing_timeout_secs: int = 60) -> tuple[Step, ...]:
    """The statuses a call goes through after `dispatched`, with their offsets."""
    if outcome.result == FAILS:
        return (Step(DIAL_SECS, "initiated"), Step(DIAL_SECS + FAIL_SECS, "failed"))
    if outcome.result == NO_ANSWER:
        return (Step(DIAL_SECS, "initiated"),
                Step(DIAL_SECS + ringing_timeout_secs, "failed"))
    answered = DIAL_SECS + RING_SECS
    final = "voicemail" if outcome.result == VOICEMAIL else "completed"
    return (Step(DIAL_SECS, "initiated"), Step(answered, "in_progress"),
            Step(answered + outcome.talk_secs, final))


class OutcomeTable:
    """What the store asks: the steps of call attempt `attempt` for a recipient.

    Subclass or pass any object with the same `steps` method to `create_app(outcomes=...)`.
    """

    def steps(self, phone_number: str | None, whatsapp_user_id: str | None, attempt: int,
              ringing_timeout_secs: int) -> tuple[Step, ...]:
        return plan(outcome_for(phone_number, attempt), ringing_timeout_secs)


DEFAULT_OUTCOMES = OutcomeTable()

#: Handy named numbers for tests and docs (area code 415; any area code works).
NUMBERS = {
    "completes": "+14155550100",          # 30 s talk
    "completes_long": "+14155550109",     # 300 s talk
    "fails": "+14155550110",
    "voicemail": "+14155550120",
    "no_answer": "+14155550130",
    "fails_once": "+14155550140",
    "voicemail_once": "+14155550150",
    "no_answer_once": "+14155550160",
    "default": "+14155550170",            # 60 s talk
}
