"""`conformance diff`: what changed between two contracts of the batch-calling API, judged
for clients (breaking / warning / info), one record per change. docs/diff.md explains it.

    rules.toml / rules.py  the rule table (data) and the record
    normalize.py           one view of a schema: $refs, allOf, every nullable spelling
    schemas.py             compare two schemas for one direction (request / response)
    operations.py          compare operations, parameters, bodies and responses
    load.py                read a contract: the bundled spec, or a vendor openapi.json
    render.py              text, Markdown, JSON and JUnit output
    cassettes.py           re-validate committed cassettes against a candidate spec
    history.py             the API's earlier and newer contracts in openapi/history/
    cli.py                 `conformance diff` and `conformance cassettes check`

`make spec VENDOR_SPEC=...` (rebuild, diff, re-validate) is conformance/tools/bump.py.
"""

from conformance.diff.load import ContractError, load_contract
from conformance.diff.operations import diff_contracts
from conformance.diff.rules import Change, rules

__all__ = ["Change", "ContractError", "diff_contracts", "diff_files", "load_contract", "rules"]


def diff_files(old: str, new: str, *, as_published: bool = False) -> list[Change]:
    return diff_contracts(load_contract(old, as_published=as_published),
                          load_contract(new, as_published=as_published))
