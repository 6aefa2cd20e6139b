#!/usr/bin/env python3
"""Validate CycloneDX 1.6 JSON BOMs offline.

Usage: cyclonedx.py BOM.cdx.json [...]   (exit 0 when every BOM passes)

1. cyclonedx-python-lib's JsonStrictValidator for 1.6 (the official schema with every object
   closed: no unknown properties); `validate_str` must return None.
2. What the schema does not check: bom-refs are unique; every ref (dependencies, dependsOn,
   modelCard datasets, workflow inputs and outputs) names a bom-ref in the BOM; a BLAKE3 hash is
   64 lowercase hex and equals the component's `mlprov:artifact_id` (`blake3:<hex>`); a
   component whose id is a `blake3tree:` directory digest has no hash; `licenses` is either a
   list of `license` objects or exactly one `expression`, never mixed.
"""
import json
import pathlib
import re
import sys

# This file is named like the package it uses: keep its own folder off the import path.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def walk_components(bom):
    meta = bom.get("metadata", {}).get("component")
    stack = ([meta] if meta else []) + list(bom.get("components", []))
    while stack:
        c = stack.pop()
        yield c
        stack.extend(c.get("components", []))


def extra_errors(bom):
    out = []
    refs = []
    components = list(walk_components(bom))
    refs += [c["bom-ref"] for c in components if "bom-ref" in c]
    for f in bom.get("formulation", []):
        if "bom-ref" in f:
            refs.append(f["bom-ref"])
        refs += [w["bom-ref"] for w in f.get("workflows", [])]
    dupes = sorted({r for r in refs if refs.count(r) > 1})
    if dupes:
        out.append(f"duplicate bom-refs: {dupes}")
    known = set(refs)

    def need(ref, where):
        if ref not in known:
            out.append(f"{where}: ref {ref!r} names no bom-ref in the BOM")

    for d in bom.get("dependencies", []):
        need(d["ref"], "dependencies")
        for on in d.get("dependsOn", []):
            need(on, f"dependencies[{d['ref']}].dependsOn")
    for c in components:
        where = c.get("bom-ref", c.get("name"))
        for ds in c.get("modelCard", {}).get("modelParameters", {}).get("datasets", []):
            if "ref" in ds:
                need(ds["ref"], f"{where}.modelCard.datasets")
        ids = [p.get("value", "") for p in c.get("properties", []) if p.get("name") == "mlprov:artifact_id"]
        for h in c.get("hashes", []):
            if h["alg"] == "BLAKE3":
                if not HEX64.match(h["content"]):
                    out.append(f"{where}: BLAKE3 {h['content']!r} is not 64 lowercase hex digits")
                if f"blake3:{h['content']}" not in ids:
                    out.append(f"{where}: BLAKE3 {h['content']} does not match mlprov:artifact_id {ids}")
        if c.get("hashes") and any(i.startswith("blake3tree:") for i in ids):
            out.append(f"{where}: a blake3tree: directory digest is presented as a hash")
        lic = c.get("licenses", [])
        kinds = {("expression" if "expression" in x else "license") for x in lic}
        if len(kinds) > 1 or ("expression" in kinds and len(lic) != 1):
            out.append(f"{where}: licenses mix expressions and license objects")
    for f in bom.get("formulation", []):
        for w in f.get("workflows", []):
            for io in w.get("inputs", []) + w.get("outputs", []):
                ref = io.get("resource", {}).get("ref")
                if ref is not None:
                    need(ref, f"workflow {w['bom-ref']}")
    return out


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    failed = False
    for path in paths:
        text = pathlib.Path(path).read_text()
        problems = []
        errors = validator.validate_str(text)
        if errors is not None:
            problems.append(f"[schema] {errors}")
        problems += [f"[refs] {m}" for m in extra_errors(json.loads(text))]
        if problems:
            failed = True
            print(f"{path}: INVALID")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"{path}: valid CycloneDX 1.6")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
