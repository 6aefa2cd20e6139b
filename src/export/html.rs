//! The report for people as ONE self-contained HTML file: inline CSS, the lineage as inline
//! SVG ([`super::svg`]), no scripts and no external resources (license sources are printed as
//! text, not fetched or linked). Sections: summary (verdict and counts), the lineage picture,
//! the findings (same content as the Markdown report, coloured by severity, collapsible with
//! native `<details>`), the artifacts, the runs and the waivers. All text is escaped.

use std::fmt::Write;

use super::markdown::{
    artifact_rows, finding_facts, label_of, run_rows, scope_title, short_run_name, waiver_rows,
    Counts,
};
use super::svg::escape;
use super::ExportInput;
use crate::audit::{Finding, Status};
use crate::error::Result;

const CSS: &str = r#"
.share { min-width: 12rem; white-space: nowrap; }
.share .bar { display: inline-block; height: .8em; background: var(--note); border-radius: 3px; vertical-align: middle; }
.share .bar.original { background: var(--pass); }
.share .bar.unmapped { background: var(--warning); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
:root {
  --error: #c62828; --warning: #e65100; --note: #1565c0; --waived: #6d4c41; --pass: #2e7d32;
  --text: #1f2933; --muted: #5f6b7a; --border: #dde3ea; --bg: #f4f6f9; --card: #ffffff;
  --code: #eef1f5;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.container { max-width: 1240px; margin: 0 auto; padding: 28px 28px 64px; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 .35rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .8rem; padding-bottom: .35rem; border-bottom: 2px solid var(--border); }
h3 { font-size: 1.05rem; margin: 0; }
p { margin: .4rem 0; }
code {
  font: .84em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  background: var(--code); padding: .08em .35em; border-radius: 4px; overflow-wrap: anywhere;
}
.card { background: var(--card); border: 1px solid var(--border); border-radius: 12px; }
.summary { padding: 22px 26px; display: flex; flex-wrap: wrap; gap: 18px 40px; align-items: center; justify-content: space-between; }
.summary .meta { color: var(--muted); font-size: .92rem; }
.summary .meta div { margin: .1rem 0; }
.verdict-box { display: flex; align-items: center; gap: 18px; flex-wrap: wrap; }
.verdict {
  font-size: 1.5rem; font-weight: 800; letter-spacing: .06em; color: #fff;
  padding: .25em .8em; border-radius: 10px;
}
.verdict.fail { background: var(--error); }
.verdict.warn { background: var(--warning); }
.verdict.pass { background: var(--pass); }
table.counts { border-collapse: collapse; font-size: .95rem; }
table.counts th, table.counts td { padding: .2rem .8rem; text-align: right; border-bottom: 1px solid var(--border); }
table.counts th:first-child, table.counts td:first-child { text-align: left; }
table.counts td.num-active { font-weight: 700; }
.sev-error { --sev: var(--error); }
.sev-warning { --sev: var(--warning); }
.sev-note { --sev: var(--note); }
.sev-waived { --sev: var(--waived); }
.dot { display: inline-block; width: .7em; height: .7em; border-radius: 50%; background: var(--sev); margin-right: .4em; }
nav.toc { margin: 14px 2px 0; font-size: .92rem; color: var(--muted); }
nav.toc a { color: var(--note); text-decoration: none; margin-right: 1.1rem; }
nav.toc a:hover { text-decoration: underline; }
.figure {
  overflow-x: auto; padding: 6px; position: relative; left: 50%; transform: translateX(-50%);
  width: min(calc(100vw - 32px), var(--fig-w)); min-width: 100%;
}
.figure svg { display: block; margin: 0 auto; width: 100%; min-width: var(--fig-min); max-width: var(--fig-w); height: auto; }
.caption { color: var(--muted); font-size: .9rem; margin: .5rem .2rem 0; }
details.finding {
  background: var(--card); border: 1px solid var(--border); border-left: 6px solid var(--sev);
  border-radius: 10px; margin: 12px 0; padding: 0 20px;
}
details.finding > summary {
  cursor: pointer; padding: 14px 0 10px; list-style-position: outside;
}
details.finding > summary .head { display: inline-flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
details.finding[open] > summary { border-bottom: 1px dashed var(--border); }
.label {
  display: inline-block; padding: .12em .65em; border-radius: 999px; background: var(--sev); color: #fff;
  font-size: .76rem; font-weight: 700; text-transform: uppercase; letter-spacing: .04em;
}
.finding .title { font-size: 1.05rem; font-weight: 700; }
.finding .message { display: block; margin: .45rem 0 0; font-size: 1rem; }
.finding .body { padding: 10px 0 16px; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .35rem 1.1rem; margin: 0; }
dl.facts dt { font-weight: 600; color: var(--muted); font-size: .92rem; padding-top: .08rem; }
dl.facts dd { margin: 0; }
dl.facts ul { margin: 0; padding-left: 1.2rem; }
.extra { color: var(--muted); }
blockquote {
  margin: .35rem 0 .15rem; padding: .55rem .95rem; border-left: 3px solid var(--sev);
  background: #fafbfc; border-radius: 0 6px 6px 0; font-style: italic;
}
.source { color: var(--muted); font-size: .9rem; overflow-wrap: anywhere; }
ol.path { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .35rem .25rem; align-items: center; }
ol.path li { display: inline-flex; align-items: center; gap: .25rem; }
.step { padding: .12em .6em; border-radius: 6px; border: 1px solid var(--border); background: #fbfcfd; font-size: .92rem; }
.step.run { border-radius: 999px; background: #eceff1; }
.step .kind { color: var(--muted); font-size: .78rem; margin-right: .3em; }
.arrow { color: var(--sev); font-size: .85rem; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; font-size: .88rem; }
table.data th, table.data td { padding: .5rem .7rem; text-align: left; vertical-align: top; border-bottom: 1px solid var(--border); }
table.data th { background: #eef1f5; font-weight: 650; white-space: nowrap; }
table.data tr:last-child td { border-bottom: none; }
table.data td.id code { font-size: .78rem; }
table.data td.kind, table.data td.date { white-space: nowrap; }
blockquote.summary { font-style: normal; }
.state { font-weight: 700; }
.state.active { color: var(--pass); }
.state.unused { color: var(--warning); }
.state.expired, .state.revoked { color: var(--error); }
details.section > summary { cursor: pointer; color: var(--muted); margin: 0 0 .6rem; }
footer { margin-top: 40px; color: var(--muted); font-size: .85rem; }
@media (max-width: 720px) {
  .container { padding: 16px 12px 40px; }
  dl.facts { grid-template-columns: minmax(0, 1fr); }
  dl.facts dt { margin-top: .4rem; }
}
"#;

/// How far the lineage picture may shrink to fit the window before it scrolls instead.
const MIN_ZOOM: f64 = 0.76;

fn e(s: &str) -> String {
    escape(s)
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", escape(s))
}

pub fn render(input: &ExportInput) -> Result<String> {
    let findings: Vec<&Finding> = input.findings().collect();
    let counts = Counts::of(&findings);
    let title = format!("mlprov report: {}", scope_title(input));
    let mut s = String::with_capacity(256 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str("<meta name=\"generator\" content=\"mlprov\">\n");
    let _ = writeln!(s, "<title>{}</title>", e(&title));
    let _ = writeln!(
        s,
        "<style>{CSS}</style>\n</head>\n<body>\n<main class=\"container\">"
    );

    // Summary.
    let verdict = counts.verdict();
    s.push_str("<section id=\"summary\" class=\"card summary\">\n<div>\n");
    let _ = writeln!(s, "<h1>{}</h1>", e(&title));
    s.push_str("<div class=\"meta\">\n");
    let scope = match &input.root {
        Some(r) => format!("the upstream of {} {}", e(&label_of(input, r)), code(r)),
        None => "every artifact and run in the store".to_string(),
    };
    let (artifacts, runs) = input.scope_counts();
    let _ = writeln!(
        s,
        "<div>Scope: {scope} — {artifacts} artifacts, {runs} runs</div>"
    );
    let _ = writeln!(
        s,
        "<div>Generated {} by mlprov {}</div>",
        e(&input
            .generated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        e(super::VERSION)
    );
    if let Some(t) = input.view.as_of {
        let _ = writeln!(
            s,
            "<div>As of {}</div>",
            e(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        );
    }
    let trust = serde_json::to_value(input.audit.trust)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match &input.audit.policy {
        Some(p) => {
            let _ = writeln!(s, "<div>Policy {} · trust {}</div>", code(p), e(&trust));
        }
        None => {
            let _ = writeln!(
                s,
                "<div>Built-in policy defaults · trust {}</div>",
                e(&trust)
            );
        }
    }
    s.push_str("</div>\n</div>\n<div class=\"verdict-box\">\n");
    let _ = writeln!(
        s,
        "<div class=\"verdict {verdict}\">{}</div>",
        e(&verdict.to_uppercase())
    );
    s.push_str("<table class=\"counts\">\n<thead><tr><th>severity</th><th>active</th><th>waived</th></tr></thead>\n<tbody>\n");
    for (sev, active, waived) in counts.rows() {
        let _ = writeln!(
            s,
            "<tr class=\"sev-{sev}\"><td><span class=\"dot\"></span>{sev}</td><td class=\"num-active\">{active}</td><td>{waived}</td></tr>"
        );
    }
    s.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    s.push_str("<nav class=\"toc\"><a href=\"#lineage\">Lineage</a><a href=\"#findings\">Findings</a><a href=\"#artifacts\">Artifacts</a><a href=\"#runs\">Runs</a><a href=\"#waivers\">Waivers</a></nav>\n");

    // Lineage.
    // The picture may be wider than the text: its card breaks out of the column up to the
    // window's width, and the picture shrinks to at most MIN_ZOOM before it scrolls.
    let (svg, width, _) = super::svg::render_sized(input);
    let _ = writeln!(
        s,
        "<section id=\"lineage\">\n<h2>Lineage</h2>\n<div class=\"card figure\" style=\"--fig-w: {}px; --fig-min: {}px\">",
        (width + 14.0).ceil(),
        (width * MIN_ZOOM).ceil()
    );
    s.push_str(&svg);
    s.push_str("</div>\n<p class=\"caption\">Data flows left to right. Red: nodes and edges on the path of an active error or warning, with the finding codes on the target; brown, dashed: waived. Hover a node for its id and licenses.</p>\n</section>\n");

    // Findings.
    let _ = writeln!(
        s,
        "<section id=\"findings\">\n<h2>Findings ({})</h2>",
        findings.len()
    );
    if findings.is_empty() {
        s.push_str("<p>No findings.</p>\n");
    }
    for (i, f) in findings.iter().enumerate() {
        finding_html(&mut s, input, i + 1, f);
    }
    s.push_str("</section>\n");

    // Artifacts.
    let rows = artifact_rows(input);
    let _ = writeln!(
        s,
        "<section id=\"artifacts\">\n<h2>Artifacts ({})</h2>",
        rows.len()
    );
    s.push_str("<div class=\"card table-wrap\">\n<table class=\"data\">\n<thead><tr><th>kind</th><th>name</th><th>id</th><th>size</th><th>license claims (source, confidence)</th><th>distribution</th></tr></thead>\n<tbody>\n");
    for r in &rows {
        let mut name = format!("<strong>{}</strong>", e(&r.name));
        if !r.aliases.is_empty() {
            let _ = write!(
                name,
                "<br><span class=\"extra\">also {}</span>",
                e(&r.aliases.join(", "))
            );
        }
        let claims = if r.claims.is_empty() {
            "<span class=\"extra\">none recorded</span>".to_string()
        } else {
            r.claims
                .iter()
                .map(|c| e(c))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"kind\">{}</td><td>{name}</td><td class=\"id\">{}</td><td>{}</td><td>{claims}</td><td>{}</td></tr>",
            e(&r.kind.replace('_', " ")),
            code(&r.id),
            e(&r.size),
            r.distribution.map(|d| e(d.as_str())).unwrap_or_else(|| "—".into())
        );
    }
    s.push_str("</tbody>\n</table>\n</div>\n</section>\n");

    // Dataset composition: a bar per source.
    let compositions = super::markdown::composition_tables(input);
    if !compositions.is_empty() {
        s.push_str("<section id=\"composition\">\n<h2>Dataset composition</h2>\n");
        for (label, id, column, total, rows) in &compositions {
            let _ = writeln!(
                s,
                "<div class=\"card table-wrap\">\n<p><strong>{}</strong> <span class=\"id\">{}</span> — {} rows by <code>{}</code></p>\n<table class=\"data\">\n<thead><tr><th>source value</th><th>rows</th><th>share</th><th>from</th></tr></thead>\n<tbody>",
                e(label),
                code(id),
                crate::audit::group_digits(*total),
                e(column)
            );
            for r in rows {
                let class = match r.origin.as_str() {
                    "unmapped" => "bar unmapped",
                    "original" => "bar original",
                    _ => "bar",
                };
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"share\"><span class=\"{class}\" style=\"width:{:.2}rem\"></span> {:.1}%</td><td>{}</td></tr>",
                    e(&r.value),
                    crate::audit::group_digits(r.rows),
                    8.0 * r.share,
                    100.0 * r.share,
                    e(&r.origin)
                );
            }
            s.push_str("</tbody>\n</table>\n</div>\n");
        }
        s.push_str("</section>\n");
    }

    // Runs.
    let runs = run_rows(input);
    let _ = writeln!(s, "<section id=\"runs\">\n<h2>Runs ({})</h2>", runs.len());
    s.push_str(
        "<details class=\"section\" open>\n<summary>every run in scope, by start time</summary>\n",
    );
    s.push_str("<div class=\"card table-wrap\">\n<table class=\"data\">\n<thead><tr><th>kind</th><th>name</th><th>id</th><th>status</th><th>started</th><th>inputs (role)</th><th>outputs</th></tr></thead>\n<tbody>\n");
    for r in &runs {
        let _ = writeln!(
            s,
            "<tr><td class=\"kind\">{}</td><td><strong>{}</strong></td><td class=\"id\">{}</td><td>{}</td><td class=\"date\">{}</td><td>{}</td><td>{}</td></tr>",
            e(&r.kind),
            e(&r.name),
            code(&r.id),
            e(&r.status),
            e(&r.started),
            r.inputs.iter().map(|i| e(i)).collect::<Vec<_>>().join("<br>"),
            r.outputs.iter().map(|o| e(o)).collect::<Vec<_>>().join("<br>")
        );
    }
    s.push_str("</tbody>\n</table>\n</div>\n</details>\n</section>\n");

    // Waivers.
    let waivers = waiver_rows(input);
    let _ = writeln!(
        s,
        "<section id=\"waivers\">\n<h2>Waivers ({})</h2>",
        waivers.len()
    );
    if waivers.is_empty() {
        s.push_str("<p>No waivers.</p>\n");
    } else {
        s.push_str("<div class=\"card table-wrap\">\n<table class=\"data\">\n<thead><tr><th>waiver</th><th>state</th><th>code</th><th>model</th><th>license</th><th>target</th><th>reason</th><th>approved by</th><th>expires</th><th>waives here</th></tr></thead>\n<tbody>\n");
        for w in &waivers {
            let opt = |o: &Option<String>| {
                o.as_deref()
                    .map(e)
                    .unwrap_or_else(|| "<span class=\"extra\">any</span>".into())
            };
            let _ = writeln!(
                s,
                "<tr><td class=\"id\">{}</td><td class=\"state {state}\">{state}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"date\">{}</td><td>{}</td></tr>",
                code(&w.id),
                e(&w.code),
                opt(&w.model),
                opt(&w.license),
                opt(&w.target),
                e(&w.reason),
                e(&w.approved_by),
                e(&w.expires),
                w.waives,
                state = w.state
            );
        }
        s.push_str("</tbody>\n</table>\n</div>\n");
    }
    s.push_str("</section>\n");
    let _ = writeln!(
        s,
        "<footer>Made by mlprov {} — a self-contained file: no scripts, no network.</footer>",
        e(super::VERSION)
    );
    s.push_str("</main>\n</body>\n</html>\n");
    Ok(s)
}

fn finding_html(s: &mut String, input: &ExportInput, n: usize, f: &Finding) {
    let (class, word) = match f.status {
        Status::Waived => (
            "waived".to_string(),
            format!("waived {}", f.severity.as_str()),
        ),
        Status::Active => (
            f.severity.as_str().to_string(),
            f.severity.as_str().to_string(),
        ),
    };
    let _ = writeln!(
        s,
        "<details class=\"finding sev-{class}\" id=\"finding-{n}\" data-code=\"{}\" open>",
        e(f.code)
    );
    let _ = writeln!(
        s,
        "<summary><span class=\"head\"><span class=\"label\">{}</span><span class=\"title\">{} {}</span></span><span class=\"message\">{}</span></summary>",
        e(&word),
        code(f.code),
        e(f.name),
        e(&f.message)
    );
    let facts = finding_facts(input, f);
    s.push_str("<div class=\"body\">\n<dl class=\"facts\">\n");
    if let Some((label, id)) = &facts.run {
        let _ = writeln!(s, "<dt>Run</dt><dd>{} {}</dd>", e(label), code(id));
    }
    if let Some((label, id, extra)) = &facts.target {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"extra\">{}</span>", e(extra))
        };
        let _ = writeln!(
            s,
            "<dt>Target</dt><dd><strong>{}</strong> {}{extra}</dd>",
            e(label),
            code(id)
        );
    }
    if let Some((label, id, extra)) = &facts.model {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"extra\">— {}</span>", e(extra))
        };
        let _ = writeln!(
            s,
            "<dt>Model</dt><dd><strong>{}</strong> {}{extra}</dd>",
            e(label),
            code(id)
        );
    }
    if let Some(l) = &facts.license {
        let _ = writeln!(s, "<dt>License</dt><dd>{}</dd>", e(l));
    }
    if let Some(c) = &facts.clarification {
        let _ = writeln!(s, "<dt>Policy clarification</dt><dd>{}</dd>", e(c));
    }
    if let Some((heading, body, verbatim, source)) = &facts.clause {
        let class = if *verbatim { "quote" } else { "quote summary" };
        let _ = writeln!(
            s,
            "<dt>Deciding clause</dt><dd>{}<blockquote class=\"{class}\">{}</blockquote><div class=\"source\">source: {}</div></dd>",
            e(heading),
            e(body).replace('\n', "<br>"),
            e(source)
        );
    }
    if !facts.disagreeing.is_empty() {
        s.push_str("<dt>Disagreeing claims</dt><dd><ul>");
        for d in &facts.disagreeing {
            let _ = write!(s, "<li>{}</li>", e(d));
        }
        s.push_str("</ul></dd>\n");
    }
    if !facts.conditions.is_empty() {
        s.push_str("<dt>Conditions</dt><dd><ul>");
        for c in &facts.conditions {
            let _ = write!(s, "<li>{}</li>", e(c));
        }
        s.push_str("</ul></dd>\n");
    }
    if !facts.path.is_empty() {
        s.push_str("<dt>Path</dt><dd><ol class=\"path\">");
        let last = facts.path.len() - 1;
        for (i, (kind, label, is_run, role)) in facts.path.iter().enumerate() {
            let cls = if *is_run { "step run" } else { "step artifact" };
            let label = if *is_run {
                short_run_name(kind, label)
            } else {
                label.clone()
            };
            let _ = write!(
                s,
                "<li><span class=\"{cls}\"><span class=\"kind\">{}</span>{}</span>",
                e(&kind.replace('_', " ")),
                e(&label)
            );
            if i < last {
                match role {
                    Some(r) => {
                        let _ = write!(s, "<span class=\"arrow\">—{}→</span>", e(r));
                    }
                    None => s.push_str("<span class=\"arrow\">→</span>"),
                }
            }
            s.push_str("</li>");
        }
        s.push_str("</ol></dd>\n");
    }
    if let Some(w) = &facts.waiver {
        let _ = writeln!(s, "<dt>Waiver</dt><dd>{}</dd>", code(w));
    }
    if !facts.notes.is_empty() {
        s.push_str("<dt>Notes</dt><dd><ul>");
        for note in &facts.notes {
            let _ = write!(s, "<li>{}</li>", e(note));
        }
        s.push_str("</ul></dd>\n");
    }
    s.push_str("</dl>\n</div>\n</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_escape() {
        assert_eq!(code("<x>"), "<code>&lt;x&gt;</code>");
        assert_eq!(e("a & \"b\""), "a &amp; &quot;b&quot;");
    }

    #[test]
    fn stylesheet_loads_nothing() {
        assert!(!CSS.contains("url("));
        assert!(!CSS.contains("@import"));
    }
}
