//! Parquet encoding of the record tables. One segment file holds records of one table; its
//! columns are documented in docs/store.md and read by name, so later versions may add
//! nullable columns without breaking older segments.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, ListBuilder, StringBuilder, StructBuilder, UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::records::{
    ArtifactRecord, Composition, LicenseClaimRecord, ReleaseRecord, RunInput, RunRecord,
    SourceGroup, StoredRecord, WaiverRecord, RECORD_SCHEMA_VERSION,
};

/// Key-value metadata written into every segment's footer.
pub const META_TABLE: &str = "mlprov.table";
pub const META_VERSION: &str = "mlprov.record_schema_version";

/// Why a segment could not be decoded (the caller adds the file name).
pub type DecodeError = String;

/// A record kind that can be stored as a Parquet table.
pub trait Table: StoredRecord + Sized + Send {
    fn schema() -> SchemaRef;
    fn to_batch(records: &[Self]) -> RecordBatch;
    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, DecodeError>;
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, ts_type(), nullable)
}

fn schema_of(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

fn str_col<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn ts_col(values: impl Iterator<Item = Option<DateTime<Utc>>>) -> ArrayRef {
    Arc::new(
        values
            .map(|t| t.map(|t| t.timestamp_micros()))
            .collect::<TimestampMicrosecondArray>()
            .with_timezone("UTC"),
    )
}

fn u64_col(values: impl Iterator<Item = Option<u64>>) -> ArrayRef {
    Arc::new(values.collect::<UInt64Array>())
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema, columns).expect("columns match the table schema")
}

/// Typed access to a decoded batch's columns, by name.
struct Columns<'a>(&'a RecordBatch);

impl<'a> Columns<'a> {
    fn get(&self, name: &str) -> Option<&'a ArrayRef> {
        self.0.column_by_name(name)
    }
    fn required(&self, name: &str) -> Result<&'a ArrayRef, DecodeError> {
        self.get(name)
            .ok_or_else(|| format!("column '{name}' is missing"))
    }
    fn strings(&self, name: &str) -> Result<Option<&'a StringArray>, DecodeError> {
        self.get(name)
            .map(|c| {
                c.as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| format!("column '{name}' is not UTF-8 text"))
            })
            .transpose()
    }
    fn req_strings(&self, name: &str) -> Result<&'a StringArray, DecodeError> {
        self.required(name)?;
        Ok(self.strings(name)?.expect("checked present"))
    }
    fn times(&self, name: &str) -> Result<Option<&'a TimestampMicrosecondArray>, DecodeError> {
        self.get(name)
            .map(|c| {
                c.as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .ok_or_else(|| format!("column '{name}' is not a microsecond timestamp"))
            })
            .transpose()
    }
    fn req_times(&self, name: &str) -> Result<&'a TimestampMicrosecondArray, DecodeError> {
        self.required(name)?;
        Ok(self.times(name)?.expect("checked present"))
    }
    fn u64s(&self, name: &str) -> Result<Option<&'a UInt64Array>, DecodeError> {
        self.get(name)
            .map(|c| {
                c.as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| format!("column '{name}' is not uint64"))
            })
            .transpose()
    }
    fn lists(&self, name: &str) -> Result<Option<&'a ListArray>, DecodeError> {
        self.get(name)
            .map(|c| {
                c.as_any()
                    .downcast_ref::<ListArray>()
                    .ok_or_else(|| format!("column '{name}' is not a list"))
            })
            .transpose()
    }
}

fn req_str(col: &StringArray, row: usize, name: &str) -> Result<String, DecodeError> {
    if col.is_null(row) {
        return Err(format!("row {row}: required column '{name}' is null"));
    }
    Ok(col.value(row).to_string())
}

fn opt_str(col: Option<&StringArray>, row: usize) -> Option<String> {
    col.filter(|c| !c.is_null(row))
        .map(|c| c.value(row).to_string())
}

fn opt_u64(col: Option<&UInt64Array>, row: usize) -> Option<u64> {
    col.filter(|c| !c.is_null(row)).map(|c| c.value(row))
}

fn micros(v: i64, row: usize) -> Result<DateTime<Utc>, DecodeError> {
    Utc.timestamp_micros(v)
        .single()
        .ok_or_else(|| format!("row {row}: timestamp {v} is out of range"))
}

fn req_time(
    col: &TimestampMicrosecondArray,
    row: usize,
    name: &str,
) -> Result<DateTime<Utc>, DecodeError> {
    if col.is_null(row) {
        return Err(format!("row {row}: required column '{name}' is null"));
    }
    micros(col.value(row), row)
}

fn opt_time(
    col: Option<&TimestampMicrosecondArray>,
    row: usize,
) -> Result<Option<DateTime<Utc>>, DecodeError> {
    match col.filter(|c| !c.is_null(row)) {
        Some(c) => micros(c.value(row), row).map(Some),
        None => Ok(None),
    }
}

fn parse_enum<T: std::str::FromStr>(
    value: String,
    row: usize,
    name: &str,
) -> Result<T, DecodeError> {
    value
        .parse()
        .map_err(|_| format!("row {row}: column '{name}' has unknown value '{value}'"))
}

/// A required enumeration, parsed from the column's text in place.
fn req_enum<T: std::str::FromStr>(
    col: &StringArray,
    row: usize,
    name: &str,
) -> Result<T, DecodeError> {
    if col.is_null(row) {
        return Err(format!("row {row}: required column '{name}' is null"));
    }
    let value = col.value(row);
    value
        .parse()
        .map_err(|_| format!("row {row}: column '{name}' has unknown value '{value}'"))
}

impl Table for ArtifactRecord {
    fn schema() -> SchemaRef {
        schema_of(vec![
            utf8("record_id", false),
            utf8("artifact_id", false),
            utf8("kind", false),
            Field::new("size_bytes", DataType::UInt64, true),
            Field::new("file_count", DataType::UInt64, true),
            utf8("name", true),
            utf8("location", true),
            utf8("vendor", true),
            utf8("model", true),
            utf8("revision", true),
            utf8("channel", true),
            utf8("purpose", true),
            ts("recorded_at", false),
            utf8("recorded_by", false),
            utf8("composition_column", true),
            Field::new("composition_rows", DataType::UInt64, true),
            utf8("composition_digest_algorithm", true),
            Field::new(
                "composition_groups",
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(group_fields()),
                    false,
                ))),
                true,
            ),
        ])
    }

    fn to_batch(rs: &[Self]) -> RecordBatch {
        fn comp(r: &ArtifactRecord) -> Option<&Composition> {
            r.composition.as_ref()
        }
        batch(
            Self::schema(),
            vec![
                str_col(rs.iter().map(|r| Some(r.record_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.artifact_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.kind.as_str()))),
                u64_col(rs.iter().map(|r| r.size_bytes)),
                u64_col(rs.iter().map(|r| r.file_count)),
                str_col(rs.iter().map(|r| r.name.as_deref())),
                str_col(rs.iter().map(|r| r.location.as_deref())),
                str_col(rs.iter().map(|r| r.vendor.as_deref())),
                str_col(rs.iter().map(|r| r.model.as_deref())),
                str_col(rs.iter().map(|r| r.revision.as_deref())),
                str_col(rs.iter().map(|r| r.channel.map(|c| c.as_str()))),
                str_col(rs.iter().map(|r| r.purpose.map(|p| p.as_str()))),
                ts_col(rs.iter().map(|r| Some(r.recorded_at))),
                str_col(rs.iter().map(|r| Some(r.recorded_by.as_str()))),
                str_col(rs.iter().map(|r| comp(r).map(|c| c.column.as_str()))),
                u64_col(rs.iter().map(|r| comp(r).map(|c| c.rows))),
                str_col(
                    rs.iter()
                        .map(|r| comp(r).map(|c| c.digest_algorithm.as_str())),
                ),
                groups_col(rs),
            ],
        )
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<Self>, DecodeError> {
        let c = Columns(b);
        let (comp_col, comp_rows, comp_algo, comp_groups) = (
            c.strings("composition_column")?,
            c.u64s("composition_rows")?,
            c.strings("composition_digest_algorithm")?,
            c.lists("composition_groups")?,
        );
        let (rid, aid, kind) = (
            c.req_strings("record_id")?,
            c.req_strings("artifact_id")?,
            c.req_strings("kind")?,
        );
        let (size, files) = (c.u64s("size_bytes")?, c.u64s("file_count")?);
        let (name, loc, vendor, model, rev, chan) = (
            c.strings("name")?,
            c.strings("location")?,
            c.strings("vendor")?,
            c.strings("model")?,
            c.strings("revision")?,
            c.strings("channel")?,
        );
        let purpose = c.strings("purpose")?;
        let (at, by) = (c.req_times("recorded_at")?, c.req_strings("recorded_by")?);
        (0..b.num_rows())
            .map(|i| {
                Ok(ArtifactRecord {
                    record_id: req_str(rid, i, "record_id")?,
                    artifact_id: req_str(aid, i, "artifact_id")?,
                    kind: req_enum(kind, i, "kind")?,
                    size_bytes: opt_u64(size, i),
                    file_count: opt_u64(files, i),
                    name: opt_str(name, i),
                    location: opt_str(loc, i),
                    vendor: opt_str(vendor, i),
                    model: opt_str(model, i),
                    revision: opt_str(rev, i),
                    channel: opt_str(chan, i)
                        .map(|v| parse_enum(v, i, "channel"))
                        .transpose()?,
                    purpose: opt_str(purpose, i)
                        .map(|v| parse_enum(v, i, "purpose"))
                        .transpose()?,
                    composition: decode_composition(
                        i,
                        opt_str(comp_col, i),
                        opt_u64(comp_rows, i),
                        opt_str(comp_algo, i),
                        comp_groups,
                    )?,
                    recorded_at: req_time(at, i, "recorded_at")?,
                    recorded_by: req_str(by, i, "recorded_by")?,
                })
            })
            .collect()
    }
}

fn group_fields() -> Fields {
    Fields::from(vec![
        utf8("value", true),
        Field::new("rows", DataType::UInt64, false),
        utf8("digest", false),
        utf8("source", true),
        Field::new("mapped", DataType::Boolean, false),
    ])
}

fn groups_col(rs: &[ArtifactRecord]) -> ArrayRef {
    let mut groups =
        ListBuilder::new(StructBuilder::from_fields(group_fields(), rs.len())).with_field(
            Arc::new(Field::new("item", DataType::Struct(group_fields()), false)),
        );
    for r in rs {
        let Some(c) = &r.composition else {
            groups.append(false);
            continue;
        };
        let item = groups.values();
        for g in &c.groups {
            let b = item
                .field_builder::<StringBuilder>(0)
                .expect("value builder");
            match &g.value {
                Some(v) => b.append_value(v),
                None => b.append_null(),
            }
            item.field_builder::<UInt64Builder>(1)
                .expect("rows builder")
                .append_value(g.rows);
            item.field_builder::<StringBuilder>(2)
                .expect("digest builder")
                .append_value(&g.digest);
            let b = item
                .field_builder::<StringBuilder>(3)
                .expect("source builder");
            match &g.source {
                Some(v) => b.append_value(v),
                None => b.append_null(),
            }
            item.field_builder::<BooleanBuilder>(4)
                .expect("mapped builder")
                .append_value(g.mapped);
            item.append(true);
        }
        groups.append(true);
    }
    Arc::new(groups.finish())
}

fn decode_composition(
    row: usize,
    column: Option<String>,
    rows: Option<u64>,
    algorithm: Option<String>,
    groups: Option<&ListArray>,
) -> Result<Option<Composition>, DecodeError> {
    let Some(column) = column else {
        return Ok(None);
    };
    let groups = groups.filter(|g| !g.is_null(row)).ok_or_else(|| {
        format!("row {row}: composition_column is set but composition_groups is null")
    })?;
    let items = groups.value(row);
    let items = items
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or_else(|| format!("row {row}: composition_groups items are not structs"))?;
    let field = |name: &str| {
        items
            .column_by_name(name)
            .ok_or_else(|| format!("row {row}: composition group field '{name}' is missing"))
    };
    let values = field("value")?.as_any().downcast_ref::<StringArray>();
    let counts = field("rows")?.as_any().downcast_ref::<UInt64Array>();
    let digests = field("digest")?.as_any().downcast_ref::<StringArray>();
    let sources = field("source")?.as_any().downcast_ref::<StringArray>();
    let mapped = field("mapped")?.as_any().downcast_ref::<BooleanArray>();
    let (Some(values), Some(counts), Some(digests), Some(sources), Some(mapped)) =
        (values, counts, digests, sources, mapped)
    else {
        return Err(format!(
            "row {row}: composition group fields have unexpected types"
        ));
    };
    let groups = (0..items.len())
        .map(|j| {
            Ok(SourceGroup {
                value: opt_str(Some(values), j),
                rows: counts.value(j),
                digest: req_str(digests, j, "composition_groups.digest")?,
                source: opt_str(Some(sources), j),
                mapped: mapped.value(j),
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok(Some(Composition {
        column,
        rows: rows.ok_or_else(|| format!("row {row}: composition_rows is null"))?,
        digest_algorithm: algorithm
            .ok_or_else(|| format!("row {row}: composition_digest_algorithm is null"))?,
        groups,
    }))
}

fn input_fields() -> Fields {
    Fields::from(vec![utf8("artifact_id", false), utf8("role", false)])
}

impl Table for RunRecord {
    fn schema() -> SchemaRef {
        schema_of(vec![
            utf8("record_id", false),
            utf8("run_id", false),
            utf8("kind", false),
            utf8("name", true),
            utf8("status", false),
            ts("started_at", true),
            ts("ended_at", true),
            Field::new(
                "inputs",
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(input_fields()),
                    false,
                ))),
                false,
            ),
            Field::new(
                "outputs",
                DataType::List(Arc::new(utf8("item", false))),
                false,
            ),
            ts("recorded_at", false),
            utf8("recorded_by", false),
        ])
    }

    fn to_batch(rs: &[Self]) -> RecordBatch {
        let mut inputs =
            ListBuilder::new(StructBuilder::from_fields(input_fields(), rs.len())).with_field(
                Arc::new(Field::new("item", DataType::Struct(input_fields()), false)),
            );
        for r in rs {
            let item = inputs.values();
            for input in &r.inputs {
                item.field_builder::<StringBuilder>(0)
                    .expect("artifact_id builder")
                    .append_value(&input.artifact_id);
                item.field_builder::<StringBuilder>(1)
                    .expect("role builder")
                    .append_value(input.role.as_str());
                item.append(true);
            }
            inputs.append(true);
        }
        let mut outputs =
            ListBuilder::new(StringBuilder::new()).with_field(Arc::new(utf8("item", false)));
        for r in rs {
            for o in &r.outputs {
                outputs.values().append_value(o);
            }
            outputs.append(true);
        }
        batch(
            Self::schema(),
            vec![
                str_col(rs.iter().map(|r| Some(r.record_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.run_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.kind.as_str()))),
                str_col(rs.iter().map(|r| r.name.as_deref())),
                str_col(rs.iter().map(|r| Some(r.status.as_str()))),
                ts_col(rs.iter().map(|r| r.started_at)),
                ts_col(rs.iter().map(|r| r.ended_at)),
                Arc::new(inputs.finish()),
                Arc::new(outputs.finish()),
                ts_col(rs.iter().map(|r| Some(r.recorded_at))),
                str_col(rs.iter().map(|r| Some(r.recorded_by.as_str()))),
            ],
        )
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<Self>, DecodeError> {
        let c = Columns(b);
        let (rid, run, kind, name, status) = (
            c.req_strings("record_id")?,
            c.req_strings("run_id")?,
            c.req_strings("kind")?,
            c.strings("name")?,
            c.req_strings("status")?,
        );
        let (started, ended) = (c.times("started_at")?, c.times("ended_at")?);
        let inputs = c.lists("inputs")?;
        let outputs = c.lists("outputs")?;
        let (at, by) = (c.req_times("recorded_at")?, c.req_strings("recorded_by")?);
        // The lists' flat child arrays, looked up once: rows are offset ranges into them (no
        // sliced array per row).
        let input_items = match inputs {
            Some(list) => {
                let items = list
                    .values()
                    .as_any()
                    .downcast_ref::<StructArray>()
                    .ok_or_else(|| "column 'inputs' items are not structs".to_string())?;
                let ids = items
                    .column_by_name("artifact_id")
                    .and_then(|a| a.as_any().downcast_ref::<StringArray>())
                    .ok_or_else(|| "column 'inputs' lacks artifact_id".to_string())?;
                let roles = items
                    .column_by_name("role")
                    .and_then(|a| a.as_any().downcast_ref::<StringArray>())
                    .ok_or_else(|| "column 'inputs' lacks role".to_string())?;
                Some((list, ids, roles))
            }
            None => None,
        };
        let output_items = match outputs {
            Some(list) => Some((
                list,
                list.values()
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| "column 'outputs' items are not text".to_string())?,
            )),
            None => None,
        };
        (0..b.num_rows())
            .map(|i| {
                let mut run_inputs = Vec::new();
                if let Some((list, ids, roles)) = input_items.filter(|(l, _, _)| !l.is_null(i)) {
                    let offsets = list.value_offsets();
                    let range = offsets[i] as usize..offsets[i + 1] as usize;
                    run_inputs.reserve_exact(range.len());
                    for j in range {
                        run_inputs.push(RunInput {
                            artifact_id: req_str(ids, j, "inputs.artifact_id")?,
                            role: req_enum(roles, j, "inputs.role")?,
                        });
                    }
                }
                let mut run_outputs = Vec::new();
                if let Some((list, items)) = output_items.filter(|(l, _)| !l.is_null(i)) {
                    let offsets = list.value_offsets();
                    let range = offsets[i] as usize..offsets[i + 1] as usize;
                    run_outputs.reserve_exact(range.len());
                    for j in range {
                        run_outputs.push(req_str(items, j, "outputs")?);
                    }
                }
                Ok(RunRecord {
                    record_id: req_str(rid, i, "record_id")?,
                    run_id: req_str(run, i, "run_id")?,
                    kind: req_enum(kind, i, "kind")?,
                    name: opt_str(name, i),
                    status: req_enum(status, i, "status")?,
                    started_at: opt_time(started, i)?,
                    ended_at: opt_time(ended, i)?,
                    inputs: run_inputs,
                    outputs: run_outputs,
                    recorded_at: req_time(at, i, "recorded_at")?,
                    recorded_by: req_str(by, i, "recorded_by")?,
                })
            })
            .collect()
    }
}

impl Table for ReleaseRecord {
    fn schema() -> SchemaRef {
        schema_of(vec![
            utf8("record_id", false),
            utf8("artifact_id", false),
            utf8("distribution", false),
            ts("effective_at", false),
            utf8("note", true),
            ts("recorded_at", false),
            utf8("recorded_by", false),
        ])
    }

    fn to_batch(rs: &[Self]) -> RecordBatch {
        batch(
            Self::schema(),
            vec![
                str_col(rs.iter().map(|r| Some(r.record_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.artifact_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.distribution.as_str()))),
                ts_col(rs.iter().map(|r| Some(r.effective_at))),
                str_col(rs.iter().map(|r| r.note.as_deref())),
                ts_col(rs.iter().map(|r| Some(r.recorded_at))),
                str_col(rs.iter().map(|r| Some(r.recorded_by.as_str()))),
            ],
        )
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<Self>, DecodeError> {
        let c = Columns(b);
        let (rid, aid, dist, eff, note) = (
            c.req_strings("record_id")?,
            c.req_strings("artifact_id")?,
            c.req_strings("distribution")?,
            c.req_times("effective_at")?,
            c.strings("note")?,
        );
        let (at, by) = (c.req_times("recorded_at")?, c.req_strings("recorded_by")?);
        (0..b.num_rows())
            .map(|i| {
                Ok(ReleaseRecord {
                    record_id: req_str(rid, i, "record_id")?,
                    artifact_id: req_str(aid, i, "artifact_id")?,
                    distribution: req_enum(dist, i, "distribution")?,
                    effective_at: req_time(eff, i, "effective_at")?,
                    note: opt_str(note, i),
                    recorded_at: req_time(at, i, "recorded_at")?,
                    recorded_by: req_str(by, i, "recorded_by")?,
                })
            })
            .collect()
    }
}

impl Table for LicenseClaimRecord {
    fn schema() -> SchemaRef {
        schema_of(vec![
            utf8("record_id", false),
            utf8("artifact_id", false),
            utf8("license_id", false),
            utf8("license_version", true),
            utf8("source", false),
            utf8("confidence", false),
            utf8("evidence_digest", true),
            utf8("evidence_path", true),
            utf8("note", true),
            ts("recorded_at", false),
            utf8("recorded_by", false),
        ])
    }

    fn to_batch(rs: &[Self]) -> RecordBatch {
        batch(
            Self::schema(),
            vec![
                str_col(rs.iter().map(|r| Some(r.record_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.artifact_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.license_id.as_str()))),
                str_col(rs.iter().map(|r| r.license_version.as_deref())),
                str_col(rs.iter().map(|r| Some(r.source.as_str()))),
                str_col(rs.iter().map(|r| Some(r.confidence.as_str()))),
                str_col(rs.iter().map(|r| r.evidence_digest.as_deref())),
                str_col(rs.iter().map(|r| r.evidence_path.as_deref())),
                str_col(rs.iter().map(|r| r.note.as_deref())),
                ts_col(rs.iter().map(|r| Some(r.recorded_at))),
                str_col(rs.iter().map(|r| Some(r.recorded_by.as_str()))),
            ],
        )
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<Self>, DecodeError> {
        let c = Columns(b);
        let (rid, aid, lic, ver, src, conf) = (
            c.req_strings("record_id")?,
            c.req_strings("artifact_id")?,
            c.req_strings("license_id")?,
            c.strings("license_version")?,
            c.req_strings("source")?,
            c.req_strings("confidence")?,
        );
        let (dig, path, note) = (
            c.strings("evidence_digest")?,
            c.strings("evidence_path")?,
            c.strings("note")?,
        );
        let (at, by) = (c.req_times("recorded_at")?, c.req_strings("recorded_by")?);
        (0..b.num_rows())
            .map(|i| {
                Ok(LicenseClaimRecord {
                    record_id: req_str(rid, i, "record_id")?,
                    artifact_id: req_str(aid, i, "artifact_id")?,
                    license_id: req_str(lic, i, "license_id")?,
                    license_version: opt_str(ver, i),
                    source: req_enum(src, i, "source")?,
                    confidence: req_enum(conf, i, "confidence")?,
                    evidence_digest: opt_str(dig, i),
                    evidence_path: opt_str(path, i),
                    note: opt_str(note, i),
                    recorded_at: req_time(at, i, "recorded_at")?,
                    recorded_by: req_str(by, i, "recorded_by")?,
                })
            })
            .collect()
    }
}

impl Table for WaiverRecord {
    fn schema() -> SchemaRef {
        schema_of(vec![
            utf8("record_id", false),
            utf8("waiver_id", false),
            utf8("code", false),
            utf8("model", true),
            utf8("license", true),
            utf8("target", true),
            utf8("reason", false),
            utf8("approved_by", false),
            ts("expires_at", false),
            Field::new("revoked", DataType::Boolean, false),
            ts("recorded_at", false),
            utf8("recorded_by", false),
        ])
    }

    fn to_batch(rs: &[Self]) -> RecordBatch {
        batch(
            Self::schema(),
            vec![
                str_col(rs.iter().map(|r| Some(r.record_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.waiver_id.as_str()))),
                str_col(rs.iter().map(|r| Some(r.code.as_str()))),
                str_col(rs.iter().map(|r| r.model.as_deref())),
                str_col(rs.iter().map(|r| r.license.as_deref())),
                str_col(rs.iter().map(|r| r.target.as_deref())),
                str_col(rs.iter().map(|r| Some(r.reason.as_str()))),
                str_col(rs.iter().map(|r| Some(r.approved_by.as_str()))),
                ts_col(rs.iter().map(|r| Some(r.expires_at))),
                Arc::new(rs.iter().map(|r| Some(r.revoked)).collect::<BooleanArray>()),
                ts_col(rs.iter().map(|r| Some(r.recorded_at))),
                str_col(rs.iter().map(|r| Some(r.recorded_by.as_str()))),
            ],
        )
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<Self>, DecodeError> {
        let c = Columns(b);
        let (rid, wid, code, model, license, target) = (
            c.req_strings("record_id")?,
            c.req_strings("waiver_id")?,
            c.req_strings("code")?,
            c.strings("model")?,
            c.strings("license")?,
            c.strings("target")?,
        );
        let (reason, approver, expires) = (
            c.req_strings("reason")?,
            c.req_strings("approved_by")?,
            c.req_times("expires_at")?,
        );
        let revoked = c
            .required("revoked")?
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| "column 'revoked' is not boolean".to_string())?;
        let (at, by) = (c.req_times("recorded_at")?, c.req_strings("recorded_by")?);
        (0..b.num_rows())
            .map(|i| {
                Ok(WaiverRecord {
                    record_id: req_str(rid, i, "record_id")?,
                    waiver_id: req_str(wid, i, "waiver_id")?,
                    code: req_str(code, i, "code")?,
                    model: opt_str(model, i),
                    license: opt_str(license, i),
                    target: opt_str(target, i),
                    reason: req_str(reason, i, "reason")?,
                    approved_by: req_str(approver, i, "approved_by")?,
                    expires_at: req_time(expires, i, "expires_at")?,
                    revoked: !revoked.is_null(i) && revoked.value(i),
                    recorded_at: req_time(at, i, "recorded_at")?,
                    recorded_by: req_str(by, i, "recorded_by")?,
                })
            })
            .collect()
    }
}

/// Batches up to this many records are written plain (see [`encode`]).
const SMALL_SEGMENT_ROWS: usize = 256;

/// Encode records as one Parquet file (one row group per 64k rows). Batches from a tagging call
/// (a handful of records, written while a training job waits) are written plain: without
/// dictionaries, statistics or compression, which on a few rows only add pages and CPU time
/// (a third of a tag call's CPU). Larger batches and compaction output get dictionaries,
/// statistics and zstd (level 1): ids are hex, which snappy barely shrinks (record ids 3%)
/// and zstd's entropy coding halves; on the 1M-artifact bench store the segments take
/// 218 MB instead of 409 MB with snappy, decoded as fast (docs/store.md). Snappy
/// segments written before stay readable, and every engine that reads Parquet reads zstd.
pub fn encode<T: Table>(records: &[T]) -> Vec<u8> {
    let builder = if records.len() <= SMALL_SEGMENT_ROWS {
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::None)
    } else {
        WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default()))
    };
    encode_with(records, builder)
}

/// What `encode` writes with snappy, as versions before zstd did.
#[cfg(test)]
pub(crate) fn encode_snappy<T: Table>(records: &[T]) -> Vec<u8> {
    encode_with(
        records,
        WriterProperties::builder().set_compression(Compression::SNAPPY),
    )
}

fn encode_with<T: Table>(
    records: &[T],
    builder: parquet::file::properties::WriterPropertiesBuilder,
) -> Vec<u8> {
    let props = builder
        .set_max_row_group_row_count(Some(64 * 1024))
        .set_key_value_metadata(Some(vec![
            parquet::file::metadata::KeyValue::new(META_TABLE.to_string(), T::TABLE.to_string()),
            parquet::file::metadata::KeyValue::new(
                META_VERSION.to_string(),
                RECORD_SCHEMA_VERSION.to_string(),
            ),
        ]))
        .build();
    let mut out = Vec::with_capacity(4096);
    let mut writer =
        ArrowWriter::try_new(&mut out, T::schema(), Some(props)).expect("valid schema");
    for chunk in records.chunks(64 * 1024) {
        writer.write(&T::to_batch(chunk)).expect("in-memory write");
    }
    writer.close().expect("in-memory write");
    out
}

/// Whether a segment is compressed as [`encode`] compresses today (plain or zstd): a
/// compaction keeps only those, so the snappy segments of earlier versions are rewritten.
pub fn in_current_codec(bytes: &Bytes) -> bool {
    parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(bytes)
        .is_ok_and(|meta| {
            meta.row_groups().iter().all(|group| {
                group.columns().iter().all(|c| {
                    matches!(
                        c.compression(),
                        Compression::UNCOMPRESSED | Compression::ZSTD(_)
                    )
                })
            })
        })
}

/// A reader over a segment's bytes, after checking that the segment holds `table`.
fn open(bytes: Bytes, table: &str) -> Result<ParquetRecordBatchReaderBuilder<Bytes>, DecodeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    if let Some(kv) = builder.metadata().file_metadata().key_value_metadata() {
        if let Some(found) = kv
            .iter()
            .find(|k| k.key == META_TABLE)
            .and_then(|k| k.value.as_deref())
        {
            if found != table {
                return Err(format!("segment holds table '{found}', expected '{table}'"));
            }
        }
    }
    Ok(builder.with_batch_size(64 * 1024))
}

fn read_all(
    reader: Result<ParquetRecordBatchReader, parquet::errors::ParquetError>,
) -> Result<Vec<RecordBatch>, DecodeError> {
    reader
        .map_err(|e| format!("cannot read: {e}"))?
        .map(|b| b.map_err(|e| format!("cannot read row group: {e}")))
        .collect()
}

fn projection(
    builder: &ParquetRecordBatchReaderBuilder<Bytes>,
    columns: &[&str],
) -> ProjectionMask {
    let roots: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| columns.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    ProjectionMask::roots(builder.parquet_schema(), roots)
}

/// Decode a segment's bytes.
pub fn decode<T: Table>(bytes: Bytes) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    for batch in read_all(open(bytes, T::TABLE)?.build())? {
        out.extend(T::from_batch(&batch)?);
    }
    Ok(out)
}

/// Decode only the records whose `column` value passes `keep`: the column is read first, and
/// the other columns only for the rows it selects (a whole-store audit reads the records its
/// verdicts depend on, not every record of a large store).
pub fn decode_selected<T: Table>(
    bytes: Bytes,
    column: &str,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<T>, DecodeError> {
    let builder = open(bytes.clone(), T::TABLE)?;
    let mask = projection(&builder, &[column]);
    let mut selectors: Vec<RowSelector> = Vec::new();
    let mut push = |selected: bool, rows: usize| match selectors.last_mut() {
        Some(last) if last.skip != selected => last.row_count += rows,
        _ => selectors.push(if selected {
            RowSelector::select(rows)
        } else {
            RowSelector::skip(rows)
        }),
    };
    let mut any = false;
    for batch in read_all(builder.with_projection(mask).build())? {
        let ids = batch
            .column_by_name(column)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| format!("column '{column}' is missing"))?;
        for row in 0..ids.len() {
            let k = !ids.is_null(row) && keep(ids.value(row));
            any |= k;
            push(k, 1);
        }
    }
    if !any {
        return Ok(Vec::new());
    }
    let reader = open(bytes, T::TABLE)?
        .with_row_selection(RowSelection::from(selectors))
        .build();
    let mut out = Vec::new();
    for batch in read_all(reader)? {
        out.extend(T::from_batch(&batch)?);
    }
    Ok(out)
}

/// Decode only the named top-level columns of a segment (those absent from an older segment
/// are simply not in the batches): the lineage index reads ids and edges without paying for
/// every text column of every record.
pub fn decode_columns(
    bytes: Bytes,
    table: &str,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, DecodeError> {
    let builder = open(bytes, table)?;
    let mask = projection(&builder, columns);
    read_all(builder.with_projection(mask).build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;

    #[test]
    fn every_table_round_trips() {
        let t = now();
        let mut a = ArtifactRecord {
            record_id: String::new(),
            artifact_id: id::file(&"b".repeat(64)),
            kind: ArtifactKind::ExternalModel,
            size_bytes: Some(10),
            file_count: None,
            name: Some("m".into()),
            location: None,
            vendor: Some("v".into()),
            model: Some("m".into()),
            revision: None,
            channel: Some(Channel::Weights),
            purpose: Some(Purpose::Classifier),
            composition: None,
            recorded_at: t,
            recorded_by: "u@h".into(),
        };
        a.seal();
        let back: Vec<ArtifactRecord> = decode(Bytes::from(encode(&[a.clone()]))).unwrap();
        assert_eq!(back, vec![a.clone()]);

        let mut r = RunRecord {
            record_id: String::new(),
            run_id: id::new_run(),
            kind: RunKind::FineTune,
            name: None,
            status: RunStatus::Succeeded,
            started_at: Some(t),
            ended_at: None,
            inputs: vec![
                RunInput {
                    artifact_id: a.artifact_id.clone(),
                    role: Role::BaseWeights,
                },
                RunInput {
                    artifact_id: id::file(&"c".repeat(64)),
                    role: Role::TrainingData,
                },
            ],
            outputs: vec![id::file(&"d".repeat(64))],
            recorded_at: t,
            recorded_by: "u@h".into(),
        };
        r.seal();
        let mut empty = r.clone();
        empty.inputs.clear();
        empty.outputs.clear();
        empty.seal();
        let back: Vec<RunRecord> =
            decode(Bytes::from(encode(&[r.clone(), empty.clone()]))).unwrap();
        assert_eq!(back, vec![r, empty]);

        let mut rel = ReleaseRecord {
            record_id: String::new(),
            artifact_id: a.artifact_id.clone(),
            distribution: Distribution::ApiServed,
            effective_at: t,
            note: Some("n".into()),
            recorded_at: t,
            recorded_by: "u@h".into(),
        };
        rel.seal();
        let back: Vec<ReleaseRecord> = decode(Bytes::from(encode(&[rel.clone()]))).unwrap();
        assert_eq!(back, vec![rel]);

        let mut lc = LicenseClaimRecord {
            record_id: String::new(),
            artifact_id: a.artifact_id,
            license_id: "llama3.1".into(),
            license_version: None,
            source: ClaimSource::LicenseFile,
            confidence: Confidence::Primary,
            evidence_digest: Some("e".repeat(64)),
            evidence_path: None,
            note: None,
            recorded_at: t,
            recorded_by: "u@h".into(),
        };
        lc.seal();
        let back: Vec<LicenseClaimRecord> = decode(Bytes::from(encode(&[lc.clone()]))).unwrap();
        assert_eq!(back, vec![lc]);

        let mut w = WaiverRecord {
            record_id: String::new(),
            waiver_id: id::new_waiver(),
            code: "L101".into(),
            model: Some(id::file(&"b".repeat(64))),
            license: None,
            target: None,
            reason: "r".into(),
            approved_by: "legal".into(),
            expires_at: t,
            revoked: true,
            recorded_at: t,
            recorded_by: "u@h".into(),
        };
        w.seal();
        let back: Vec<WaiverRecord> = decode(Bytes::from(encode(&[w.clone()]))).unwrap();
        assert_eq!(back, vec![w]);
    }

    /// `n` sealed release records of distinct artifacts.
    fn releases(n: usize) -> Vec<ReleaseRecord> {
        let t = chrono::Utc::now();
        (0..n)
            .map(|i| {
                let mut rel = ReleaseRecord {
                    record_id: String::new(),
                    artifact_id: id::file(&format!("{i:064x}")),
                    distribution: Distribution::ExternalWeights,
                    effective_at: t,
                    note: Some(format!("note {i}")),
                    recorded_at: t,
                    recorded_by: "u@h".into(),
                };
                rel.seal();
                rel
            })
            .collect()
    }

    #[test]
    fn tagging_batches_are_plain_and_larger_ones_zstd_with_dictionaries() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        // Compression and encodings of every column chunk of the segment's first row group.
        let layout = |n: usize| {
            let records = releases(n);
            let bytes = Bytes::from(encode(&records));
            let back: Vec<ReleaseRecord> = decode(bytes.clone()).unwrap();
            assert_eq!(back, records);
            let reader = SerializedFileReader::new(bytes).unwrap();
            let group = reader.metadata().row_group(0).clone();
            group
                .columns()
                .iter()
                .map(|c| (c.compression(), c.encodings().collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        for (codec, encodings) in layout(SMALL_SEGMENT_ROWS) {
            assert_eq!(codec, Compression::UNCOMPRESSED);
            assert!(!encodings.contains(&parquet::basic::Encoding::RLE_DICTIONARY));
        }
        let large = layout(SMALL_SEGMENT_ROWS + 1);
        assert!(large
            .iter()
            .all(|(codec, _)| *codec == Compression::ZSTD(ZstdLevel::default())));
        assert!(large
            .iter()
            .any(|(_, e)| e.contains(&parquet::basic::Encoding::RLE_DICTIONARY)));
    }

    /// Stores written before zstd hold snappy segments (the `snap` feature must stay).
    #[test]
    fn snappy_segments_of_earlier_versions_still_decode() {
        let records = releases(300);
        let out = encode_snappy(&records);
        assert!(!in_current_codec(&Bytes::from(out.clone())));
        assert!(in_current_codec(&Bytes::from(encode(&records))));
        let back: Vec<ReleaseRecord> = decode(Bytes::from(out)).unwrap();
        assert_eq!(back, records);
    }

    #[test]
    fn garbage_and_wrong_tables_are_errors() {
        assert!(decode::<RunRecord>(Bytes::from_static(b"PAR1 not really")).is_err());
        let mut rel = ReleaseRecord {
            record_id: String::new(),
            artifact_id: id::file(&"b".repeat(64)),
            distribution: Distribution::Internal,
            effective_at: now(),
            note: None,
            recorded_at: now(),
            recorded_by: "u@h".into(),
        };
        rel.seal();
        let err = decode::<RunRecord>(Bytes::from(encode(&[rel]))).unwrap_err();
        assert!(err.contains("expected 'runs'"), "{err}");
    }
}
