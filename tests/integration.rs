//! The end-to-end tests, linked into one binary (`autotests = false` in Cargo.toml): every
//! binary links all of polars, so one per file cost CI minutes of linking and gigabytes of disk.
//! Each file below is one concern; run one with `cargo nextest run -E 'test(/^team_store::/)'`
//! or `cargo test --test integration team_store::`.

mod common;

mod audit;
mod audit_schemas;
mod cli;
mod composition;
mod concurrency;
mod interchange_bom;
mod interchange_lineage;
mod output_schemas;
mod reference_hash;
mod report_formats;
mod schemas;
mod team_store;
