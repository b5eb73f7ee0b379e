"""Every private part of Schemathesis and pytest the fuzzing harness still needs, in one
place, checked against the pinned version (pyproject.toml). On another version this module
fails at import with a clear message instead of misbehaving somewhere else."""

from __future__ import annotations

import schemathesis

PINNED = "4.32.5"

if schemathesis.__version__ != PINNED:
    raise ImportError(
        f"conformance.fuzz is written against schemathesis=={PINNED} (pyproject.toml pins it); "
        f"found {schemathesis.__version__}. Its private parts used here "
        "(CheckContext.internals, schema.analysis.dependency_graph, pytest Item._id) may have "
        "changed: reinstall the pinned version, or port conformance/fuzz/_compat.py.")


def auth_headers(ctx) -> dict:
    """Headers the run was configured with (`-H` on the CLI)."""
    return dict(ctx.internals.headers or {})


def transport_kwargs(ctx) -> dict:
    """How the case at hand was sent (app / session / base_url / headers)."""
    return dict(ctx.internals.transport_kwargs or {})


def record_follow_up(ctx, parent, case, send):
    """Send a check's own follow-up request and record it beside the case (so it appears
    in Schemathesis' report and reproduction output)."""
    ctx.internals.record_case(parent_id=parent.id, case=case)
    response = send()
    ctx.internals.record_response(case_id=case.id, response=response)
    return response


def drop_inferred_inputs(schema, operation_id: str) -> None:
    """Schemathesis 4.32.5 starts stateful scenarios only with operations it deems reliable;
    its dependency analysis reads submit's `agent_id` / `agent_phone_number_id` /
    `branch_id` as references to resources no operation produces, so submit (the only
    producer of batches) would never start one and the spec's links would never be
    followed. Dropping those inferred inputs lets scenarios start with submit."""
    operation = schema.find_operation_by_id(operation_id)
    node = schema.analysis.dependency_graph.operations.get(operation.label)
    if node is not None:
        node.inputs = []


def fix_operation_node_id(item) -> None:
    """Schemathesis 4.32.5 under pytest 9 gives every operation's item the node id of the
    bare function (`...::test_operation`), so deviations could not name one operation and
    reports would merge them. Give each item the id its name says."""
    if item.nodeid != f"{item.parent.nodeid}::{item.name}":
        item._id = item.parent.id.child(item.name)
