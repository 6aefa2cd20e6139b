//! Bulk import of records from JSON Lines (`schemas/record.v1.schema.json`, one record a
//! line). The whole file is checked before anything is written: a bad line is reported with
//! its number and nothing from the file lands in the store.

use std::io::BufRead;
use std::path::Path;

use crate::error::{Error, Result};
use crate::records::{id, Batch, Record, StoredRecord};
use crate::store::{AppendReceipt, Store};

fn check_id(value: &str, field: &str) -> std::result::Result<(), String> {
    if id::is_valid(value) && !value.starts_with(id::RUN) {
        Ok(())
    } else {
        Err(format!("{field} '{value}' is not an artifact id (blake3:<hex>, blake3tree:<hex> or model:vendor/name@revision#channel)"))
    }
}

fn check(record: &Record) -> std::result::Result<(), String> {
    match record {
        Record::Artifact(a) => check_id(&a.artifact_id, "artifact_id"),
        Record::LicenseClaim(c) => check_id(&c.artifact_id, "artifact_id"),
        Record::Release(r) => check_id(&r.artifact_id, "artifact_id"),
        Record::Waiver(w) => {
            if !(w.waiver_id.starts_with(id::WAIVER) && id::is_valid(&w.waiver_id)) {
                return Err(format!("waiver_id '{}' is not waiver:<uuid>", w.waiver_id));
            }
            if w.model.is_none() && w.license.is_none() {
                return Err("a waiver names the restricted model, its license, or both".into());
            }
            w.model
                .iter()
                .chain(w.target.iter())
                .try_for_each(|a| check_id(a, "model/target"))
        }
        Record::Run(r) => {
            if !(r.run_id.starts_with(id::RUN) && id::is_valid(&r.run_id)) {
                return Err(format!("run_id '{}' is not run:<uuid>", r.run_id));
            }
            r.inputs
                .iter()
                .try_for_each(|i| check_id(&i.artifact_id, "inputs[].artifact_id"))?;
            r.outputs.iter().try_for_each(|o| check_id(o, "outputs[]"))
        }
    }
}

fn seal_checked<T: StoredRecord>(r: &mut T) -> std::result::Result<(), String> {
    let given = r.record_id().to_string();
    r.seal();
    if !given.is_empty() && given != r.record_id() {
        return Err(format!(
            "record_id {given} does not match the record's content ({}); leave record_id out to have it computed",
            r.record_id()
        ));
    }
    Ok(())
}

/// Parse and check a JSON Lines file of records.
pub fn read_records(path: &Path) -> Result<Batch> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "opening", e))?;
    let name = path.display().to_string();
    let mut batch = Batch::default();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| {
            Error::bad_record(&name, format!("line {}", n + 1), format!("unreadable: {e}"))
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", n + 1);
        let mut record: Record = serde_json::from_str(&line)
            .map_err(|e| Error::bad_record(&name, at(), e.to_string()))?;
        check(&record).map_err(|e| Error::bad_record(&name, at(), e))?;
        let sealed = match &mut record {
            Record::Artifact(r) => seal_checked(r),
            Record::Run(r) => seal_checked(r),
            Record::Release(r) => seal_checked(r),
            Record::LicenseClaim(r) => seal_checked(r),
            Record::Waiver(r) => seal_checked(r),
        };
        sealed.map_err(|e| Error::bad_record(&name, at(), e))?;
        batch.push(record);
    }
    Ok(batch)
}

pub fn import(store: &Store, path: &Path) -> Result<AppendReceipt> {
    let batch = read_records(path)?;
    store.append(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_named_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        let good = format!(
            r#"{{"type":"artifact","artifact_id":"blake3:{}","kind":"dataset","recorded_at":"2026-01-01T00:00:00Z","recorded_by":"a@b"}}"#,
            "a".repeat(64)
        );
        let file = dir.path().join("in.jsonl");
        std::fs::write(
            &file,
            format!("{good}\n{{\"type\":\"artifact\",\"kind\":\"dataset\"}}\n"),
        )
        .unwrap();
        let err = import(&store, &file).unwrap_err().to_string();
        assert!(err.contains("in.jsonl") && err.contains("line 2"), "{err}");
        assert_eq!(store.load().unwrap().record_count(), 0);

        std::fs::write(&file, format!("{good}\n\n")).unwrap();
        assert_eq!(import(&store, &file).unwrap().records, 1);

        let bad_id = good.replace("blake3:", "sha256:");
        std::fs::write(&file, bad_id).unwrap();
        assert!(import(&store, &file)
            .unwrap_err()
            .to_string()
            .contains("not an artifact id"));
    }
}
