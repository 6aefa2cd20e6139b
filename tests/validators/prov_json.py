#!/usr/bin/env python3
"""Validate a W3C PROV-JSON document with the `prov` library (offline).

Usage: prov_json.py FILE... [--entities N]... [--activities N]... [--agents N]...
(one of each count per FILE, in order, when given)

Deserialises with `ProvDocument.deserialize(path, format="json")`, checks the counts of
entities, activities and agents, checks that every relation names declared records, then
re-serialises to PROV-JSON (which must read back equal) and to PROV-N. Any warning of the
library (it drops values it will reject in its next version) is an error. Exit 0 when valid.
"""
import argparse
import sys
import warnings

from prov.model import (
    PROV_ATTR_ACTIVITY,
    PROV_ATTR_AGENT,
    PROV_ATTR_ENTITY,
    PROV_ATTR_GENERATED_ENTITY,
    PROV_ATTR_USED_ENTITY,
    ProvActivity,
    ProvAgent,
    ProvDocument,
    ProvEntity,
)

REFERENCES = (PROV_ATTR_ENTITY, PROV_ATTR_ACTIVITY, PROV_ATTR_AGENT, PROV_ATTR_GENERATED_ENTITY, PROV_ATTR_USED_ENTITY)


def check_file(path, want):
    doc = ProvDocument.deserialize(path, format="json")
    problems = []
    counts = {
        "entities": len(list(doc.get_records(ProvEntity))),
        "activities": len(list(doc.get_records(ProvActivity))),
        "agents": len(list(doc.get_records(ProvAgent))),
    }
    for key, have in counts.items():
        if want.get(key) is not None and have != want[key]:
            problems.append(f"{have} {key}, expected {want[key]}")
    declared = {r.identifier for r in doc.get_records() if r.is_element()}
    relations = [r for r in doc.get_records() if r.is_relation()]
    for r in relations:
        for attr, value in r.formal_attributes:
            if attr in REFERENCES and value is not None and value not in declared:
                problems.append(f"{r.get_type()} names undeclared {attr}: {value}")
    if not relations and counts["activities"]:
        problems.append("activities but no relations")

    text = doc.serialize(format="json")
    again = ProvDocument.deserialize(content=text, format="json")
    if again != doc:
        problems.append("PROV-JSON does not read back equal after re-serialising")
    provn = doc.get_provn()
    if "document" not in provn:
        problems.append("PROV-N serialisation failed")
    if not problems:
        print(f"{path}: {counts['entities']} entities, {counts['activities']} activities, "
              f"{counts['agents']} agents, {len(relations)} relations; re-serialised")
    return [f"{path}: {p}" for p in problems]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    for key in ("entities", "activities", "agents"):
        ap.add_argument(f"--{key}", type=int, action="append", help=f"expected number of {key} (per file)")
    args = ap.parse_intermixed_args()
    for key in ("entities", "activities", "agents"):
        given = getattr(args, key)
        if given is not None and len(given) != len(args.files):
            ap.error(f"give --{key} once per file")
    # The prov library warns and drops what it will reject in its next version (values that
    # are not what their attribute needs, e.g. a time that is no xsd:dateTime): reject now.
    warnings.simplefilter("error")
    problems = []
    for i, path in enumerate(args.files):
        want = {k: (getattr(args, k) or [None] * len(args.files))[i] for k in ("entities", "activities", "agents")}
        problems += check_file(path, want)
    if problems:
        print("\n".join(problems[:50]))
        sys.exit(1)


if __name__ == "__main__":
    main()
