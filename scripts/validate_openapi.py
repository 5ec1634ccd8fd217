#!/usr/bin/env python3
"""Validate OpenAPI documents with openapi-spec-validator.

    .venv/bin/python scripts/validate_openapi.py specs/openapi.json [more.yaml ...]

Each FILE may be JSON or YAML (by extension: .yaml/.yml are read as YAML, anything
else as JSON). The OpenAPI version (2.0, 3.0, 3.1, 3.2) is detected from the
document. Prints `ok FILE` for a valid file and `FILE: <JSON path>: <error>` for an
invalid one; exits 1 if any file is invalid or unreadable.

Set up the interpreter first with scripts/setup-python.sh.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

try:
    import yaml
    from jsonschema.exceptions import ValidationError, best_match
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import ValidatorDetectError
except ImportError as e:  # pragma: no cover - environment problem, not a spec problem
    sys.exit(f"validate_openapi: {e}; run scripts/setup-python.sh and use .venv/bin/python")

MAX_MESSAGE = 400  # jsonschema messages embed the offending value, which can be huge


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def load(path: Path) -> object:
    with path.open("rb") as f:
        if path.suffix.lower() in (".yaml", ".yml"):
            # CSafeLoader is much faster on large specs when libyaml is available.
            return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return json.load(f)


def describe(err: ValidationError) -> str:
    """`$.json.path: message`, drilling into anyOf/oneOf failures for the likeliest cause."""
    if err.context:
        # "... is not valid under any of the given schemas" says nothing useful;
        # best_match picks the sub-error that most probably explains it. Its
        # json_path is absolute (it walks up to the parent error).
        inner = best_match(err.context)
        if inner is not None:
            return f"{inner.json_path}: {_short(inner.message)} (in {err.json_path}: {_short(err.message)})"
    return f"{err.json_path}: {_short(err.message)}"


def check(name: str) -> bool:
    path = Path(name)
    try:
        spec = load(path)
    except OSError as e:
        print(f"{name}: cannot read: {e.strerror}")
        return False
    except (ValueError, yaml.YAMLError) as e:  # json.JSONDecodeError is a ValueError
        print(f"{name}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {_short(str(e))}")
        return False
    if not isinstance(spec, dict):
        print(f"{name}: $: document is a {type(spec).__name__}, not an object")
        return False
    try:
        # base_uri lets relative $refs resolve against the file's own location.
        validate(spec, base_uri=path.resolve().as_uri())
    except ValidatorDetectError:
        print(f"{name}: $: no `openapi` (or `swagger`) version field; cannot tell which OpenAPI version to check")
        return False
    except ValidationError as e:
        print(f"{name}: {describe(e)}")
        return False
    except Exception as e:  # noqa: BLE001 - e.g. unresolvable $ref; still report per file
        print(f"{name}: {type(e).__name__}: {_short(str(e))}")
        return False
    print(f"ok {name}")
    return True


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    results = [check(name) for name in argv]  # check every file, even after a failure
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
