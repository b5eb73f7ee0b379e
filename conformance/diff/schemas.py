"""Compare two schemas of one place in a contract, for one direction (what clients send:
`request`; what they receive: `response`), emitting one record per rule that applies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.diff.normalize import View, view

LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
MAX_DEPTH = 48

Emit = Callable[..., None]  # emit(rule_id, pointer, schema=None, subject="", **fill)


@dataclass(frozen=True)
class Place:
    """Where a schema sits, in words: a root (`query parameter 'limit'`, `request body`,
    `response 200`) and a property path below it (`recipients[].phone_number`)."""

    root: str
    prop: str = ""

    def child(self, name: str) -> Place:
        return Place(self.root, f"{self.prop}.{name}" if self.prop else name)

    def below(self, suffix: str) -> Place:
        return Place(self.root, f"{self.prop}{suffix}")

    def words(self) -> str:
        return f"{self.root} property '{self.prop}'" if self.prop else self.root


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _covers(wide: frozenset, narrow: frozenset) -> bool:
    """Every value of a type in `narrow` is a value of a type in `wide`."""
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


class SchemaDiff:
    def __init__(self, old_doc: dict, new_doc: dict, emit: Emit) -> None:
        self.old_doc, self.new_doc, self.emit = old_doc, new_doc, emit

    def compare(self, old_node, new_node, pointer: str, direction: str,
                place: Place | None = None) -> None:
        place = place or Place("response body" if direction == "response" else "request body")
        self._compare(old_node, new_node, pointer, direction, frozenset(), None, place)

    # -- one node ------------------------------------------------------------------------

    def _compare(self, old_node, new_node, pointer, direction, stack, schema_name, place):
        old, new = view(self.old_doc, old_node), view(self.new_doc, new_node)
        here = new.name or old.name or schema_name

        def emit(rule_id, **fill):
            self.emit(rule_id, pointer, schema=here, subject=place.words(), **fill)

        # What belongs to the place that refers (which schema, nullable) comes first ...
        if old.name and new.name and old.name != new.name:
            emit("schema-ref-changed", old=old.name, new=new.name)
        self._nullable(old, new, direction, emit)
        # ... then the schema itself, once per pair on the way down (recursive models).
        pair = (old.name, new.name)
        if old.name and new.name:
            if pair in stack:
                return
            stack = stack | {pair}
        if len(stack) > MAX_DEPTH:
            return
        if not self._types(old, new, direction, emit):
            return
        if old.variants or new.variants:
            self._variants(old, new, pointer, direction, stack, here, emit, place)
            return
        self._enum(old, new, direction, emit)
        self._bounds(old, new, direction, emit)
        self._strings(old, new, direction, emit)
        self._properties(old, new, pointer, direction, stack, here, place)
        for key, suffix in (("items", "[]"), ("additionalProperties", ".*")):
            o, n = old.schema.get(key), new.schema.get(key)
            if isinstance(o, dict) and isinstance(n, dict):
                self._compare(o, n, f"{pointer}/{key}", direction, stack, here,
                              place.below(suffix))

    def _nullable(self, old: View, new: View, direction, emit):
        if old.nullable == new.nullable:
            return
        shown = sorted(old.types) or "any"
        if new.nullable:
            emit(f"became-nullable-in-{direction}", old=shown)
        else:
            emit(f"became-non-nullable-in-{direction}", old=shown)

    def _types(self, old: View, new: View, direction, emit) -> bool:
        """False when the types differ so much that comparing further means nothing."""
        if old.types == new.types or not old.types or not new.types:
            return True
        if direction == "request" and _covers(new.types, old.types):
            emit("type-widened-in-request", old=old.types, new=new.types)
            return True
        if direction == "response" and _covers(old.types, new.types):
            emit("type-narrowed-in-response", old=old.types, new=new.types)
            return True
        emit("type-changed", old=old.types, new=new.types)
        return False

    def _enum(self, old: View, new: View, direction, emit):
        o, n = old.schema.get("enum"), new.schema.get("enum")
        if o is None and n is None:
            return
        if o is None or n is None:
            # An enum appearing is a tighter constraint; disappearing, a looser one.
            tighter = o is None
            self._constraint("enum", o, n, tighter, direction, emit)
            return
        for value in n:
            if value not in o:
                emit(f"enum-value-added-to-{direction}", name=value)
        for value in o:
            if value not in n:
                emit(f"enum-value-removed-from-{direction}", name=value)

    def _constraint(self, name, old_value, new_value, tighter: bool, direction, emit):
        if direction == "request":
            rule = "request-constraint-tightened" if tighter else "request-constraint-relaxed"
        else:
            rule = "response-constraint-tightened" if tighter else "response-constraint-relaxed"
        emit(rule, name=name, old=old_value, new=new_value)

    def _bounds(self, old: View, new: View, direction, emit):
        for keys, lower in ((LOWER_BOUNDS, True), (UPPER_BOUNDS, False)):
            for key in keys:
                o, n = old.schema.get(key), new.schema.get(key)
                if o == n or isinstance(o, bool) or isinstance(n, bool):
                    continue
                if o is None:
                    tighter = True
                elif n is None:
                    tighter = False
                else:
                    tighter = n > o if lower else n < o
                self._constraint(key, o, n, tighter, direction, emit)

    def _strings(self, old: View, new: View, direction, emit):
        for key, rule in (("pattern", "pattern-changed"), ("format", "format-changed")):
            o, n = old.schema.get(key), new.schema.get(key)
            if o != n:
                emit(rule, old=o, new=n)
        if direction == "request" and "default" in old.schema and "default" in new.schema:
            if old.schema["default"] != new.schema["default"]:
                emit("request-default-changed", old=old.schema["default"],
                     new=new.schema["default"])

    def _properties(self, old: View, new: View, pointer, direction, stack, here, place):
        o_props = old.schema.get("properties") or {}
        n_props = new.schema.get("properties") or {}
        o_req = set(old.schema.get("required") or [])
        n_req = set(new.schema.get("required") or [])
        hidden = "readOnly" if direction == "request" else "writeOnly"

        def visible(props, name):
            return isinstance(props[name], dict) and not props[name].get(hidden)

        def at(name):
            return f"{pointer}/properties/{_escape(name)}"

        for name in o_props:
            if name not in n_props and visible(o_props, name):
                self.emit(f"{direction}-property-removed", at(name), schema=here, name=name,
                          subject=place.child(name).words())
        for name in n_props:
            if name in o_props or not visible(n_props, name):
                continue
            required = "required-" if name in n_req else ""
            self.emit(f"{direction}-{required}property-added", at(name), schema=here, name=name,
                      subject=place.child(name).words())
        for name in o_props:
            if name not in n_props or not visible(n_props, name):
                continue
            sub = at(name)
            if (name in o_req) != (name in n_req):
                became = "required" if name in n_req else "optional"
                self.emit(f"{direction}-property-became-{became}", sub, schema=here, name=name,
                          subject=place.child(name).words())
            self._compare(o_props[name], n_props[name], sub, direction, stack, here,
                          place.child(name))

    def _variants(self, old: View, new: View, pointer, direction, stack, here, emit, place):
        """anyOf/oneOf alternatives matched by schema name (else title, else types); a side
        with a single schema counts as one alternative."""
        o_items = self._alternatives(self.old_doc, old)
        n_items = self._alternatives(self.new_doc, new)
        o_keys = [k for k, _ in o_items]
        key_word = new.variant_key or old.variant_key
        for i, (key, node) in enumerate(n_items):
            if key not in o_keys:
                emit(f"{direction}-variant-added", name=key)
                continue
            at = f"{pointer}/{key_word}/{i}" if new.variants else pointer
            self._compare(o_items[o_keys.index(key)][1], node, at, direction, stack, here,
                          place)
        for key, _ in o_items:
            if key not in [k for k, _ in n_items]:
                emit(f"{direction}-variant-removed", name=key)

    def _alternatives(self, doc: dict, v: View) -> list[tuple[str, object]]:
        if not v.variants:
            return [(self._key(v, 0), v.schema)]
        return [(self._key(view(doc, node), i), node) for i, node in enumerate(v.variants)]

    @staticmethod
    def _key(v: View, index: int) -> str:
        if v.name:
            return v.name
        if v.schema.get("title"):
            return str(v.schema["title"])
        return "|".join(sorted(v.types)) or f"#{index}"
