"""Compare two contracts operation by operation: operations, parameters, request bodies and
responses per status code; schemas are handed to `schemas.SchemaDiff`.

Operations are matched by method + path first, then what is left on each side by
operationId: an operation that kept its id but moved (new path or method) is one record
naming both places, and its contents are still compared; one that kept its place but
changed its id is one record too. Only what matches neither way is added or removed."""

from __future__ import annotations

import re

from conformance.diff.rules import Change, make_change
from conformance.diff.schemas import Place, SchemaDiff, _escape
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


def _where(key: tuple[str, str]) -> str:
    return f"{key[1].upper()} {key[0]}"


def _op_id(ops: dict, key: tuple[str, str]) -> str:
    return ops[key][key[1]].get("operationId") or ""


_TEMPLATE = re.compile(r"\{[^}/]*\}")


def _wire(key: tuple[str, str]) -> tuple[str, str]:
    """The request line a client sends: path parameters' names do not travel."""
    return _TEMPLATE.sub("{}", key[0]), key[1]


def path_params(path: str) -> list[str]:
    return [m[1:-1] for m in _TEMPLATE.findall(path)]


Key = tuple[str, str]  # (path, method)


def match_operations(old_ops: dict[Key, dict], new_ops: dict[Key, dict]
                     ) -> list[tuple[Key | None, Key | None]]:
    """(old key, new key) pairs: by method + path (path parameters' names aside), then the
    rest by operationId; a side of None is an operation only the other contract has."""
    pairs: list[tuple[Key | None, Key | None]] = [(key, key) for key in new_ops
                                                  if key in old_ops]
    old_rest = [key for key in old_ops if key not in new_ops]
    new_rest = [key for key in new_ops if key not in old_ops]
    by_wire = {_wire(key): key for key in old_rest}
    for key in list(new_rest):
        old_key = by_wire.get(_wire(key))
        if old_key is not None and old_key in old_rest:
            pairs.append((old_key, key))
            old_rest.remove(old_key)
            new_rest.remove(key)
    by_id: dict[str, Key] = {}
    for key in old_rest:
        by_id.setdefault(_op_id(old_ops, key), key)
    by_id.pop("", None)
    for key in new_rest:
        old_key = by_id.pop(_op_id(new_ops, key), None)
        pairs.append((old_key, key))
    paired = {old for old, _ in pairs}
    pairs += [(key, None) for key in old_rest if key not in paired]
    return pairs


class ContractDiff:
    def __init__(self, old: dict, new: dict) -> None:
        self.old, self.new = old, new
        self.changes: list[Change] = []

    def run(self) -> list[Change]:
        old_ops, new_ops = _operations(self.old), _operations(self.new)
        for old_key, new_key in match_operations(old_ops, new_ops):
            if old_key is None:
                assert new_key is not None
                self._op_level("operation-added", new_key, new_ops[new_key][new_key[1]])
            elif new_key is None:
                self._op_level("operation-removed", old_key, old_ops[old_key][old_key[1]])
            else:
                self._moved(old_key, new_key, old_ops, new_ops)
                self._operation(old_key, new_key, old_ops[old_key], new_ops[new_key])
        return self.changes

    def _op_level(self, rule, key, op):
        path, method = key
        self.changes.append(make_change(
            rule, operation=op.get("operationId", ""), method=method.upper(), path=path,
            pointer=f"/paths/{_escape(path)}/{method}", subject=f"operation {_where(key)}"))

    def _moved(self, old_key, new_key, old_ops, new_ops):
        path, method = new_key
        old_id, new_id = _op_id(old_ops, old_key), _op_id(new_ops, new_key)

        def emit(rule, subject, old, new):
            self.changes.append(make_change(
                rule, operation=new_id or old_id, method=method.upper(), path=path,
                pointer=f"/paths/{_escape(path)}/{method}", subject=subject, old=old, new=new))

        if old_key[1] != method:
            emit("operation-method-changed", f"operation {path}", old_key[1].upper(),
                 method.upper())
        elif _wire(old_key) == _wire(new_key) and old_key[0] != path:
            emit("path-parameter-renamed", f"operation {_where(new_key)}", old_key[0], path)
        elif old_key[0] != path:
            emit("operation-path-changed", f"operation {method.upper()}", old_key[0], path)
        if _wire(old_key) == _wire(new_key) and old_id != new_id:
            emit("operation-id-changed", f"operation {_where(new_key)}", old_id or "none",
                 new_id or "none")

    def _operation(self, old_key, new_key, old_item, new_item):
        path, method = new_key
        old_op, new_op = old_item[old_key[1]], new_item[method]
        base = f"/paths/{_escape(path)}/{method}"
        op_id = new_op.get("operationId") or old_op.get("operationId", "")

        def emit(rule_id, pointer, schema=None, subject="", **fill):
            self.changes.append(make_change(rule_id, operation=op_id, method=method.upper(),
                                            path=path, pointer=pointer, schema=schema,
                                            subject=subject, **fill))

        if new_op.get("deprecated") and not old_op.get("deprecated"):
            emit("operation-deprecated", base, subject=f"operation {_where(new_key)}")
        schemas = SchemaDiff(self.old, self.new, emit)
        # A path parameter is the same one at the same place of the template, whatever its name.
        old_names, new_names = path_params(old_key[0]), path_params(path)
        renamed = dict(zip(old_names, new_names, strict=False)) \
            if len(old_names) == len(new_names) else {}
        self._parameters(old_item, new_item, old_key[1], method, base, schemas, emit, renamed)
        self._request_body(old_op, new_op, base, schemas, emit)
        self._responses(old_op, new_op, base, schemas, emit)

    def _params(self, doc, item, method) -> dict[tuple[str, str], tuple[str, dict]]:
        """(in, name) -> (pointer from the operation or its path item, parameter)."""
        found = {}
        for prefix, source in (("../parameters", item.get("parameters") or []),
                               ("parameters", item[method].get("parameters") or [])):
            for index, raw in enumerate(source):
                param, _ = deref(doc, raw)
                name = param.get("name", "")
                where = param.get("in", "")
                found[(where, name.lower() if where == "header" else name)] = (
                    f"{prefix}/{index}", param)
        return found

    @staticmethod
    def _at(base: str, relative: str) -> str:
        if relative.startswith("../"):
            return base.rsplit("/", 1)[0] + "/" + relative[3:]
        return f"{base}/{relative}"

    def _parameters(self, old_item, new_item, old_method, method, base, schemas, emit,
                    renamed=None):
        old_ps = {(("path", renamed[k[1]]) if k[0] == "path" and k[1] in (renamed or {})
                   else k): v for k, v in self._params(self.old, old_item, old_method).items()}
        new_ps = self._params(self.new, new_item, method)
        for key, (relative, param) in new_ps.items():
            pointer = self._at(base, relative)
            place = Place(f"{key[0]} parameter '{param.get('name')}'")
            if key not in old_ps:
                emit("parameter-added-required" if param.get("required") else "parameter-added",
                     pointer, subject=place.words())
                continue
            old_param = old_ps[key][1]
            if bool(param.get("required")) != bool(old_param.get("required")):
                became = "required" if param.get("required") else "optional"
                emit(f"parameter-became-{became}", pointer, subject=place.words())
            if "schema" in old_param and "schema" in param:
                schemas.compare(old_param["schema"], param["schema"], f"{pointer}/schema",
                                "request", place)
        for key, (relative, param) in old_ps.items():
            if key not in new_ps:
                emit("parameter-removed", self._at(base, relative),
                     subject=f"{key[0]} parameter '{param.get('name')}'")

    def _request_body(self, old_op, new_op, base, schemas, emit):
        pointer = f"{base}/requestBody"
        old_body = deref(self.old, old_op["requestBody"])[0] if "requestBody" in old_op else None
        new_body = deref(self.new, new_op["requestBody"])[0] if "requestBody" in new_op else None
        if old_body is None and new_body is None:
            return
        if old_body is None:
            emit("request-body-added-required" if new_body.get("required")
                 else "request-body-added", pointer, subject="request body")
            return
        if new_body is None:
            emit("request-body-removed", pointer, subject="request body")
            return
        if bool(old_body.get("required")) != bool(new_body.get("required")):
            became = "required" if new_body.get("required") else "optional"
            emit(f"request-body-became-{became}", pointer, subject="request body")
        self._content(old_body, new_body, f"{pointer}/content", "request", Place("request body"),
                      schemas, emit)

    def _content(self, old, new, pointer, direction, place, schemas, emit):
        old_media = {k.lower(): v for k, v in (old.get("content") or {}).items()}
        new_media = {k.lower(): v for k, v in (new.get("content") or {}).items()}
        for media in old_media:
            if media not in new_media:
                emit(f"{direction}-content-type-removed", f"{pointer}/{_escape(media)}",
                     subject=place.words(), name=media)
        for media, value in new_media.items():
            at = f"{pointer}/{_escape(media)}"
            if media not in old_media:
                emit(f"{direction}-content-type-added", at, subject=place.words(), name=media)
            elif "schema" in old_media[media] and "schema" in value:
                where = place if len(new_media) == 1 else Place(f"{place.root} ({media})")
                schemas.compare(old_media[media]["schema"], value["schema"], f"{at}/schema",
                                direction, where)

    def _responses(self, old_op, new_op, base, schemas, emit):
        old_rs = {str(k): v for k, v in (old_op.get("responses") or {}).items()}
        new_rs = {str(k): v for k, v in (new_op.get("responses") or {}).items()}
        for status in old_rs:
            if status not in new_rs:
                rule = "status-code-removed" if _success(status) else "error-status-code-removed"
                emit(rule, f"{base}/responses/{status}", subject=f"response {status}")
        for status, response in new_rs.items():
            at = f"{base}/responses/{status}"
            if status not in old_rs:
                rule = "status-code-added" if _success(status) else "error-status-code-added"
                emit(rule, at, subject=f"response {status}")
                continue
            old_r, _ = deref(self.old, old_rs[status])
            new_r, _ = deref(self.new, response)
            self._content(old_r, new_r, f"{at}/content", "response",
                          Place(f"response {status}"), schemas, emit)


def diff_contracts(old: dict, new: dict) -> list[Change]:
    """Every change from `old` to `new` (both OpenAPI documents, already loaded)."""
    return ContractDiff(old, new).run()
