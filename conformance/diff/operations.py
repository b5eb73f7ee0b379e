"""Compare two contracts operation by operation: operations, parameters, request bodies and
responses per status code; schemas are handed to `schemas.SchemaDiff`."""

from __future__ import annotations

from conformance.diff.rules import Change, make_change
from conformance.diff.schemas import SchemaDiff, _escape
from conformance.refs import deref

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _operations(doc: dict) -> dict[tuple[str, str], dict]:
    out = {}
    for path, item in (doc.get("paths") or {}).items():
        item, _ = deref(doc, item)
        for method in METHODS:
            if isinstance(item.get(method), dict):
                out[(path, method)] = item
    return out


def _success(status: str) -> bool:
    return status.startswith("2")


class ContractDiff:
    def __init__(self, old: dict, new: dict) -> None:
        self.old, self.new = old, new
        self.changes: list[Change] = []

    def run(self) -> list[Change]:
        old_ops, new_ops = _operations(self.old), _operations(self.new)
        for key in new_ops:
            path, method = key
            new_op = new_ops[key][method]
            if key not in old_ops:
                self._op_level("operation-added", path, method, new_op)
                continue
            self._operation(path, method, old_ops[key], new_ops[key])
        for key in old_ops:
            if key not in new_ops:
                self._op_level("operation-removed", key[0], key[1], old_ops[key][key[1]])
        return self.changes

    def _op_level(self, rule, path, method, op):
        name = f"{op.get('operationId') or ''} ({method.upper()} {path})".strip()
        self.changes.append(make_change(
            rule, operation=op.get("operationId", ""), method=method.upper(), path=path,
            pointer=f"/paths/{_escape(path)}/{method}", name=name))

    def _operation(self, path, method, old_item, new_item):
        old_op, new_op = old_item[method], new_item[method]
        base = f"/paths/{_escape(path)}/{method}"
        op_id = new_op.get("operationId") or old_op.get("operationId", "")

        def emit(rule_id, pointer, schema=None, **fill):
            self.changes.append(make_change(rule_id, operation=op_id, method=method.upper(),
                                            path=path, pointer=pointer, schema=schema, **fill))

        if new_op.get("deprecated") and not old_op.get("deprecated"):
            emit("operation-deprecated", base, name=op_id)
        schemas = SchemaDiff(self.old, self.new, emit)
        self._parameters(old_item, new_item, method, base, schemas, emit)
        self._request_body(old_op, new_op, base, schemas, emit)
        self._responses(old_op, new_op, base, schemas, emit)

    def _params(self, doc, item, method) -> dict[tuple[str, str], tuple[int, dict]]:
        found = {}
        for source in (item.get("parameters") or [], item[method].get("parameters") or []):
            for index, raw in enumerate(source):
                param, _ = deref(doc, raw)
                name = param.get("name", "")
                where = param.get("in", "")
                found[(where, name.lower() if where == "header" else name)] = (index, param)
        return found

    def _parameters(self, old_item, new_item, method, base, schemas, emit):
        old_ps = self._params(self.old, old_item, method)
        new_ps = self._params(self.new, new_item, method)
        for key, (index, param) in new_ps.items():
            pointer = f"{base}/parameters/{index}"
            label = f"{key[0]} {param.get('name')}"
            if key not in old_ps:
                emit("parameter-added-required" if param.get("required") else "parameter-added",
                     pointer, name=label)
                continue
            old_param = old_ps[key][1]
            if bool(param.get("required")) != bool(old_param.get("required")):
                became = "required" if param.get("required") else "optional"
                emit(f"parameter-became-{became}", pointer, name=label)
            if "schema" in old_param and "schema" in param:
                schemas.compare(old_param["schema"], param["schema"], f"{pointer}/schema",
                                "request")
        for key, (index, param) in old_ps.items():
            if key not in new_ps:
                emit("parameter-removed", f"{base}/parameters/{index}",
                     name=f"{key[0]} {param.get('name')}")

    def _request_body(self, old_op, new_op, base, schemas, emit):
        pointer = f"{base}/requestBody"
        old_body = deref(self.old, old_op["requestBody"])[0] if "requestBody" in old_op else None
        new_body = deref(self.new, new_op["requestBody"])[0] if "requestBody" in new_op else None
        if old_body is None and new_body is None:
            return
        if old_body is None:
            emit("request-body-added-required" if new_body.get("required")
                 else "request-body-added", pointer)
            return
        if new_body is None:
            emit("request-body-removed", pointer)
            return
        if bool(old_body.get("required")) != bool(new_body.get("required")):
            became = "required" if new_body.get("required") else "optional"
            emit(f"request-body-became-{became}", pointer)
        self._content(old_body, new_body, f"{pointer}/content", "request", schemas, emit)

    def _content(self, old, new, pointer, direction, schemas, emit):
        old_media = {k.lower(): v for k, v in (old.get("content") or {}).items()}
        new_media = {k.lower(): v for k, v in (new.get("content") or {}).items()}
        for media in old_media:
            if media not in new_media:
                emit(f"{direction}-content-type-removed", f"{pointer}/{_escape(media)}",
                     name=media)
        for media, value in new_media.items():
            at = f"{pointer}/{_escape(media)}"
            if media not in old_media:
                emit(f"{direction}-content-type-added", at, name=media)
            elif "schema" in old_media[media] and "schema" in value:
                schemas.compare(old_media[media]["schema"], value["schema"], f"{at}/schema",
                                direction)

    def _responses(self, old_op, new_op, base, schemas, emit):
        old_rs = {str(k): v for k, v in (old_op.get("responses") or {}).items()}
        new_rs = {str(k): v for k, v in (new_op.get("responses") or {}).items()}
        for status in old_rs:
            if status not in new_rs:
                rule = "status-code-removed" if _success(status) else "error-status-code-removed"
                emit(rule, f"{base}/responses/{status}", name=status)
        for status, response in new_rs.items():
            at = f"{base}/responses/{status}"
            if status not in old_rs:
                rule = "status-code-added" if _success(status) else "error-status-code-added"
                emit(rule, at, name=status)
                continue
            old_r, _ = deref(self.old, old_rs[status])
            new_r, _ = deref(self.new, response)
            self._content(old_r, new_r, f"{at}/content", "response", schemas, emit)


def diff_contracts(old: dict, new: dict) -> list[Change]:
    """Every change from `old` to `new` (both OpenAPI documents, already loaded)."""
    return ContractDiff(old, new).run()
