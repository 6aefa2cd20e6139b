//! Turning what a user types into an artifact or run id: a full id, a unique id prefix, a
//! recorded name, or the path of a tagged file or directory.

use std::path::Path;

use crate::content::{self, HashOptions};
use crate::error::{Error, Result};
use crate::records::id;
use crate::store::Store;
use crate::view::View;

/// Shortest hex prefix accepted, so a typo cannot silently match something else.
pub const MIN_PREFIX_HEX: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Artifact(String),
    Run(String),
}

impl Target {
    pub fn id(&self) -> &str {
        match self {
            Target::Artifact(id) | Target::Run(id) => id,
        }
    }
}

fn ambiguous(reference: &str, mut ids: Vec<String>) -> Error {
    ids.sort();
    ids.truncate(5);
    Error::AmbiguousReference {
        reference: reference.into(),
        candidates: ids.join(", "),
    }
}

/// The view a few references are resolved against. `references` are resolved by [`resolve`]
/// (an exact id, id prefixes, names, then paths), `paths` by
/// [`crate::tag::resolve_or_describe`] (a path as given before anything else). When each is
/// a recorded full id or an existing path (in `references`: one no record is named after),
/// only the records about those ids are read: a selective read, so recording a run on a store
/// of millions of records does not merge them all. Anything else (a name, an id prefix, an id
/// not recorded) resolves against the whole store, as before. Paths are hashed through the
/// stat cache, so resolving them again is a cache hit.
pub fn view_for(store: &Store, references: &[&str], paths: &[&str]) -> Result<View> {
    let whole = || Ok(View::build(&store.load()?, None));
    let mut ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut must_exist: Vec<String> = Vec::new();
    let identify = |path: &str| {
        content::identify(
            Path::new(path),
            &HashOptions {
                cache: Some(store.stat_cache()),
                progress: true,
            },
        )
        .map(|found| found.artifact_id)
    };
    for (raw, path_first) in references
        .iter()
        .map(|r| (*r, false))
        .chain(paths.iter().map(|r| (*r, true)))
    {
        // What `resolve_or_describe` takes as a path (as given) before anything else.
        if path_first && std::fs::symlink_metadata(raw).is_ok() {
            ids.insert(identify(raw)?);
            continue;
        }
        // Otherwise `resolve`'s order: an exact id, id prefixes, names, then paths.
        let r = raw.trim();
        if id::is_valid(r) {
            ids.insert(r.to_string());
            must_exist.push(r.to_string());
        } else if std::fs::symlink_metadata(r).is_ok()
            && !looks_like_prefix(r)
            && !names_anything(store, r)?
        {
            // `resolve` wants the content recorded (and says so when it is not).
            let id = identify(r)?;
            must_exist.push(id.clone());
            ids.insert(id);
        } else {
            return whole();
        }
    }
    if ids.is_empty() {
        return Ok(View::default());
    }
    let keep = |id: &str| ids.contains(id);
    let view = View::build(
        &store.load_selected(&crate::store::Selected {
            artifacts: &keep,
            about_artifacts: &keep,
            runs: &keep,
        })?,
        None,
    );
    let recorded = |id: &String| view.artifacts.contains_key(id) || view.runs.contains_key(id);
    if must_exist.iter().all(recorded) {
        Ok(view)
    } else {
        whole()
    }
}

/// The id kind a prefix names (if given) and its hex / uuid text.
fn prefix_parts(r: &str) -> (Option<&str>, &str) {
    match r.split_once(':') {
        Some((p, rest)) if matches!(p, "blake3" | "blake3tree" | "run") => (Some(p), rest),
        _ => (None, r),
    }
}

/// Whether [`resolve`] tries `r` as an id prefix (before names and paths).
fn looks_like_prefix(r: &str) -> bool {
    let needle = prefix_parts(r).1;
    needle.len() >= MIN_PREFIX_HEX && needle.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Whether any record names something `r` (an artifact's or run's name, a model's
/// `vendor/model[@revision]`): then [`resolve`] takes `r` as that name, before a path. Reads
/// only the name columns.
fn names_anything(store: &Store, r: &str) -> Result<bool> {
    use arrow_array::{RecordBatch, StringArray};
    /// Every non-null value of a text column.
    fn values<'b>(batches: &'b [RecordBatch], column: &'b str) -> impl Iterator<Item = &'b str> {
        batches
            .iter()
            .filter_map(move |b| {
                b.column_by_name(column)?
                    .as_any()
                    .downcast_ref::<StringArray>()
            })
            .flat_map(|c| c.iter().flatten())
    }
    let (artifacts, _) =
        store.load_columns("artifacts", &["name", "vendor", "model", "revision"])?;
    if values(&artifacts, "name").any(|v| v == r) {
        return Ok(true);
    }
    // Vendors, models and revisions each as any record gives them: a merged artifact may take
    // its fields from different records, so `vendor/model[@revision]` is matched field by field.
    let [vendors, models, revisions] = ["vendor", "model", "revision"]
        .map(|c| values(&artifacts, c).collect::<std::collections::HashSet<&str>>());
    for (i, _) in r.match_indices('/') {
        let (vendor, rest) = (&r[..i], &r[i + 1..]);
        if !vendors.contains(vendor) {
            continue;
        }
        if models.contains(rest)
            || rest
                .match_indices('@')
                .any(|(j, _)| models.contains(&rest[..j]) && revisions.contains(&rest[j + 1..]))
        {
            return Ok(true);
        }
    }
    let (runs, _) = store.load_columns("runs", &["name"])?;
    let named = values(&runs, "name").any(|v| v == r);
    Ok(named)
}

/// Resolve `reference` against the view; paths are hashed (through the stat cache).
pub fn resolve(store: &Store, view: &View, reference: &str) -> Result<Target> {
    let r = reference.trim();
    if r.is_empty() {
        return Err(Error::usage("an empty reference names nothing"));
    }
    if view.artifacts.contains_key(r) {
        return Ok(Target::Artifact(r.to_string()));
    }
    if view.runs.contains_key(r) {
        return Ok(Target::Run(r.to_string()));
    }

    // Id prefixes: `blake3:ab12..`, `run:0193..`, or bare hex / uuid text.
    let (prefix_kind, needle) = prefix_parts(r);
    if looks_like_prefix(r) {
        let needle = needle.to_ascii_lowercase();
        let mut hits: Vec<Target> = Vec::new();
        if prefix_kind != Some("run") {
            hits.extend(
                view.artifacts
                    .keys()
                    .filter(|k| id::digest_hex(k).is_some_and(|h| h.starts_with(&needle)))
                    .filter(|k| prefix_kind.is_none_or(|p| k.starts_with(&format!("{p}:"))))
                    .map(|k| Target::Artifact(k.clone())),
            );
        }
        if prefix_kind.is_none() || prefix_kind == Some("run") {
            hits.extend(
                view.runs
                    .keys()
                    .filter(|k| {
                        k.strip_prefix(id::RUN)
                            .is_some_and(|u| u.starts_with(&needle))
                    })
                    .map(|k| Target::Run(k.clone())),
            );
        }
        match hits.len() {
            1 => return Ok(hits.remove(0)),
            n if n > 1 => {
                return Err(ambiguous(
                    r,
                    hits.iter().map(|t| t.id().to_string()).collect(),
                ))
            }
            _ => {}
        }
    }

    // Names of artifacts and runs; external models also by vendor/model[@revision].
    let model_matches = |a: &crate::view::Artifact| match (&a.vendor, &a.model) {
        (Some(v), Some(m)) => {
            let name = format!("{v}/{m}");
            r == name
                || a.revision
                    .as_ref()
                    .is_some_and(|rev| r == format!("{name}@{rev}"))
        }
        _ => false,
    };
    let mut named: Vec<Target> = view
        .artifacts
        .values()
        .filter(|a| a.names.contains(r) || model_matches(a))
        .map(|a| Target::Artifact(a.id.clone()))
        .collect();
    named.extend(
        view.runs
            .values()
            .filter(|run| run.name.as_deref() == Some(r))
            .map(|run| Target::Run(run.id.clone())),
    );
    match named.len() {
        1 => return Ok(named.remove(0)),
        n if n > 1 => {
            return Err(ambiguous(
                r,
                named.iter().map(|t| t.id().to_string()).collect(),
            ))
        }
        _ => {}
    }

    // A path on disk: identify its content.
    let path = Path::new(r);
    if path.exists() || std::fs::symlink_metadata(path).is_ok() {
        let found = content::identify(
            path,
            &HashOptions {
                cache: Some(store.stat_cache()),
                progress: true,
            },
        )?;
        if view.artifacts.contains_key(&found.artifact_id) {
            return Ok(Target::Artifact(found.artifact_id));
        }
        return Err(Error::UnknownReference {
            reference: format!("{r} (content {} is not tagged)", found.artifact_id),
        });
    }
    Err(Error::UnknownReference {
        reference: r.into(),
    })
}

/// Resolve and insist on an artifact.
pub fn resolve_artifact(store: &Store, view: &View, reference: &str) -> Result<String> {
    match resolve(store, view, reference)? {
        Target::Artifact(id) => Ok(id),
        Target::Run(id) => Err(Error::usage(format!(
            "'{reference}' names run {id}; an artifact is needed here"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{ArtifactKind, Batch, RunKind};
    use crate::tag::{tag_path, TagOptions};

    #[test]
    fn references_by_id_or_path_read_only_their_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("store")).unwrap();
        let file = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, name).unwrap();
            p
        };
        let mut opts = TagOptions::new(ArtifactKind::Dataset);
        opts.name = Some("the-data".into());
        let data = tag_path(&store, &file("data.txt"), &opts).unwrap();
        let other = tag_path(&store, &file("other.txt"), &opts).unwrap();
        let mut spec = crate::run::RunSpec::new(RunKind::Train);
        spec.outputs = vec![other.artifact_id.clone()];
        let run = crate::run::record(&store, spec, Batch::default()).unwrap();
        let untagged = file("untagged.txt");
        let untagged = untagged.to_str().unwrap();

        let view = view_for(&store, &[&run.run_id], &[&data.artifact_id, untagged]).unwrap();
        assert_eq!(view.artifacts.len(), 1, "only the data named");
        assert!(view.artifacts.contains_key(&data.artifact_id));
        assert!(view.runs.contains_key(&run.run_id));
        let path = dir.path().join("other.txt");
        let view = view_for(&store, &[], &[path.to_str().unwrap()]).unwrap();
        assert_eq!(
            view.artifacts.keys().collect::<Vec<_>>(),
            [&other.artifact_id]
        );

        // Where names come before paths, a path nothing is named after is still a path.
        let view = view_for(&store, &[path.to_str().unwrap()], &[]).unwrap();
        assert_eq!(
            view.artifacts.keys().collect::<Vec<_>>(),
            [&other.artifact_id]
        );

        // A name, an id prefix, an unrecorded id, or a path that is also a name where names
        // come first: the whole store, so they resolve exactly as before.
        let named_like_a_path = dir.path().join("data.txt");
        let named_like_a_path = named_like_a_path.to_str().unwrap();
        let mut opts = TagOptions::new(ArtifactKind::Dataset);
        opts.name = Some(named_like_a_path.into());
        tag_path(&store, &file("third.txt"), &opts).unwrap();
        let unrecorded = format!("blake3:{}", "0".repeat(64));
        let prefix = &data.artifact_id[..14];
        for (references, paths) in [
            (vec!["the-data"], vec![]),
            (vec![prefix], vec![]),
            (vec![], vec![unrecorded.as_str()]),
            (vec![named_like_a_path], vec![]),
        ] {
            let view = view_for(&store, &references, &paths).unwrap();
            assert_eq!(view.artifacts.len(), 3, "{references:?} {paths:?}");
        }
        // As a run input the same text is the file it names.
        let view = view_for(&store, &[], &[named_like_a_path]).unwrap();
        assert_eq!(
            view.artifacts.keys().collect::<Vec<_>>(),
            [&data.artifact_id]
        );
        let err = resolve(
            &store,
            &view_for(&store, &[&unrecorded], &[]).unwrap(),
            &unrecorded,
        );
        assert!(matches!(err, Err(Error::UnknownReference { .. })));
    }
}
