#!/usr/bin/env python3
"""Validate SARIF logs against the official SARIF 2.1.0 JSON Schema (OASIS, vendored under
tests/vendor/sarif-2.1.0/), with the `jsonschema` package of .venv-validators, plus the SARIF
rules the schema cannot express that code-scanning consumers rely on (rule indices point at
their rules, fingerprints are unique, suppressions are well-formed).

usage: sarif.py FILE...   (exit 0 when every file is valid)
"""
import json
import pathlib
import sys

from jsonschema import validators

SCHEMA = (
    pathlib.Path(__file__).resolve().parent.parent
    / "vendor" / "sarif-2.1.0" / "sarif-schema-2.1.0.json"
)


def semantic_problems(doc):
    problems = []
    for r_i, run in enumerate(doc.get("runs", [])):
        rules = run["tool"]["driver"].get("rules", [])
        ids = [r["id"] for r in rules]
        if len(set(ids)) != len(ids):
            problems.append(f"runs/{r_i}: duplicate rule ids")
        seen = {}
        for i, res in enumerate(run.get("results", [])):
            where = f"runs/{r_i}/results/{i}"
            idx = res.get("ruleIndex")
            if idx is not None and (idx >= len(rules) or rules[idx]["id"] != res.get("ruleId")):
                problems.append(f"{where}: ruleIndex {idx} does not name rule {res.get('ruleId')}")
            if res.get("ruleId") not in ids:
                problems.append(f"{where}: ruleId {res.get('ruleId')} is not among the rules")
            for key, value in res.get("partialFingerprints", {}).items():
                if (key, value) in seen:
                    problems.append(f"{where}: fingerprint {key} repeats result {seen[(key, value)]}")
                seen[(key, value)] = i
            for s in res.get("suppressions", []):
                if s.get("kind") == "external" and not s.get("justification"):
                    problems.append(f"{where}: external suppression without justification")
            for flow in res.get("codeFlows", []):
                for tf in flow["threadFlows"]:
                    orders = [loc.get("executionOrder") for loc in tf["locations"]]
                    if orders != sorted(orders):
                        problems.append(f"{where}: thread flow steps out of order")
    return problems


def main(paths):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    failed = False
    for path in paths:
        doc = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        for e in errors[:25]:
            where = "/".join(map(str, e.absolute_path)) or "<root>"
            print(f"{path}: {where}: {e.message}")
        problems = semantic_problems(doc) if not errors else []
        for p in problems:
            print(f"{path}: {p}")
        if errors or problems:
            failed = True
        else:
            results = sum(len(r.get("results", [])) for r in doc["runs"])
            print(f"{path}: valid SARIF 2.1.0 ({cls.__name__}, {results} results)")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
