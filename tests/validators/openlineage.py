#!/usr/bin/env python3
"""Validate OpenLineage JSON Lines offline (no network).

Usage: openlineage.py FILE... [--events N]... [--runs N]...
(one --events / --runs per FILE, in order, when given)

Every line is validated with a Draft 2020-12 validator (format assertion on: uri, date-time,
uuid) against the definition its own `schemaURL` names in the vendored core spec
`tests/vendor/openlineage-2-0-2/OpenLineage.json`. Then every facet in the event (run, job,
dataset, input and output facets) is validated against the schema its `_schemaURL` names:
the vendored standard facet schemas (`tests/vendor/openlineage-2-0-2/facets/`) or mlprov's
custom facet schemas (`schemas/openlineage/`). All schemas are registered by `$id` with
`referencing`; an unknown URL is an error, never a download. Also checked: at most one
START and one terminal event (COMPLETE, FAIL, ABORT) per runId. Exit 0 when valid.
"""
import argparse
import json
import pathlib
import sys

# jsonschema imports rfc3987_syntax (2 s to build its grammar) only to check the "iri" and
# "iri-reference" formats, which no schema used here has (checked in build_registry).
sys.modules.setdefault("rfc3987_syntax", None)

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENDOR = ROOT / "tests/vendor/openlineage-2-0-2"
CORE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
TERMINAL = {"COMPLETE", "FAIL", "ABORT"}


def schema_files():
    """(path, ours): the vendored official schemas, mlprov's facet schemas and the shared
    definitions (ids, timestamps) they refer to."""
    yield VENDOR / "OpenLineage.json", False
    for path in sorted((VENDOR / "facets").glob("*.json")):
        yield path, False
    for path in sorted((ROOT / "schemas/openlineage").glob("*.json")):
        yield path, True
    yield ROOT / "schemas/common.v1.schema.json", True
    yield ROOT / "schemas/artifact.v1.schema.json", True


def formats_in(node):
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        return found.union(*(formats_in(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(formats_in(v) for v in node))
    return set()


def build_registry():
    resources = []
    for path, ours in schema_files():
        doc = json.loads(path.read_text())
        if ours:
            Draft202012Validator.check_schema(doc)
        unchecked = formats_in(doc) & {"iri", "iri-reference"}
        assert not unchecked, f"{path} uses {unchecked}: drop the rfc3987_syntax shortcut"
        resources.append((doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


FORMATS = Draft202012Validator.FORMAT_CHECKER
for needed in ("uri", "date-time", "uuid"):
    assert needed in FORMATS.checkers, f"format checker for {needed} is missing in this venv"

REGISTRY = build_registry()
_validators = {}


def validator_for(url):
    if url not in _validators:
        v = Draft202012Validator({"$ref": url}, registry=REGISTRY, format_checker=FORMATS)
        # resolve now, so an unknown URL is reported as such
        try:
            REGISTRY.resolver().lookup(url)
        except Unresolvable as e:
            raise LookupError(f"{url} names no registered schema ({e})") from None
        _validators[url] = v
    return _validators[url]


def errors_of(url, instance):
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator_for(url).iter_errors(instance)
    ]


def facets_in(event):
    """(where, key, facet) for every facet of the event."""
    def of(where, holder, field):
        facets = holder.get(field) if isinstance(holder, dict) else None
        if isinstance(facets, dict):
            for key, facet in facets.items():
                yield f"{where}.{field}.{key}", key, facet

    yield from of("run", event.get("run"), "facets")
    yield from of("job", event.get("job"), "facets")
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for i, d in enumerate(event.get(side) or []):
            yield from of(f"{side}[{i}]", d, "facets")
            yield from of(f"{side}[{i}]", d, extra)
    if isinstance(event.get("dataset"), dict):
        yield from of("dataset", event["dataset"], "facets")


def check_file(path, want_events, want_runs):
    problems = []
    events = 0
    facets_checked = 0
    per_run = {}
    for n, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        events += 1
        try:
            event = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not JSON: {e}")
            continue
        url = event.get("schemaURL") if isinstance(event, dict) else None
        if not isinstance(url, str) or not url.startswith(CORE_ID + "#/$defs/"):
            problems.append(f"line {n}: schemaURL {url!r} is not a 2-0-2 event definition")
            continue
        try:
            problems += [f"line {n}: {e}" for e in errors_of(url, event)]
            for where, key, facet in facets_in(event):
                if not isinstance(facet, dict) or not isinstance(facet.get("_schemaURL"), str):
                    problems.append(f"line {n}: {where}: no _schemaURL")
                    continue
                facets_checked += 1
                problems += [f"line {n}: {where}: {e}" for e in errors_of(facet["_schemaURL"], facet)]
        except LookupError as e:
            problems.append(f"line {n}: {e}")
        run_id = (event.get("run") or {}).get("runId")
        if run_id is not None:
            counts = per_run.setdefault(run_id, {"START": 0, "terminal": 0})
            kind = event.get("eventType")
            if kind == "START":
                counts["START"] += 1
            elif kind in TERMINAL:
                counts["terminal"] += 1
    for run_id, c in per_run.items():
        if c["START"] > 1 or c["terminal"] > 1:
            problems.append(f"run {run_id}: {c['START']} START and {c['terminal']} terminal events")
    if want_events is not None and events != want_events:
        problems.append(f"{events} events, expected {want_events}")
    if want_runs is not None and len(per_run) != want_runs:
        problems.append(f"{len(per_run)} runs, expected {want_runs}")
    if events == 0:
        problems.append("no events")
    if not problems:
        print(f"{path}: {events} events, {len(per_run)} runs, {facets_checked} facets valid")
    return [f"{path}: {p}" for p in problems]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--events", type=int, action="append", help="expected number of events (per file)")
    ap.add_argument("--runs", type=int, action="append", help="expected number of distinct runIds (per file)")
    args = ap.parse_intermixed_args()
    for name in ("events", "runs"):
        given = getattr(args, name)
        if given is not None and len(given) != len(args.files):
            ap.error(f"give --{name} once per file")
    problems = []
    for i, path in enumerate(args.files):
        problems += check_file(
            path,
            args.events[i] if args.events else None,
            args.runs[i] if args.runs else None,
        )
    if problems:
        print("\n".join(problems[:50]))
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
