//! Parquet export for analysis: every store table (de-duplicated, as of the export) and the
//! audit's findings, one file each, readable by polars, DuckDB, Spark. The record tables keep
//! the store's own schemas (docs/store.md); findings are flattened (docs/reports.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::audit::Finding;
use crate::error::{Error, Result};
use crate::store::segment::{self, Table};
use crate::store::Snapshot;

/// Files written, in order.
pub const FILES: [&str; 6] = [
    "artifacts.parquet",
    "license_claims.parquet",
    "runs.parquet",
    "releases.parquet",
    "waivers.parquet",
    "findings.parquet",
];

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, "writing export", e))
}

fn table<T: Table>(dir: &Path, name: &str, records: &[T]) -> Result<PathBuf> {
    let path = dir.join(name);
    write(&path, &segment::encode(records))?;
    Ok(path)
}

fn opt<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

/// The findings as one flat table.
pub fn findings_parquet(findings: &[Finding]) -> Vec<u8> {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let schema = Arc::new(Schema::new(vec![
        text("code", false),
        text("name", false),
        text("severity", false),
        text("status", false),
        text("message", false),
        text("run", true),
        text("target", true),
        text("target_label", true),
        text("target_distribution", true),
        text("model", true),
        text("model_label", true),
        text("license_id", true),
        text("claim_class", true),
        text("claim_source", true),
        text("claim_confidence", true),
        text("waiver", true),
        Field::new("path", DataType::List(Arc::new(text("item", false))), false),
    ]));
    let owned: Vec<[Option<String>; 16]> = findings
        .iter()
        .map(|f| {
            [
                Some(f.code.to_string()),
                Some(f.name.to_string()),
                Some(f.severity.as_str().to_string()),
                Some(
                    serde_json::to_value(f.status)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                ),
                Some(f.message.clone()),
                f.run.clone(),
                f.target.clone(),
                f.target_label.clone(),
                f.target_distribution.map(|d| d.as_str().to_string()),
                f.model.clone(),
                f.model_label.clone(),
                f.license.as_ref().map(|l| l.id.clone()),
                f.claim.as_ref().map(|c| c.class.as_str().to_string()),
                f.claim.as_ref().map(|c| c.source.clone()),
                f.claim.as_ref().map(|c| c.confidence.as_str().to_string()),
                f.waiver.clone(),
            ]
        })
        .collect();
    let mut columns: Vec<ArrayRef> = (0..16)
        .map(|i| opt(owned.iter().map(|row| row[i].as_deref())))
        .collect();
    let mut path = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(text("item", false)));
    for f in findings {
        for step in &f.path {
            path.values().append_value(&step.id);
        }
        path.append(true);
    }
    columns.push(Arc::new(path.finish()));
    let batch =
        RecordBatch::try_new(schema.clone(), columns).expect("columns match the findings schema");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).expect("valid schema");
    writer.write(&batch).expect("in-memory write");
    writer.close().expect("in-memory write");
    out
}

/// Write every table and the findings into `dir` (created if needed); returns the files.
pub fn export(snapshot: &Snapshot, findings: &[Finding], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating export folder", e))?;
    let mut written = vec![
        table(dir, FILES[0], &snapshot.artifacts)?,
        table(dir, FILES[1], &snapshot.license_claims)?,
        table(dir, FILES[2], &snapshot.runs)?,
        table(dir, FILES[3], &snapshot.releases)?,
        table(dir, FILES[4], &snapshot.waivers)?,
    ];
    let findings_path = dir.join(FILES[5]);
    write(&findings_path, &findings_parquet(findings))?;
    written.push(findings_path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_and_findings_are_flat() {
        let dir = tempfile::tempdir().unwrap();
        let built = crate::demo::build(&dir.path().join("demo")).unwrap();
        let snapshot = built.store.load().unwrap();
        let view = crate::view::View::build(&snapshot, None);
        let policy = crate::policy::Policy::locate(None, &built.project).unwrap();
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let report = crate::audit::audit(&view, &catalog, &policy, &Default::default());
        let out = dir.path().join("export");
        let files = export(&snapshot, &report.findings, &out).unwrap();
        assert_eq!(files.len(), FILES.len());
        let runs: Vec<crate::records::RunRecord> = segment::decode(bytes::Bytes::from(
            std::fs::read(out.join("runs.parquet")).unwrap(),
        ))
        .unwrap();
        assert_eq!(runs.len(), snapshot.runs.len());
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(std::fs::read(out.join("findings.parquet")).unwrap()),
        )
        .unwrap()
        .build()
        .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, report.findings.len());
    }
}
