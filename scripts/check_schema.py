#!/usr/bin/env python3
"""Check files against one of hmt's JSON Schemas (schemas/*.json).

    scripts/check_schema.py schemas/http-types.json recording.jsonl ...
    scripts/check_schema.py schemas/imposter.json imposter.json ...

A `.jsonl` file is checked line by line (blank lines skipped), any other
file as one JSON document. Prints `ok FILE` for a file that passes and
`FILE[:LINE]: at POINTER: MESSAGE` for each error; exits 1 when any file
fails. Uses the `jsonschema` package (pinned in scripts/requirements-test.txt).
"""

import json
import sys

import jsonschema


def pointer(path):
    """The JSON pointer of an error's location in the instance."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def errors_of(validator, document, where):
    """Lines describing what is wrong with `document`, sorted by location."""
    found = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{where}: at {pointer(e.absolute_path)}: {e.message}" for e in found]


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    failed = False
    for name in argv[2:]:
        problems = []
        with open(name, encoding="utf-8") as f:
            if name.endswith(".jsonl"):
                for number, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    where = f"{name}:{number}"
                    try:
                        document = json.loads(line)
                    except json.JSONDecodeError as error:
                        problems.append(f"{where}: not JSON: {error}")
                        continue
                    problems += errors_of(validator, document, where)
            else:
                try:
                    document = json.load(f)
                except json.JSONDecodeError as error:
                    problems.append(f"{name}: not JSON: {error}")
                else:
                    problems += errors_of(validator, document, name)
        if problems:
            failed = True
            print("\n".join(problems))
        else:
            print(f"ok {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
