#!/usr/bin/env python3
"""Validate SPDX 3.0.1 JSON-LD documents offline against the official JSON Schema and SHACL model.

Usage: spdx3.py DOCUMENT.spdx3.json [...]   (exit 0 when every document passes)

For each document:
1. JSON Schema: the official `schema.json` (draft 2020-12), vendored in
   tests/vendor/spdx-3.0.1/. Given a whole document, Python `jsonschema` takes 45 s for 68
   elements and minutes for larger ones (every `@graph` item is tried against all ~70 classes
   of `AnyClass`, every reference string against every class of `Element`), so the same
   schema is applied item by item, exactly: the document's top level (`@context` const,
   `@graph` array of objects, nothing else), then each item against the `$defs` class its
   `type` names, with `unevaluatedProperties: false` as `@graph/items` has it. An item whose
   `type` is a class name (not an extension IRI) can only match that one branch of
   `AnyClass`, so the verdict is the same. Two sound speed-ups on top: a string already found
   valid against a `$ref` is not checked again, and an `anyOf` branch whose `type` keyword
   (or whose `allOf` member's `properties.type`, the class discriminator) rejects the
   instance fails without descending into it. The Rust test (`tests/interchange_bom.rs`) also
   validates every whole document against `schema.json` with the `jsonschema` crate.
2. SHACL: the document is read as RDF with the vendored JSON-LD context (no network: the
   `@context` URL is replaced by the vendored context object, after checking that it is the
   3.0.1 one) and checked with pyshacl against the official `spdx-model.ttl`, which also serves
   as the ontology graph so `sh:class` constraints see subclasses (Organization is an Agent,
   NoAssertionLicense is an Element, ...).
3. What SHACL does not check: every ai_AIPackage / dataset_DatasetPackage has the properties
   its profile requires, and exactly one hasDeclaredLicense and exactly one
   hasConcludedLicense relationship (each to one license);
   spdxIds are unique; a `blake3` Hash is 64 lowercase hex and equals the element's mlprov
   `blake3:` id; an element whose id is a `blake3tree:` directory digest has no Hash.

The vendored model is parsed once, so pass every document in one call.
"""
import json
import pathlib
import re
import sys
import time

import jsonschema
import pyshacl
import rdflib
from jsonschema import _keywords
from jsonschema.exceptions import ValidationError, best_match

VENDOR = pathlib.Path(__file__).resolve().parent.parent / "vendor" / "spdx-3.0.1"
CONTEXT_URL = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
PACKAGE_TYPES = {"ai_AIPackage", "dataset_DatasetPackage"}
# Properties the AI and Dataset profiles require (the spec's profile conformance; neither the
# JSON Schema nor the SHACL model enforces them).
PROFILE_REQUIRED = {
    "ai_AIPackage": ["suppliedBy", "software_downloadLocation", "software_packageVersion",
                     "software_primaryPurpose", "releaseTime"],
    "dataset_DatasetPackage": ["dataset_datasetType", "builtTime", "originatedBy", "releaseTime",
                               "software_downloadLocation", "software_primaryPurpose"],
}
HEX64 = re.compile(r"^[0-9a-f]{64}$")


_VALID_STRINGS = set()


def _ref(validator, ref, instance, schema):
    """`$ref`, remembering which strings are valid against which reference."""
    if isinstance(instance, str):
        if (ref, instance) in _VALID_STRINGS:
            return
        errors = list(_keywords.ref(validator, ref, instance, schema))
        if not errors:
            _VALID_STRINGS.add((ref, instance))
        yield from errors
    else:
        yield from _keywords.ref(validator, ref, instance, schema)


def _rejected_early(validator, sub, instance):
    """Whether a branch fails on its `type` keyword or its class discriminator alone."""
    if not isinstance(sub, dict):
        return False
    t = sub.get("type")
    if t is not None and not any(validator.is_type(instance, x) for x in ([t] if isinstance(t, str) else t)):
        return True
    if isinstance(instance, dict) and "type" in instance:
        for part in sub.get("allOf", []):
            if isinstance(part, dict):
                ts = part.get("properties", {}).get("type")
                if ts is not None and not validator.evolve(schema=ts).is_valid(instance["type"]):
                    return True
    return False


def _any_of(validator, any_of, instance, schema):
    """`anyOf`, failing branches that `_rejected_early` rules out without descending."""
    errors = []
    for index, sub in enumerate(any_of):
        if _rejected_early(validator, sub, instance):
            errors.append(ValidationError("branch ruled out by its type", instance=instance, schema=sub))
            continue
        found = list(validator.descend(instance, sub, schema_path=index))
        if not found:
            return
        errors.extend(found)
    yield ValidationError(f"{instance!r} is not valid under any of the given schemas", context=errors)


FastValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"$ref": _ref, "anyOf": _any_of}
)


def schema_errors(schema, doc):
    graph_form = schema["oneOf"][0]
    top = {
        "$schema": schema["$schema"],
        "type": "object",
        "properties": {
            **schema["properties"],
            "@graph": {"type": "array", "items": {"type": "object", "required": ["type"]}},
        },
        "required": sorted(set(schema["required"]) | set(graph_form["required"])),
        "additionalProperties": False,
    }
    out = [f"(top level): {e.message[:300]}" for e in jsonschema.Draft202012Validator(top).iter_errors(doc)]
    if out:
        return out
    defs = schema["$defs"]
    item = graph_form["properties"]["@graph"]["items"]
    for index, el in enumerate(doc["@graph"]):
        if el["type"] not in defs or {"$ref": f"#/$defs/{el['type']}"} not in defs["AnyClass"]["anyOf"]:
            out.append(f"@graph/{index}: type {el['type']!r} is not a class of the SPDX 3.0.1 model")
            continue
        sub = {
            "$schema": schema["$schema"],
            "$defs": defs,
            "type": item["type"],
            "$ref": f"#/$defs/{el['type']}",
            "unevaluatedProperties": item["unevaluatedProperties"],
        }
        errors = list(FastValidator(sub).iter_errors(el))
        if errors:
            e = best_match(errors)
            where = "/".join(map(str, e.absolute_path))
            out.append(f"@graph/{index} ({el['type']} {el.get('spdxId', el.get('@id', ''))}) {where}: {e.message[:300]}")
    return out


def shacl_errors(doc, context, shapes):
    if doc.get("@context") != CONTEXT_URL:
        return [f"@context is {doc.get('@context')!r}, expected {CONTEXT_URL!r}"]
    local = dict(doc)
    local["@context"] = context
    data = rdflib.Graph()
    data.parse(data=json.dumps(local), format="json-ld")
    conforms, _, text = pyshacl.validate(
        data,
        shacl_graph=shapes,
        ont_graph=shapes,
        inference="none",
        abort_on_first=False,
        allow_infos=True,
        allow_warnings=True,
    )
    return [] if conforms else [text]


def profile_errors(doc):
    out = []
    graph = doc.get("@graph", [])
    ids = [e["spdxId"] for e in graph if "spdxId" in e]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        out.append(f"duplicate spdxIds: {dupes}")
    rels = [e for e in graph if e.get("type") == "Relationship"]
    for e in graph:
        if e.get("type") in PACKAGE_TYPES:
            missing = [p for p in PROFILE_REQUIRED[e["type"]] if p not in e]
            if missing:
                out.append(f"{e['spdxId']}: {e['type']} lacks {', '.join(missing)} (required by its profile)")
            for kind in ("hasDeclaredLicense", "hasConcludedLicense"):
                found = [r for r in rels if r.get("from") == e["spdxId"] and r.get("relationshipType") == kind]
                if len(found) != 1:
                    out.append(f"{e['spdxId']}: {len(found)} {kind} relationships, expected exactly 1")
                elif len(found[0].get("to", [])) != 1:
                    out.append(f"{e['spdxId']}: {kind} points to {len(found[0].get('to', []))} licenses, expected 1")
        mlprov_ids = [x.get("identifier", "") for x in e.get("externalIdentifier", []) if x.get("issuingAuthority") == "mlprov"]
        hashes = [h for h in e.get("verifiedUsing", []) if h.get("type") == "Hash" and h.get("algorithm") == "blake3"]
        for h in hashes:
            value = h.get("hashValue", "")
            if not HEX64.match(value):
                out.append(f"{e.get('spdxId')}: blake3 hashValue {value!r} is not 64 lowercase hex digits")
            if f"blake3:{value}" not in mlprov_ids:
                out.append(f"{e.get('spdxId')}: blake3 hash {value} does not match its mlprov id {mlprov_ids}")
        if hashes and any(i.startswith("blake3tree:") for i in mlprov_ids):
            out.append(f"{e.get('spdxId')}: a blake3tree: directory digest is presented as a file hash")
    return out


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    schema = json.loads((VENDOR / "schema.json").read_text())
    context = json.loads((VENDOR / "spdx-context.jsonld").read_text())["@context"]
    shapes = rdflib.Graph()
    shapes.parse(VENDOR / "spdx-model.ttl", format="turtle")
    failed = False
    for path in paths:
        t0 = time.monotonic()
        doc = json.loads(pathlib.Path(path).read_text())
        problems = [("schema", m) for m in schema_errors(schema, doc)]
        t_schema = time.monotonic() - t0
        problems += [("profile", m) for m in profile_errors(doc)]
        problems += [("shacl", m) for m in shacl_errors(doc, context, shapes)]
        t_shacl = time.monotonic() - t0 - t_schema
        elements = len(doc.get("@graph", []))
        if problems:
            failed = True
            print(f"{path}: INVALID ({elements} elements)")
            for kind, message in problems:
                print(f"  [{kind}] {message}")
        else:
            print(f"{path}: valid SPDX 3.0.1 ({elements} elements; JSON Schema {t_schema:.1f}s, SHACL {t_shacl:.1f}s)")
    print(f"total {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
