"""Cassettes as evidence: recorded with every key redacted by value, wherever it travels."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from conformance.redact import CREDENTIAL_HEADERS, Redactor


def vcr_filters(redactor: Redactor) -> dict:
    """vcrpy options: credential headers of any dialect dropped by name, and every key
    value in use replaced wherever else it appears (other headers, the query, the body)."""

    def request(req):
        for name in list(req.headers):
            if name.lower() in CREDENTIAL_HEADERS:
                del req.headers[name]
            else:
                req.headers[name] = redactor.text(req.headers[name])
        parts = urlsplit(req.uri)
        query = urlencode([(k, redactor.text(v)) for k, v in parse_qsl(parts.query,
                                                                       keep_blank_values=True)])
        req.uri = urlunsplit(parts._replace(query=query))
        if isinstance(req.body, bytes):
            req.body = redactor.bytes(req.body)
        elif isinstance(req.body, str):
            req.body = redactor.text(req.body)
        return req

    def response(resp):
        resp["headers"] = {k: v for k, v in redactor.headers(resp.get("headers", {})).items()
                           if k.lower() not in CREDENTIAL_HEADERS}
        body = resp.get("body", {})
        if isinstance(body.get("string"), bytes):
            body["string"] = redactor.bytes(body["string"])
        elif isinstance(body.get("string"), str):
            body["string"] = redactor.text(body["string"])
        return resp

    return {"before_record_request": request, "before_record_response": response}
