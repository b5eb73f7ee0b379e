"""`make spec`: write `openapi/batch-calling.yaml` from openapi/vendor/, openapi/examples/ and
openapi/webhooks/ (how it is built: `conformance.bundle`).

    python -m conformance.tools.specbuild            # regenerate
    python -m conformance.tools.specbuild --check    # exit 1 when the committed file is stale

A bump from a newer vendor file is `python -m conformance.tools.bump` (`make spec
VENDOR_SPEC=...`).
"""

from __future__ import annotations

import sys

from conformance.bundle import OUTPUT, ROOT, build, dump


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = dump(build())
    if "--check" in argv:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run python -m conformance.tools.specbuild",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
