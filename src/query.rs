//! `mlprov query "SQL"`: SQL over the store with polars.
//!
//! The tables are the store's records as the view merges them (de-duplicated, as of a moment),
//! flattened for SQL, plus the audit's findings and the recorded row compositions. Their
//! columns are documented in docs/reports.md ("Query"); `mlprov query --tables` lists them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use polars::sql::SQLContext;

use crate::audit::AuditReport;
use crate::error::{Error, Result};
use crate::view::View;

/// One flat table for SQL, as named columns.
struct TableBuilder {
    height: usize,
    columns: Vec<Column>,
}

impl TableBuilder {
    fn new(height: usize) -> Self {
        TableBuilder {
            height,
            columns: Vec::new(),
        }
    }
    fn text<'a>(mut self, name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Self {
        let v: Vec<Option<&str>> = values.collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn owned(mut self, name: &str, values: impl Iterator<Item = Option<String>>) -> Self {
        let v: Vec<Option<String>> = values.collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn count(mut self, name: &str, values: impl Iterator<Item = Option<u64>>) -> Self {
        let v: Vec<Option<u64>> = values.collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn real(mut self, name: &str, values: impl Iterator<Item = Option<f64>>) -> Self {
        let v: Vec<Option<f64>> = values.collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn flag(mut self, name: &str, values: impl Iterator<Item = bool>) -> Self {
        let v: Vec<bool> = values.collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn time(mut self, name: &str, values: impl Iterator<Item = Option<DateTime<Utc>>>) -> Self {
        let v: Vec<Option<i64>> = values.map(|t| t.map(|t| t.timestamp_micros())).collect();
        let column = Column::new(name.into(), v)
            .cast(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC),
            ))
            .expect("i64 casts to datetime");
        self.columns.push(column);
        self
    }
    fn build(self) -> DataFrame {
        DataFrame::new(self.height, self.columns).expect("columns have the table's height")
    }
}

/// The store's tables for SQL: name → frame.
pub fn tables(view: &View, audit: &AuditReport) -> BTreeMap<&'static str, DataFrame> {
    let mut out = BTreeMap::new();
    let now = view.as_of.unwrap_or_else(Utc::now);

    let arts: Vec<_> = view.artifacts.values().collect();
    out.insert(
        "artifacts",
        TableBuilder::new(arts.len())
            .text("artifact_id", arts.iter().map(|a| Some(a.id.as_str())))
            .text("kind", arts.iter().map(|a| Some(a.kind.as_str())))
            .owned("name", arts.iter().map(|a| a.names.iter().next().cloned()))
            .owned(
                "names",
                arts.iter()
                    .map(|a| Some(a.names.iter().cloned().collect::<Vec<_>>().join("; "))),
            )
            .count("size_bytes", arts.iter().map(|a| a.size_bytes))
            .count("file_count", arts.iter().map(|a| a.file_count))
            .text("vendor", arts.iter().map(|a| a.vendor.as_deref()))
            .text("model", arts.iter().map(|a| a.model.as_deref()))
            .text("revision", arts.iter().map(|a| a.revision.as_deref()))
            .text(
                "channel",
                arts.iter().map(|a| a.channel.map(|c| c.as_str())),
            )
            .text(
                "purpose",
                arts.iter().map(|a| a.purpose.map(|p| p.as_str())),
            )
            .text(
                "distribution",
                arts.iter().map(|a| Some(a.distribution_at(now).as_str())),
            )
            .count(
                "composition_rows",
                arts.iter().map(|a| a.composition.as_ref().map(|c| c.rows)),
            )
            .owned(
                "location",
                arts.iter().map(|a| a.locations.iter().next().cloned()),
            )
            .time(
                "first_recorded_at",
                arts.iter().map(|a| Some(a.first_recorded_at)),
            )
            .build(),
    );

    let claims: Vec<_> = arts.iter().flat_map(|a| a.license_claims.iter()).collect();
    out.insert(
        "license_claims",
        TableBuilder::new(claims.len())
            .text(
                "artifact_id",
                claims.iter().map(|c| Some(c.artifact_id.as_str())),
            )
            .text(
                "license_id",
                claims.iter().map(|c| Some(c.license_id.as_str())),
            )
            .text(
                "license_version",
                claims.iter().map(|c| c.license_version.as_deref()),
            )
            .text("source", claims.iter().map(|c| Some(c.source.as_str())))
            .text(
                "confidence",
                claims.iter().map(|c| Some(c.confidence.as_str())),
            )
            .text(
                "evidence_digest",
                claims.iter().map(|c| c.evidence_digest.as_deref()),
            )
            .text(
                "evidence_path",
                claims.iter().map(|c| c.evidence_path.as_deref()),
            )
            .time("recorded_at", claims.iter().map(|c| Some(c.recorded_at)))
            .build(),
    );

    let runs: Vec<_> = view.runs.values().collect();
    out.insert(
        "runs",
        TableBuilder::new(runs.len())
            .text("run_id", runs.iter().map(|r| Some(r.id.as_str())))
            .text("kind", runs.iter().map(|r| Some(r.kind.as_str())))
            .text("name", runs.iter().map(|r| r.name.as_deref()))
            .text("status", runs.iter().map(|r| Some(r.status.as_str())))
            .time("started_at", runs.iter().map(|r| r.started_at))
            .time("ended_at", runs.iter().map(|r| r.ended_at))
            .time(
                "first_recorded_at",
                runs.iter().map(|r| Some(r.first_recorded_at)),
            )
            .build(),
    );
    let inputs: Vec<_> = runs
        .iter()
        .flat_map(|r| r.inputs.iter().map(move |i| (r.id.as_str(), i)))
        .collect();
    out.insert(
        "run_inputs",
        TableBuilder::new(inputs.len())
            .text("run_id", inputs.iter().map(|(r, _)| Some(*r)))
            .text(
                "artifact_id",
                inputs.iter().map(|(_, i)| Some(i.artifact_id.as_str())),
            )
            .text("role", inputs.iter().map(|(_, i)| Some(i.role.as_str())))
            .build(),
    );
    let outputs: Vec<_> = runs
        .iter()
        .flat_map(|r| r.outputs.iter().map(move |o| (r.id.as_str(), o.as_str())))
        .collect();
    out.insert(
        "run_outputs",
        TableBuilder::new(outputs.len())
            .text("run_id", outputs.iter().map(|(r, _)| Some(*r)))
            .text("artifact_id", outputs.iter().map(|(_, o)| Some(*o)))
            .build(),
    );

    let releases: Vec<_> = arts.iter().flat_map(|a| a.releases.iter()).collect();
    out.insert(
        "releases",
        TableBuilder::new(releases.len())
            .text(
                "artifact_id",
                releases.iter().map(|r| Some(r.artifact_id.as_str())),
            )
            .text(
                "distribution",
                releases.iter().map(|r| Some(r.distribution.as_str())),
            )
            .time(
                "effective_at",
                releases.iter().map(|r| Some(r.effective_at)),
            )
            .text("note", releases.iter().map(|r| r.note.as_deref()))
            .build(),
    );

    let waivers: Vec<_> = view.waivers.values().collect();
    out.insert(
        "waivers",
        TableBuilder::new(waivers.len())
            .text(
                "waiver_id",
                waivers.iter().map(|w| Some(w.waiver_id.as_str())),
            )
            .text("code", waivers.iter().map(|w| Some(w.code.as_str())))
            .text("model", waivers.iter().map(|w| w.model.as_deref()))
            .text("license", waivers.iter().map(|w| w.license.as_deref()))
            .text("target", waivers.iter().map(|w| w.target.as_deref()))
            .text("reason", waivers.iter().map(|w| Some(w.reason.as_str())))
            .text(
                "approved_by",
                waivers.iter().map(|w| Some(w.approved_by.as_str())),
            )
            .time("expires_at", waivers.iter().map(|w| Some(w.expires_at)))
            .flag("revoked", waivers.iter().map(|w| w.revoked))
            .build(),
    );

    let f = &audit.findings;
    out.insert(
        "findings",
        TableBuilder::new(f.len())
            .text("code", f.iter().map(|f| Some(f.code)))
            .text("name", f.iter().map(|f| Some(f.name)))
            .text("severity", f.iter().map(|f| Some(f.severity.as_str())))
            .owned(
                "status",
                f.iter().map(|f| {
                    Some(
                        match f.status {
                            crate::audit::Status::Active => "active",
                            crate::audit::Status::Waived => "waived",
                        }
                        .to_string(),
                    )
                }),
            )
            .text("message", f.iter().map(|f| Some(f.message.as_str())))
            .text("run", f.iter().map(|f| f.run.as_deref()))
            .text("target", f.iter().map(|f| f.target.as_deref()))
            .text("target_label", f.iter().map(|f| f.target_label.as_deref()))
            .text(
                "target_distribution",
                f.iter().map(|f| f.target_distribution.map(|d| d.as_str())),
            )
            .text("model", f.iter().map(|f| f.model.as_deref()))
            .text("model_label", f.iter().map(|f| f.model_label.as_deref()))
            .text(
                "license",
                f.iter().map(|f| f.license.as_ref().map(|l| l.id.as_str())),
            )
            .text(
                "dataset",
                f.iter()
                    .map(|f| f.rows.as_ref().map(|r| r.dataset.as_str())),
            )
            .count("rows", f.iter().map(|f| f.rows.as_ref().map(|r| r.rows)))
            .count(
                "total_rows",
                f.iter().map(|f| f.rows.as_ref().map(|r| r.total_rows)),
            )
            .real("share", f.iter().map(|f| f.rows.as_ref().map(|r| r.share)))
            .text("waiver", f.iter().map(|f| f.waiver.as_deref()))
            .build(),
    );

    let groups: Vec<_> = arts
        .iter()
        .filter_map(|a| a.composition.as_ref().map(|c| (a, c)))
        .flat_map(|(a, c)| c.groups.iter().map(move |g| (a, c, g)))
        .collect();
    out.insert(
        "composition",
        TableBuilder::new(groups.len())
            .text(
                "dataset_id",
                groups.iter().map(|(a, _, _)| Some(a.id.as_str())),
            )
            .text(
                "source_column",
                groups.iter().map(|(_, c, _)| Some(c.column.as_str())),
            )
            .text("value", groups.iter().map(|(_, _, g)| g.value.as_deref()))
            .count("rows", groups.iter().map(|(_, _, g)| Some(g.rows)))
            .count("dataset_rows", groups.iter().map(|(_, c, _)| Some(c.rows)))
            .real(
                "share",
                groups.iter().map(|(_, c, g)| {
                    Some(if c.rows == 0 {
                        0.0
                    } else {
                        g.rows as f64 / c.rows as f64
                    })
                }),
            )
            .text("source", groups.iter().map(|(_, _, g)| g.source.as_deref()))
            .flag("mapped", groups.iter().map(|(_, _, g)| g.mapped))
            .text(
                "digest",
                groups.iter().map(|(_, _, g)| Some(g.digest.as_str())),
            )
            .build(),
    );
    out
}

/// Column names and types of every table, for `--tables` and the docs.
pub fn describe_tables(tables: &BTreeMap<&'static str, DataFrame>) -> String {
    let mut out = String::new();
    for (name, df) in tables {
        out.push_str(&format!("{name} ({} rows)\n", df.height()));
        for (col, dtype) in df.schema().iter() {
            out.push_str(&format!("  {col}: {dtype}\n"));
        }
    }
    out
}

/// Runs `sql` over the tables.
pub fn run(sql: &str, tables: BTreeMap<&'static str, DataFrame>) -> Result<DataFrame> {
    let mut ctx = SQLContext::new();
    let names: Vec<&str> = tables.keys().copied().collect();
    for (name, df) in tables {
        ctx.register(name, df.lazy());
    }
    ctx.execute(sql).and_then(|lf| lf.collect()).map_err(|e| {
        Error::usage(format!(
            "query failed: {e}\n  hint: tables are {}; `mlprov query --tables` lists their columns",
            names.join(", ")
        ))
    })
}

/// A result frame as JSON rows (objects keyed by column name).
pub fn to_json_rows(df: &DataFrame) -> serde_json::Value {
    let columns = df.columns();
    let rows: Vec<serde_json::Value> = (0..df.height())
        .map(|i| {
            let mut row = serde_json::Map::new();
            for c in columns {
                let v = c.get(i).map(any_to_json).unwrap_or(serde_json::Value::Null);
                row.insert(c.name().to_string(), v);
            }
            serde_json::Value::Object(row)
        })
        .collect();
    serde_json::Value::Array(rows)
}

fn any_to_json(v: AnyValue<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        AnyValue::Null => J::Null,
        AnyValue::Boolean(b) => J::Bool(b),
        AnyValue::String(s) => J::String(s.to_string()),
        AnyValue::StringOwned(s) => J::String(s.to_string()),
        AnyValue::UInt8(x) => x.into(),
        AnyValue::UInt16(x) => x.into(),
        AnyValue::UInt32(x) => x.into(),
        AnyValue::UInt64(x) => x.into(),
        AnyValue::Int8(x) => x.into(),
        AnyValue::Int16(x) => x.into(),
        AnyValue::Int32(x) => x.into(),
        AnyValue::Int64(x) => x.into(),
        AnyValue::Float32(x) => serde_json::Number::from_f64(x as f64)
            .map(J::Number)
            .unwrap_or(J::Null),
        AnyValue::Float64(x) => serde_json::Number::from_f64(x)
            .map(J::Number)
            .unwrap_or(J::Null),
        other => {
            // Dates and times print as ISO 8601; anything else as polars shows it.
            let text = format!("{other}");
            J::String(text.trim_matches('"').to_string())
        }
    }
}

/// CSV text of a result frame (RFC 4180 quoting).
pub fn to_csv(df: &DataFrame) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let columns = df.columns();
    let mut out = columns
        .iter()
        .map(|c| quote(c.name()))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for i in 0..df.height() {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match c.get(i).map(any_to_json) {
                Ok(serde_json::Value::Null) | Err(_) => String::new(),
                Ok(serde_json::Value::String(s)) => quote(&s),
                Ok(v) => quote(&v.to_string()),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}
