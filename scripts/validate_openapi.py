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


def _locate_schema_errors() -> None:
    """Make errors inside Schema Objects carry their location in the document.

    openapi-spec-validator checks each Schema Object against the JSON Schema
    meta-schema on its own, so such an error's path starts at the schema
    (`$.type`), not at the document root. Prefix it with where the schema sits.
    This wraps an internal method of the pinned version (see
    requirements-test.txt); if the internals change, errors just lose the prefix.
    """
    try:
        from openapi_spec_validator.validation.keywords import SchemaValidator
    except ImportError:
        return
    original = getattr(SchemaValidator, "_validate_schema_meta", None)
    if original is None:
        return

    def located(self, schema, schema_value):  # type: ignore[no-untyped-def]
        err = original(self, schema, schema_value)
        parts = getattr(schema, "parts", None)
        if err is not None and parts:
            err.relative_path.extendleft(reversed(parts))
        return err

    SchemaValidator._validate_schema_meta = located


_locate_schema_errors()

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


def _leaves(err: ValidationError) -> list[ValidationError]:
    """The innermost errors below an anyOf/oneOf failure."""
    if not err.context:
        return [err]
    return [leaf for sub in err.context for leaf in _leaves(sub)]


def describe(err: ValidationError) -> str:
    """`$.json.path: message`, drilling into anyOf/oneOf failures for the likeliest cause."""
    if not err.context:
        return f"{err.json_path}: {_short(err.message)}"
    # "... is not valid under any of the given schemas" says nothing useful. The
    # branch that got deepest into the value is most likely the intended one;
    # the `$ref` alternative (Reference Object) is almost never what was meant.
    # A sub-error's json_path is absolute (it walks up to its parent).
    leaves = [e for e in _leaves(err) if not (e.validator == "required" and "'$ref'" in e.message)] or _leaves(err)
    inner = max(leaves, key=lambda e: (len(e.absolute_path), -len(e.absolute_schema_path)))
    inner = best_match([e for e in leaves if len(e.absolute_path) == len(inner.absolute_path)]) or inner
    return f"{inner.json_path}: {_short(inner.message)} (closest {err.validator} branch at {err.json_path})"


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
        print(__doc__.strip(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    results = [check(name) for name in argv]  # check every file, even after a failure
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
