//! Findings for people: one block per finding, like cargo-deny, with the path and the clause.

use std::fmt::Write;

use super::{AuditReport, Finding, Status};
use crate::policy::Severity;
use crate::view::short_id;

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn label(f: &Finding, colour: bool) -> String {
    let (word, code) = match (f.status, f.severity) {
        (Status::Waived, _) => ("waived", "1;36"),
        (_, Severity::Error) => ("error", "1;31"),
        (_, Severity::Warning) => ("warning", "1;33"),
        (_, Severity::Note) => ("note", "1;34"),
        (_, Severity::Allow) => ("allow", "0"),
    };
    paint(&format!("{word}[{}]", f.code), code, colour)
}

pub fn finding_text(f: &Finding, colour: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} {}: {}", label(f, colour), f.name, f.message);
    if let Some(run) = &f.run {
        let _ = writeln!(s, "  ┌─ run {run}");
    }
    if let Some(t) = &f.target {
        let dist = f
            .target_distribution
            .map(|d| format!(" [{d}]"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  │  target: {} ({}){dist}",
            f.target_label.as_deref().unwrap_or(""),
            short_id(t)
        );
    }
    if let Some(m) = &f.model {
        let channel = f
            .channel
            .map(|c| format!(", {c} channel"))
            .unwrap_or_default();
        let via = f
            .via
            .map(|v| format!("; its {} reached this run", v.as_str()))
            .unwrap_or_default();
        let when = f
            .generated_at
            .map(|t| format!(" (generated {})", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  │  model: {} ({}{channel}){via}{when}",
            f.model_label.as_deref().unwrap_or(""),
            short_id(m)
        );
    }
    if let Some(l) = &f.license {
        let version = l
            .version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  │  license: {}{version} [{}] — {}",
            l.name, l.id, l.basis
        );
    }
    if let Some(c) = &f.clarification {
        let by = c
            .approved_by
            .as_deref()
            .map(|a| format!(", approved by {a}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  │  policy clarification: read as {}{by}: {}",
            c.class.as_str(),
            c.reason
        );
    }
    if let Some(c) = &f.claim {
        let clause = c
            .clause
            .as_deref()
            .map(|c| format!("clause {c}: "))
            .unwrap_or_default();
        match &c.quote {
            Some(q) => {
                let _ = writeln!(s, "  │  {clause}\"{q}\"");
            }
            None => {
                let _ = writeln!(s, "  │  {clause}{}", c.summary);
            }
        }
        let _ = writeln!(
            s,
            "  │  source: {} ({}, read {})",
            c.source, c.confidence, c.read
        );
    }
    for d in &f.disagreeing_claims {
        let _ = writeln!(
            s,
            "  │  disagreeing claim: {} — {} ({}, {})",
            d.class.as_str(),
            d.summary,
            d.confidence,
            d.source
        );
    }
    for c in &f.conditions {
        let _ = writeln!(s, "  │  condition: {c}");
    }
    if !f.path.is_empty() {
        let mut line = String::new();
        for (i, step) in f.path.iter().enumerate() {
            if i > 0 {
                line.push_str(" → ");
            }
            if step.node_type == "run" {
                let _ = write!(line, "{} run \"{}\"", step.kind, step.label);
            } else {
                let _ = write!(line, "{} {}", step.kind, step.label);
            }
            if let Some(r) = step.role {
                let _ = write!(line, " ─[{r}]");
            }
        }
        let _ = writeln!(s, "  │  path: {line}");
    }
    if let Some(w) = &f.waiver {
        let _ = writeln!(s, "  │  waiver: {w}");
    }
    for n in &f.notes {
        let _ = writeln!(s, "  = {n}");
    }
    s
}

pub fn report_text(r: &AuditReport, colour: bool) -> String {
    let mut s = String::new();
    for f in &r.findings {
        s.push_str(&finding_text(f, colour));
        s.push('\n');
    }
    let verdict = match r.verdict {
        "fail" => paint("FAIL", "1;31", colour),
        "warn" => paint("WARN", "1;33", colour),
        _ => paint("PASS", "1;32", colour),
    };
    let _ = writeln!(
        s,
        "audit {verdict}: {} errors, {} warnings, {} notes, {} waived — {} training runs, {} target checkpoints evaluated{}",
        r.summary.errors,
        r.summary.warnings,
        r.summary.notes,
        r.summary.waived,
        r.summary.runs_evaluated,
        r.summary.targets,
        r.as_of.map(|t| format!(" as of {}", t.to_rfc3339())).unwrap_or_default()
    );
    s
}
