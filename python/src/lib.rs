//! Python bindings: a thin layer over the `mlprov` library.
//!
//! Every method parses its arguments, calls the same library functions as the CLI (with the
//! GIL released while it hashes, reads or writes), and returns what the library returned as a
//! JSON string that the Python package (`python/mlprov/`) turns into objects. No provenance
//! logic lives here.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use serde::Serialize;

use mlprov::audit;
use mlprov::catalog::Catalog;
use mlprov::composition::{self, SourceMap};
use mlprov::graph::render::{self, LineageReport};
use mlprov::graph::{LineageGraph, Walk};
use mlprov::policy::Policy;
use mlprov::records::{id, RunInput};
use mlprov::reference::{self, Target};
use mlprov::run::RunSpec;
use mlprov::tag::{self, ExternalModel, Generation, LicenseSpec, TagOptions};
use mlprov::view::View;
use mlprov::{ArtifactKind, Batch, Channel, Distribution, Role, RunKind, RunStatus, Store};

create_exception!(
    _mlprov,
    MlprovError,
    PyException,
    "An mlprov operation failed: the message names the file or record at fault and a hint."
);

/// A library error as a Python exception, with the message (and hint) the CLI prints.
fn py_err(e: mlprov::Error) -> PyErr {
    MlprovError::new_err(e.to_string())
}

fn usage(message: impl Into<String>) -> PyErr {
    py_err(mlprov::Error::usage(message.into()))
}

fn json<T: Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| usage(format!("serialising the result: {e}")))
}

fn parse<T: std::str::FromStr<Err = mlprov::Error>>(text: &str) -> PyResult<T> {
    text.parse().map_err(py_err)
}

/// An RFC 3339 time (the Python layer sends `datetime.isoformat()` in UTC).
fn time(text: Option<String>) -> PyResult<Option<DateTime<Utc>>> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| usage(format!("'{t}' is not an RFC 3339 time: {e}")))
    })
    .transpose()
}

fn licenses(specs: &[String]) -> PyResult<Vec<LicenseSpec>> {
    specs.iter().map(|s| parse(s)).collect()
}

/// An mlprov store: `.mlprov/` in a project folder.
#[pyclass(frozen, module = "mlprov._mlprov", name = "Store")]
struct PyStore {
    inner: Store,
}

impl PyStore {
    fn view(&self, as_of: Option<DateTime<Utc>>) -> PyResult<View> {
        Ok(View::build(&self.inner.load().map_err(py_err)?, as_of))
    }

    /// Artifact ids for references: full ids are taken as they are (no store read); paths,
    /// names and prefixes are resolved as the CLI does (untagged paths described into
    /// `pending`, with the kind `implied`).
    fn resolve_refs(
        &self,
        refs: &[(String, ArtifactKind)],
        pending: &mut Batch,
    ) -> PyResult<Vec<String>> {
        let mut view: Option<View> = None;
        let mut out = Vec::with_capacity(refs.len());
        for (reference, implied) in refs {
            if id::is_valid(reference) && !reference.starts_with(id::RUN) {
                out.push(reference.clone());
                continue;
            }
            if view.is_none() {
                let rest: Vec<&str> = refs
                    .iter()
                    .map(|(r, _)| r.as_str())
                    .filter(|r| !id::is_valid(r) || r.starts_with(id::RUN))
                    .collect();
                view = Some(reference::view_for(&self.inner, &[], &rest).map_err(py_err)?);
            }
            let v = view.as_ref().expect("loaded above");
            out.push(
                tag::resolve_or_describe(&self.inner, v, reference, *implied, pending)
                    .map_err(py_err)?,
            );
        }
        Ok(out)
    }

    fn inputs(&self, inputs: &[(String, String)], pending: &mut Batch) -> PyResult<Vec<RunInput>> {
        let roles = inputs
            .iter()
            .map(|(role, _)| parse::<Role>(role))
            .collect::<PyResult<Vec<_>>>()?;
        let refs: Vec<(String, ArtifactKind)> = inputs
            .iter()
            .zip(&roles)
            .map(|((_, r), role)| (r.clone(), role.implied_kind()))
            .collect();
        let ids = self.resolve_refs(&refs, pending)?;
        Ok(ids
            .into_iter()
            .zip(roles)
            .map(|(artifact_id, role)| RunInput { artifact_id, role })
            .collect())
    }

    fn outputs(
        &self,
        kind: RunKind,
        outputs: &[String],
        pending: &mut Batch,
    ) -> PyResult<Vec<String>> {
        let refs: Vec<(String, ArtifactKind)> = outputs
            .iter()
            .map(|o| (o.clone(), kind.output_kind()))
            .collect();
        self.resolve_refs(&refs, pending)
    }
}

#[pymethods]
impl PyStore {
    /// Open the store as the CLI does: `store` if given, else `MLPROV_STORE`, else the nearest
    /// `.mlprov/` from `start` (default: the current directory) upwards.
    #[staticmethod]
    #[pyo3(signature = (store=None, start=None))]
    fn locate(py: Python<'_>, store: Option<String>, start: Option<PathBuf>) -> PyResult<Self> {
        let start = match start {
            Some(s) => s,
            None => std::env::current_dir()
                .map_err(|e| py_err(mlprov::Error::io(".", "reading current directory", e)))?,
        };
        let inner = py
            .detach(|| Store::locate(store.as_deref(), &start))
            .map_err(py_err)?;
        Ok(PyStore { inner })
    }

    /// Create a store in `project_dir/.mlprov` (or open the one there).
    #[staticmethod]
    fn init(py: Python<'_>, project_dir: PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| Store::init(&project_dir)).map_err(py_err)?;
        Ok(PyStore { inner })
    }

    /// The `.mlprov` folder.
    #[getter]
    fn dir(&self) -> PathBuf {
        self.inner.dir().to_path_buf()
    }

    /// The folder that holds `.mlprov`.
    #[getter]
    fn project_dir(&self) -> PathBuf {
        self.inner.project_dir().to_path_buf()
    }

    fn __repr__(&self) -> String {
        format!("Store({:?})", self.inner.describe())
    }

    /// Tag a file or directory as `kind`; a model or checkpoint folder's LICENSE and model card
    /// are read too. `model` (vendor/model[@rev]) marks downloaded weights of that model.
    #[pyo3(signature = (path, kind, name=None, licenses=Vec::new(), model=None, channel=None, purpose=None))]
    #[allow(clippy::too_many_arguments)]
    fn tag_path(
        &self,
        py: Python<'_>,
        path: PathBuf,
        kind: &str,
        name: Option<String>,
        licenses: Vec<String>,
        model: Option<String>,
        channel: Option<String>,
        purpose: Option<String>,
    ) -> PyResult<String> {
        let mut opts = TagOptions::new(parse(kind)?);
        opts.name = name;
        opts.licenses = self::licenses(&licenses)?;
        opts.purpose = purpose.as_deref().map(parse).transpose()?;
        if let Some(m) = &model {
            let channel = channel
                .as_deref()
                .map(parse)
                .transpose()?
                .unwrap_or(Channel::Weights);
            opts.external = Some(ExternalModel::parse(m, channel).map_err(py_err)?);
            if opts.name.is_none() {
                opts.name = Some(m.clone());
            }
        }
        let tagged = py
            .detach(|| tag::tag_path(&self.inner, &path, &opts))
            .map_err(py_err)?;
        json(&tagged)
    }

    /// Tag a dataset with its row composition (`mlprov tag dataset --source-column`): rows
    /// counted and digested per value of `column`, each value mapped by `maps` (`VALUE=SPEC`
    /// flags, as `--map`) or `map_file` (as `--map-file`) to the model or dataset it came from.
    #[pyo3(signature = (path, column, maps=Vec::new(), map_file=None, name=None, licenses=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn tag_composed(
        &self,
        py: Python<'_>,
        path: PathBuf,
        column: &str,
        maps: Vec<String>,
        map_file: Option<PathBuf>,
        name: Option<String>,
        licenses: Vec<String>,
    ) -> PyResult<String> {
        let mut map = match &map_file {
            Some(file) => SourceMap::from_file(file).map_err(py_err)?,
            None => SourceMap::default(),
        };
        for flag in &maps {
            map.add_flag(flag).map_err(py_err)?;
        }
        let mut opts = TagOptions::new(ArtifactKind::Dataset);
        opts.name = name;
        opts.licenses = self::licenses(&licenses)?;
        let tagged = py
            .detach(|| composition::tag_composed(&self.inner, &path, &opts, column, &map))
            .map_err(py_err)?;
        json(&tagged)
    }

    /// Tag a model known only by name (an API endpoint, or weights kept elsewhere).
    #[pyo3(signature = (model, channel, name=None, licenses=Vec::new()))]
    fn tag_model(
        &self,
        py: Python<'_>,
        model: &str,
        channel: &str,
        name: Option<String>,
        licenses: Vec<String>,
    ) -> PyResult<String> {
        let ext = ExternalModel::parse(model, parse(channel)?).map_err(py_err)?;
        let licenses = self::licenses(&licenses)?;
        let name = name.or_else(|| Some(model.to_string()));
        let tagged = py
            .detach(|| tag::tag_model(&self.inner, &ext, name, &licenses))
            .map_err(py_err)?;
        json(&tagged)
    }

    /// Tag synthetic data with the `generate` run that made it (one write). `generator` is a
    /// recorded artifact (id, name, path) or vendor/model[@rev] with `channel`.
    #[pyo3(signature = (path, generator, channel=None, sources=Vec::new(), generated_at=None, name=None, licenses=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn tag_synthetic(
        &self,
        py: Python<'_>,
        path: PathBuf,
        generator: String,
        channel: Option<String>,
        sources: Vec<String>,
        generated_at: Option<String>,
        name: Option<String>,
        licenses: Vec<String>,
    ) -> PyResult<String> {
        let channel: Option<Channel> = channel.as_deref().map(parse).transpose()?;
        let generated_at = time(generated_at)?;
        let mut opts = TagOptions::new(ArtifactKind::SyntheticDataset);
        opts.name = name;
        opts.licenses = self::licenses(&licenses)?;
        let tagged = py
            .detach(|| -> mlprov::Result<_> {
                let view = View::build(&self.inner.load()?, None);
                let mut generator_records = Batch::default();
                let generator = tag::resolve_generator(
                    &self.inner,
                    &view,
                    &generator,
                    channel,
                    &mut generator_records,
                )?;
                let mut pending = Batch::default();
                let sources = sources
                    .iter()
                    .map(|s| {
                        tag::resolve_or_describe(
                            &self.inner,
                            &view,
                            s,
                            ArtifactKind::Dataset,
                            &mut pending,
                        )
                    })
                    .collect::<mlprov::Result<Vec<_>>>()?;
                generator_records.extend(pending);
                let generation = Generation {
                    generator,
                    generator_records,
                    sources,
                    generated_at,
                };
                tag::tag_synthetic(&self.inner, &path, &opts, generation)
            })
            .map_err(py_err)?;
        json(&tagged)
    }

    /// The artifact id a reference (id, unique prefix, name or tagged path) names.
    fn resolve(&self, py: Python<'_>, reference: &str) -> PyResult<String> {
        py.detach(|| {
            let view = reference::view_for(&self.inner, &[reference], &[])?;
            reference::resolve_artifact(&self.inner, &view, reference)
        })
        .map_err(py_err)
    }

    /// Record that a run began (status running, started now). `inputs` are (role, reference)
    /// pairs. Returns the run record.
    #[pyo3(signature = (kind, name=None, inputs=Vec::new(), run_id=None))]
    fn run_start(
        &self,
        py: Python<'_>,
        kind: &str,
        name: Option<String>,
        inputs: Vec<(String, String)>,
        run_id: Option<String>,
    ) -> PyResult<String> {
        let kind: RunKind = parse(kind)?;
        py.detach(|| {
            let mut pending = Batch::default();
            let mut spec = RunSpec::new(kind);
            spec.name = name;
            spec.run_id = run_id;
            spec.inputs = self.inputs(&inputs, &mut pending)?;
            let run = mlprov::run::start(&self.inner, spec, pending).map_err(py_err)?;
            json(&run)
        })
    }

    /// Add inputs and outputs to a run: one durable record that readers merge into it.
    /// `status` is `running` for a run under way, or the status it ended with (outputs
    /// recorded after the end, e.g. a model saved after training).
    #[pyo3(signature = (run_id, kind, inputs=Vec::new(), outputs=Vec::new(), status="running"))]
    fn run_update(
        &self,
        py: Python<'_>,
        run_id: String,
        kind: &str,
        inputs: Vec<(String, String)>,
        outputs: Vec<String>,
        status: &str,
    ) -> PyResult<String> {
        let kind: RunKind = parse(kind)?;
        let status: RunStatus = parse(status)?;
        py.detach(|| {
            let mut pending = Batch::default();
            let mut spec = RunSpec::new(kind);
            spec.run_id = Some(run_id);
            spec.status = status;
            spec.inputs = self.inputs(&inputs, &mut pending)?;
            spec.outputs = self.outputs(kind, &outputs, &mut pending)?;
            let run = mlprov::run::record(&self.inner, spec, pending).map_err(py_err)?;
            json(&run)
        })
    }

    /// Record how a started run ended (`succeeded` or `failed`), with what it wrote.
    #[pyo3(signature = (run_id, status="succeeded", outputs=Vec::new()))]
    fn run_finish(
        &self,
        py: Python<'_>,
        run_id: String,
        status: &str,
        outputs: Vec<String>,
    ) -> PyResult<String> {
        let status: RunStatus = parse(status)?;
        py.detach(|| {
            let paths: Vec<&str> = outputs.iter().map(String::as_str).collect();
            let view =
                reference::view_for(&self.inner, &[run_id.as_str()], &paths).map_err(py_err)?;
            let kind = view.runs.get(&run_id).map(|r| r.kind).ok_or_else(|| {
                py_err(mlprov::Error::UnknownReference {
                    reference: run_id.clone(),
                })
            })?;
            let mut pending = Batch::default();
            let outputs = self.outputs(kind, &outputs, &mut pending)?;
            let run =
                mlprov::run::finish(&self.inner, &view, &run_id, outputs, status, None, pending)
                    .map_err(py_err)?;
            json(&run)
        })
    }

    /// Record a whole run at once (one write).
    #[pyo3(signature = (kind, name=None, inputs=Vec::new(), outputs=Vec::new(), started_at=None, ended_at=None, status="succeeded", run_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn record_run(
        &self,
        py: Python<'_>,
        kind: &str,
        name: Option<String>,
        inputs: Vec<(String, String)>,
        outputs: Vec<String>,
        started_at: Option<String>,
        ended_at: Option<String>,
        status: &str,
        run_id: Option<String>,
    ) -> PyResult<String> {
        let kind: RunKind = parse(kind)?;
        let status: RunStatus = parse(status)?;
        let started_at = time(started_at)?;
        let ended_at = time(ended_at)?;
        py.detach(|| {
            let mut pending = Batch::default();
            let mut spec = RunSpec::new(kind);
            spec.name = name;
            spec.run_id = run_id;
            spec.status = status;
            spec.started_at = started_at;
            spec.ended_at = ended_at;
            spec.inputs = self.inputs(&inputs, &mut pending)?;
            spec.outputs = self.outputs(kind, &outputs, &mut pending)?;
            let run = mlprov::run::record(&self.inner, spec, pending).map_err(py_err)?;
            json(&run)
        })
    }

    /// Change a checkpoint's distribution (internal, external_weights, api_served) from now on.
    #[pyo3(signature = (reference, distribution, note=None))]
    fn release(
        &self,
        py: Python<'_>,
        reference: &str,
        distribution: &str,
        note: Option<String>,
    ) -> PyResult<String> {
        let distribution: Distribution = parse(distribution)?;
        py.detach(|| {
            let view = self.view(None)?;
            let artifact_id =
                reference::resolve_artifact(&self.inner, &view, reference).map_err(py_err)?;
            let rec = mlprov::release::release(&self.inner, &artifact_id, distribution, None, note)
                .map_err(py_err)?;
            json(&rec)
        })
    }

    /// Everything recorded about an artifact or run: `{"type": "artifact"|"run", ...}`.
    #[pyo3(signature = (reference, as_of=None))]
    fn show(&self, py: Python<'_>, reference: &str, as_of: Option<String>) -> PyResult<String> {
        let as_of = time(as_of)?;
        py.detach(|| {
            let view = self.view(as_of)?;
            match reference::resolve(&self.inner, &view, reference).map_err(py_err)? {
                Target::Artifact(a) => {
                    let art = view.artifacts.get(&a);
                    json(&serde_json::json!({
                        "type": "artifact",
                        "artifact": art,
                        "distribution": art.map(|x| x.current_distribution(as_of)),
                        "produced_by": view.producers(&a).map(|r| r.id.clone()).collect::<Vec<_>>(),
                    }))
                }
                Target::Run(r) => {
                    json(&serde_json::json!({ "type": "run", "run": view.runs.get(&r) }))
                }
            }
        })
    }

    /// Lineage of an artifact or run, upstream (default) or downstream, as the CLI's
    /// `lineage` prints it: `format` is json (the lineage.v1 schema), text, dot or mermaid.
    #[pyo3(signature = (reference, downstream=false, depth=None, as_of=None, format="json"))]
    fn lineage(
        &self,
        py: Python<'_>,
        reference: &str,
        downstream: bool,
        depth: Option<usize>,
        as_of: Option<String>,
        format: &str,
    ) -> PyResult<String> {
        let as_of = time(as_of)?;
        if !matches!(format, "json" | "text" | "dot" | "mermaid") {
            return Err(usage(format!(
                "lineage format '{format}': json, text, dot or mermaid"
            )));
        }
        py.detach(|| {
            let view = self.view(as_of)?;
            let graph = LineageGraph::build(&view);
            let target = reference::resolve(&self.inner, &view, reference).map_err(py_err)?;
            let node = graph
                .node(target.id())
                .ok_or_else(|| usage(format!("{} is not in the lineage graph", target.id())))?;
            let walk = if downstream {
                Walk::Downstream
            } else {
                Walk::Upstream
            };
            let closure = graph.closure(node, walk, depth);
            let report: LineageReport = render::lineage_report(&view, &graph, &closure, depth);
            match format {
                "text" => Ok(render::to_text(&report)),
                "dot" => Ok(render::to_dot(&report)),
                "mermaid" => Ok(render::to_mermaid(&report)),
                _ => json(&report),
            }
        })
    }

    /// The distillation audit, as `mlprov audit` runs it: every training run, or the upstream of
    /// `scope`. Returns the audit.v1 JSON report, or its text rendering with `format="text"`.
    #[pyo3(signature = (scope=None, assume_released=Vec::new(), policy=None, catalog=None, as_of=None, format="json"))]
    #[allow(clippy::too_many_arguments)]
    fn audit(
        &self,
        py: Python<'_>,
        scope: Option<String>,
        assume_released: Vec<String>,
        policy: Option<PathBuf>,
        catalog: Option<PathBuf>,
        as_of: Option<String>,
        format: &str,
    ) -> PyResult<String> {
        let as_of = time(as_of)?;
        if !matches!(format, "json" | "text") {
            return Err(usage(format!("audit format '{format}': json or text")));
        }
        py.detach(|| -> PyResult<String> {
            let policy =
                Policy::locate(policy.as_deref(), self.inner.project_dir()).map_err(py_err)?;
            let catalog = Catalog::for_audit(catalog.as_deref(), Some(&policy)).map_err(py_err)?;
            let report = audit::audit_references(
                &self.inner,
                &catalog,
                &policy,
                &assume_released,
                scope.as_deref(),
                as_of,
            )
            .map_err(py_err)?;
            if format == "text" {
                Ok(audit::render::report_text(&report, false))
            } else {
                json(&report)
            }
        })
    }
}

#[pymodule(gil_used = false)]
fn _mlprov(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyStore>()?;
    m.add("MlprovError", m.py().get_type::<MlprovError>())?;
    Ok(())
}
