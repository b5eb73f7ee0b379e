"""The mock's parts: everything a handler (handlers.py) or a fast path (fastpath.py) uses,
in one object faults patch (`AppParts`), and the authenticator that turns an API key into
a workspace (`Auth`). Built and wired by `create_app` (app.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.api import Api
from conformance.fictional import MOCK_KEYS
from conformance.mock.choices import Choices
from conformance.mock.clock import Clock
from conformance.mock.errors import ErrorBuilder
from conformance.mock.ids import well_formed_id
from conformance.mock.shaping import Shaper
from conformance.mock.store import Store
from conformance.mock.validation import RequestValidator
from conformance.profiles import Profile

__all__ = ["DEFAULT_KEYS", "DEFAULT_STATUS", "MAX_BODY_BYTES", "AppParts", "Auth",
           "normalize_keys", "workspace_of"]

#: Accepted API keys unless `keys=` says otherwise; each key is its own workspace.
DEFAULT_KEYS = MOCK_KEYS
#: Largest request body accepted (8 MiB; 10,000 recipients with ids and client data take
#: about 1.7 MiB). README "Bounds".
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Each operation's success status (a part faults may change: `AppParts.status`).
DEFAULT_STATUS = {"submit": 200, "list": 200, "get": 200, "cancel": 200, "retry": 200,
                  "delete": 204, "export": 200}


def workspace_of(key: str) -> str:
    """The workspace a key opens when keys are given as a list: a digest, not the key."""
    return "ws_" + hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


class Auth:
    """API key -> workspace. Hook point: `resolve` (README "Faults")."""

    HOOKS = ("resolve",)

    def __init__(self, header: str, keys: Mapping[str, str], errors: ErrorBuilder) -> None:
        self.header = header
        self.keys = dict(keys)
        self.errors = errors

    def __repr__(self) -> str:   # never the keys themselves
        return f"Auth({self.header}, {len(self.keys)} keys)"

    def resolve(self, key: str | None) -> str:
        """The workspace of `key`; ApiError 401 when missing or unknown."""
        if not key:
            raise self.errors.object(
                401, "authentication_error", "needs_authorization",
                f"Missing API key: send it in the {self.header} header.")
        workspace = self.keys.get(key)
        if workspace is None:
            raise self.errors.object(401, "authentication_error", "invalid_api_key",
                                     "Invalid API key.")
        return workspace


@dataclass
class AppParts:
    """Everything a handler uses. Faults patch their hook points (see faults/)."""

    profile: Profile
    spec: dict
    api: Api
    clock: Clock
    store: Store
    auth: Auth
    validator: RequestValidator
    shaper: Shaper
    errors: ErrorBuilder
    status: dict[str, int]
    choices: Choices
    #: The media type of an operation's JSON answer where it is not application/json (data a
    #: fault may change, like `status`; empty on a correct server).
    media: dict[str, str] = field(default_factory=dict)
    #: A body an operation that answers none (delete) sends instead (data a fault may set;
    #: empty on a correct server).
    bodies: dict[str, bytes] = field(default_factory=dict)
    max_body_bytes: int = MAX_BODY_BYTES
    faults: tuple[str, ...] = ()
    admin: bool = False
    keys: dict[str, str] = field(default_factory=dict, repr=False)
    encoder: Any = None
    webhooks: Any = None  # conformance.mock.webhooks.MockWebhooks, when a URL is given

    @property
    def max_page_limit(self) -> int:
        return self.choices.max_page_limit

    # The request checks both the routed handlers and the fast paths (fastpath.py) make.
    def page_size(self, values: dict[str, Any]) -> int:
        """A list page's size from its validated query: `limit` (default 100), at least 1,
        at most the choice set's maximum."""
        limit = values.get("limit")
        return int(min(max(1, 100 if limit is None else limit), self.max_page_limit))

    def refuses_id(self, batch_id: str) -> bool:
        """With `malformed_id_status = 422`, an id not in this server's format is refused
        before it is looked up."""
        return (self.choices.malformed_id_status == 422
                and not well_formed_id(self.choices.id_format, batch_id))


def normalize_keys(keys: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """{key: workspace}: a list of keys gives each its own workspace; a mapping is kept."""
    if keys is None:
        keys = DEFAULT_KEYS
    if isinstance(keys, str):
        keys = [keys]
    if isinstance(keys, Mapping):
        return {str(k): str(v) for k, v in keys.items()}
    return {str(k): workspace_of(str(k)) for k in keys}
