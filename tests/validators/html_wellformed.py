#!/usr/bin/env python3
"""Check that an HTML report is well-formed enough and self-contained, with the standard
library's html.parser:

- every element is closed, in order (void elements excepted; `<x/>` counts as closed);
- no duplicate `id` attributes;
- no external resources: no `src`, `href`, `xlink:href`, `action`, `poster`, `srcset`, `data`
  or `formaction` attribute points outside the document (only `#fragment` and `data:` URIs),
  no `<script src>`, no `<link>` to anything, no `url(...)` or `@import` reaching out from CSS
  (URLs in text are fine: they are not fetched);
- exactly one `<html>`, `<head>`, `<body>` and `<title>` (outside SVG).

usage: html_wellformed.py FILE...   (exit 0 when every file passes)
"""
import pathlib
import re
import sys
from html.parser import HTMLParser

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}
URL_ATTRS = {"src", "href", "xlink:href", "action", "poster", "srcset", "data", "formaction"}
CSS_URL = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.I)


def external(value):
    v = (value or "").strip()
    return not (v.startswith("#") or v.lower().startswith("data:") or v == "")


class Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.problems = []
        self.ids = set()
        self.counts = {}
        self.in_style = False

    def where(self):
        line, col = self.getpos()
        return f"line {line}:{col}"

    def check_attrs(self, tag, attrs):
        for name, value in attrs:
            if name == "id":
                if value in self.ids:
                    self.problems.append(f"{self.where()}: duplicate id {value!r}")
                self.ids.add(value)
            if name in URL_ATTRS and external(value):
                self.problems.append(f"{self.where()}: <{tag} {name}={value!r}> points outside the file")
            if name == "style":
                self.check_css(value or "")
        if tag == "script" and any(n == "src" for n, _ in attrs):
            self.problems.append(f"{self.where()}: <script src> loads an external script")
        if tag == "link":
            self.problems.append(f"{self.where()}: <link> loads an external resource")

    def check_css(self, css):
        for m in CSS_URL.finditer(css):
            if external(m.group(1)):
                self.problems.append(f"{self.where()}: CSS url({m.group(1)}) points outside the file")
        if "@import" in css:
            self.problems.append(f"{self.where()}: CSS @import")

    def count(self, tag):
        if "svg" not in self.stack:
            self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_starttag(self, tag, attrs):
        self.check_attrs(tag, attrs)
        self.count(tag)
        if tag == "style":
            self.in_style = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.check_attrs(tag, attrs)
        self.count(tag)

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False
        if tag in VOID:
            return
        if not self.stack:
            self.problems.append(f"{self.where()}: </{tag}> closes nothing")
            return
        if self.stack[-1] != tag:
            self.problems.append(f"{self.where()}: </{tag}> closes <{self.stack[-1]}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.in_style:
            self.check_css(data)


def check(path):
    text = pathlib.Path(path).read_text(encoding="utf-8")
    c = Checker()
    c.feed(text)
    c.close()
    problems = list(c.problems)
    if c.stack:
        problems.append(f"unclosed at end: {' > '.join(c.stack)}")
    for tag in ("html", "head", "body", "title"):
        if c.counts.get(tag, 0) != 1:
            problems.append(f"expected one <{tag}>, found {c.counts.get(tag, 0)}")
    if not text.lstrip().lower().startswith("<!doctype html>"):
        problems.append("no <!DOCTYPE html>")
    return problems


def main(paths):
    failed = False
    for path in paths:
        problems = check(path)
        for p in problems[:40]:
            print(f"{path}: {p}")
        if problems:
            failed = True
        else:
            print(f"{path}: well-formed and self-contained")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
