//! mlprov: provenance records for ML pipelines, kept as content-addressed Parquet segments,
//! walked as a lineage graph.
//!
//! Data flows one way: [`tag`] (identify content, build records) → [`store`] (append-only
//! segments) → [`view`] (merged state as of a moment) → [`graph`] (lineage walks) → output.
//! The CLI in `main.rs` and the Python binding call this library; neither holds logic of
//! its own.

pub mod audit;
pub mod catalog;
pub mod cli;
pub mod composition;
pub mod content;
pub mod demo;
pub mod error;
pub mod export;
pub mod graph;
pub mod import;
pub mod policy;
pub mod progress;
pub mod query;
pub mod records;
pub mod reference;
pub mod release;
pub mod run;
pub mod store;
pub mod tag;
pub mod verify;
pub mod view;

pub use error::{Error, Result};
pub use records::{ArtifactKind, Batch, Channel, Distribution, Record, Role, RunKind, RunStatus};
pub use store::Store;
