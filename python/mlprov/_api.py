"""The Python face of mlprov: stores, tagging, runs, lineage and audits.

Everything here calls the Rust library through ``mlprov._mlprov`` (the same code as the
``mlprov`` command line); this module only converts arguments and results and applies the
failure policy.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import json
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _mlprov

__all__ = [
    "Artifact",
    "AuditReport",
    "Finding",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "MlprovError",
    "MlprovWarning",
    "Run",
    "Store",
    "active_run",
    "audit",
    "get_store",
    "init",
    "lineage",
    "log_input",
    "log_output",
    "open_store",
    "record_run",
    "release",
    "set_store",
    "set_strict",
    "show",
    "start_run",
    "tag_checkpoint",
    "tag_dataset",
    "tag_model",
    "tag_other",
    "tag_synthetic",
]

logger = logging.getLogger("mlprov")

#: Raised by every failed mlprov operation in strict mode, and by reading operations always.
#: ``str(err)`` names the file or record at fault and ends with a hint, as the CLI prints it.
MlprovError = _mlprov.MlprovError


class MlprovWarning(UserWarning):
    """A tagging or run-recording error that was not raised (the default, non-strict policy):
    the training job goes on, and nothing half-written was left in the store."""


PathLike = Union[str, "os.PathLike[str]"]
#: What names an artifact: an :class:`Artifact` returned by a tag call, an artifact id
#: (``blake3:…``, ``model:…``), a recorded name, or a path (tagged on the fly if new).
Ref = Union["Artifact", PathLike]


def _env_strict() -> bool:
    return os.environ.get("MLPROV_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


def _message(err: BaseException) -> str:
    if isinstance(err, MlprovError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _utc(t: Optional[_dt.datetime]) -> Optional[str]:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.astimezone()  # a naive time is local time
    return t.astimezone(_dt.timezone.utc).isoformat()


def _fspath(p: PathLike) -> str:
    return os.fspath(p)


def _names(values: Union[None, str, Iterable[str]]) -> List[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    return [str(v) for v in values]


# --------------------------------------------------------------------------------------------
# Result objects


@dataclass(frozen=True)
class Artifact:
    """A tagged artifact: what a tag call wrote (``records`` holds the records themselves)."""

    id: str
    kind: str
    name: Optional[str] = None
    path: Optional[str] = None
    size_bytes: Optional[int] = None
    file_count: Optional[int] = None
    #: Bytes read to identify the content: 0 when the stat cache knew it (or no bytes).
    bytes_hashed: int = 0
    records: Tuple[Dict[str, Any], ...] = field(default=(), repr=False, compare=False)

    def __str__(self) -> str:
        return self.id

    @property
    def composition(self) -> Optional[Dict[str, Any]]:
        """The row composition recorded by a tag with ``source_column`` (rows per source value,
        with the artifact each value maps to), else None."""
        for r in self.records:
            if r.get("type") == "artifact" and r.get("artifact_id") == self.id and r.get("composition"):
                return r["composition"]
        return None

    @classmethod
    def _from_tagged(cls, text: str, name: Optional[str], path: Optional[str]) -> "Artifact":
        t = json.loads(text)
        return cls(
            id=t["artifact_id"],
            kind=t["kind"],
            name=name,
            path=path,
            size_bytes=t.get("size_bytes"),
            file_count=t.get("file_count"),
            bytes_hashed=t.get("bytes_hashed", 0),
            records=tuple(t.get("records", ())),
        )


@dataclass(frozen=True)
class LineageNode:
    id: str
    type: str  # "artifact" or "run"
    kind: str
    label: str
    depth: int
    names: Tuple[str, ...] = ()
    distribution: Optional[str] = None
    licenses: Tuple[str, ...] = ()
    status: Optional[str] = None
    started_at: Optional[str] = None
    ended_at: Optional[str] = None


@dataclass(frozen=True)
class LineageEdge:
    source: str
    target: str
    role: Optional[str] = None


@dataclass(frozen=True)
class Lineage:
    """A lineage walk (the ``lineage.v1`` JSON schema, as ``mlprov lineage --format json``)."""

    root: str
    direction: str
    nodes: Tuple[LineageNode, ...]
    edges: Tuple[LineageEdge, ...]
    truncated: bool
    cycles: Tuple[Tuple[str, ...], ...]
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def node(self, id_or_label: str) -> Optional[LineageNode]:
        """The node with this id, or else the first whose label or one of its names matches."""
        for n in self.nodes:
            if n.id == id_or_label:
                return n
        for n in self.nodes:
            if n.label == id_or_label or id_or_label in n.names:
                return n
        return None

    def artifacts(self, kind: Optional[str] = None) -> List[LineageNode]:
        return [n for n in self.nodes if n.type == "artifact" and (kind is None or n.kind == kind)]

    def runs(self, kind: Optional[str] = None) -> List[LineageNode]:
        return [n for n in self.nodes if n.type == "run" and (kind is None or n.kind == kind)]

    @classmethod
    def _from_json(cls, text: str) -> "Lineage":
        d = json.loads(text)
        nodes = tuple(
            LineageNode(
                id=n["id"],
                type=n["type"],
                kind=n["kind"],
                label=n["label"],
                depth=n["depth"],
                names=tuple(n.get("names", ())),
                distribution=n.get("distribution"),
                licenses=tuple(n.get("licenses", ())),
                status=n.get("status"),
                started_at=n.get("started_at"),
                ended_at=n.get("ended_at"),
            )
            for n in d["nodes"]
        )
        edges = tuple(LineageEdge(e["from"], e["to"], e.get("role")) for e in d["edges"])
        return cls(
            root=d["root"],
            direction=d["direction"],
            nodes=nodes,
            edges=edges,
            truncated=d.get("truncated", False),
            cycles=tuple(tuple(c) for c in d.get("cycles", ())),
            raw=d,
        )


@dataclass(frozen=True)
class Finding:
    """One audit finding (see docs/findings.md): a code, its severity and status, the run and
    checkpoint it is about, the restricted model, the clause and its source, and the path
    through the lineage that explains it. ``raw`` holds every field of the JSON report."""

    code: str
    name: str
    severity: str
    status: str
    message: str
    run: Optional[str] = None
    target: Optional[str] = None
    target_label: Optional[str] = None
    model: Optional[str] = None
    model_label: Optional[str] = None
    channel: Optional[str] = None
    license: Optional[Dict[str, Any]] = None
    claim: Optional[Dict[str, Any]] = None
    path: Tuple[Dict[str, Any], ...] = ()
    waiver: Optional[str] = None
    notes: Tuple[str, ...] = ()
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def active(self) -> bool:
        """Not waived (nor otherwise set aside)."""
        return self.status == "active"

    @classmethod
    def _from_dict(cls, d: Dict[str, Any]) -> "Finding":
        return cls(
            code=d["code"],
            name=d.get("name", ""),
            severity=d["severity"],
            status=d.get("status", "active"),
            message=d.get("message", ""),
            run=d.get("run"),
            target=d.get("target"),
            target_label=d.get("target_label"),
            model=d.get("model"),
            model_label=d.get("model_label"),
            channel=d.get("channel"),
            license=d.get("license"),
            claim=d.get("claim"),
            path=tuple(d.get("path", ())),
            waiver=d.get("waiver"),
            notes=tuple(d.get("notes", ())),
            raw=d,
        )


_SEVERITY_ORDER = {"allow": 0, "note": 1, "warning": 2, "error": 3}


@dataclass(frozen=True)
class AuditReport:
    """The audit as ``mlprov audit --format json`` prints it (``audit.v1`` schema)."""

    verdict: str
    summary: Dict[str, Any]
    findings: Tuple[Finding, ...]
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def fails_at(self, severity: str = "error") -> bool:
        """Whether an active finding reaches ``severity`` (what ``--fail-on`` gates on)."""
        level = _SEVERITY_ORDER[severity]
        return any(f.active and _SEVERITY_ORDER.get(f.severity, 0) >= level for f in self.findings)

    def by_code(self, code: str) -> List[Finding]:
        return [f for f in self.findings if f.code == code]

    @classmethod
    def _from_json(cls, text: str) -> "AuditReport":
        d = json.loads(text)
        return cls(
            verdict=d["verdict"],
            summary=d.get("summary", {}),
            findings=tuple(Finding._from_dict(f) for f in d.get("findings", ())),
            raw=d,
        )


# --------------------------------------------------------------------------------------------
# The store and the failure policy


class Store:
    """An mlprov store (``.mlprov/`` in a project folder).

    ``location`` is found as the CLI finds it: the given path (a project folder or its
    ``.mlprov`` folder), else ``$MLPROV_STORE``, else the nearest ``.mlprov/`` from the current
    directory upwards. The store is opened on first use, so a store that is missing when a job
    starts only turns its tag calls into warnings (or errors, when strict).

    ``strict`` (default: ``$MLPROV_STRICT``, else False) decides what a failed *writing* call
    does: non-strict (the default) warns with :class:`MlprovWarning`, logs on the ``mlprov``
    logger and returns ``None`` so the training job goes on; strict raises
    :class:`MlprovError`. Reading calls (:meth:`lineage`, :meth:`audit`, :meth:`show`) always
    raise.
    """

    def __init__(self, location: Optional[PathLike] = None, *, strict: Optional[bool] = None):
        self.location: Optional[str] = None if location is None else _fspath(location)
        self.strict: bool = _env_strict() if strict is None else bool(strict)
        self._inner: Optional[Any] = None
        self._lock = threading.Lock()
        self._warned: set = set()

    def __repr__(self) -> str:
        where = self._inner.dir if self._inner is not None else (self.location or "<discovered>")
        return f"mlprov.Store({str(where)!r}, strict={self.strict})"

    # -- opening

    def _open(self) -> Any:
        inner = self._inner
        if inner is None:
            with self._lock:
                if self._inner is None:
                    self._inner = _mlprov.Store.locate(self.location, None)
                inner = self._inner
        return inner

    @property
    def dir(self) -> str:
        """The ``.mlprov`` folder (opens the store; raises if it cannot)."""
        return str(self._open().dir)

    @property
    def project_dir(self) -> str:
        return str(self._open().project_dir)

    def _write(self, what: str, call):
        """Run a writing call under the failure policy."""
        try:
            return call(self._open())
        except Exception as err:  # noqa: BLE001 - the policy decides
            if self.strict:
                if isinstance(err, MlprovError):
                    raise
                raise MlprovError(f"{what}: {_message(err)}") from err
            msg = f"mlprov: {what} failed; the job continues without this record: {_message(err)}"
            # A loop that fails the same way every step logs it once at WARNING, then at DEBUG.
            first = msg not in self._warned
            if first and len(self._warned) < 1000:
                self._warned.add(msg)
            logger.log(logging.WARNING if first else logging.DEBUG, msg)
            warnings.warn(msg, MlprovWarning, stacklevel=3)
            return None

    # -- tagging

    def _tag_path(self, kind: str, path: PathLike, name, licenses, **extra) -> Optional[Artifact]:
        p = _fspath(path)
        text = self._write(
            f"tagging {kind} {p}",
            lambda s: s.tag_path(p, kind, name, _names(licenses), **extra),
        )
        return None if text is None else Artifact._from_tagged(text, name, p)

    def tag_dataset(
        self,
        path: PathLike,
        *,
        name: Optional[str] = None,
        licenses: Union[None, str, Iterable[str]] = None,
        source_column: Optional[str] = None,
        source_map: Union[None, Mapping[str, str], Sequence[str]] = None,
        map_file: Optional[PathLike] = None,
    ) -> Optional[Artifact]:
        """Tag a dataset file or directory by content (BLAKE3; unchanged files cost a stat).

        With ``source_column`` the rows are also counted per value of that column (JSON Lines,
        CSV, Parquet, Arrow; a file or a folder of shards) and each value is mapped to where its
        rows came from, as ``mlprov tag dataset --source-column`` does (docs/composition.md):
        ``source_map={"gpt4_alpaca": "openai/gpt-4#api", "human": "original"}`` (or
        ``["VALUE=SPEC", ...]``) and/or a ``map_file`` of ``[sources.VALUE]`` tables. The
        composition is then on :attr:`Artifact.composition`."""
        if source_column is None:
            if source_map or map_file is not None:
                return self._write(
                    "tag_dataset",
                    lambda s: _raise(MlprovError("source_map and map_file need a source_column")),
                )
            return self._tag_path("dataset", path, name, licenses)
        p = _fspath(path)
        if source_map is None:
            flags: List[str] = []
        elif isinstance(source_map, Mapping):
            flags = [f"{k}={v}" for k, v in source_map.items()]
        else:
            flags = [str(f) for f in source_map]
        mf = None if map_file is None else _fspath(map_file)
        text = self._write(
            f"tagging dataset {p} by {source_column}",
            lambda s: s.tag_composed(p, source_column, flags, mf, name, _names(licenses)),
        )
        return None if text is None else Artifact._from_tagged(text, name, p)

    def tag_checkpoint(
        self,
        path: PathLike,
        *,
        name: Optional[str] = None,
        licenses: Union[None, str, Iterable[str]] = None,
        purpose: Optional[str] = None,
    ) -> Optional[Artifact]:
        """Tag a checkpoint your organisation trained (a weights file or folder). A folder's
        LICENSE file and model card (README.md front matter) are read too."""
        return self._tag_path("checkpoint", path, name, licenses, purpose=purpose)

    def tag_other(
        self,
        path: PathLike,
        *,
        name: Optional[str] = None,
        licenses: Union[None, str, Iterable[str]] = None,
    ) -> Optional[Artifact]:
        """Tag any other file or directory (a report, a config, code)."""
        return self._tag_path("other", path, name, licenses)

    def tag_model(
        self,
        model: str,
        *,
        path: Optional[PathLike] = None,
        channel: Optional[str] = None,
        name: Optional[str] = None,
        licenses: Union[None, str, Iterable[str]] = None,
    ) -> Optional[Artifact]:
        """Tag an external model ``vendor/model[@revision]``: its downloaded weights at
        ``path`` (channel ``weights``; the folder's LICENSE and model card are read), or, without
        a path, the model as reached through ``channel`` (default ``api``)."""
        if path is not None:
            p = _fspath(path)
            text = self._write(
                f"tagging model {model} at {p}",
                lambda s: s.tag_path(
                    p, "external_model", name, _names(licenses), model=model, channel=channel or "weights"
                ),
            )
            return None if text is None else Artifact._from_tagged(text, name or model, p)
        text = self._write(
            f"tagging model {model}",
            lambda s: s.tag_model(model, channel or "api", name, _names(licenses)),
        )
        return None if text is None else Artifact._from_tagged(text, name or model, None)

    def tag_synthetic(
        self,
        path: PathLike,
        *,
        generator: Union[Artifact, str],
        channel: Optional[str] = None,
        sources: Sequence[Ref] = (),
        generated_at: Optional[_dt.datetime] = None,
        name: Optional[str] = None,
        licenses: Union[None, str, Iterable[str]] = None,
    ) -> Optional[Artifact]:
        """Tag data generated by a model, with the ``generate`` run that made it (one write).

        ``generator`` is an :class:`Artifact` (e.g. from :meth:`tag_model`), a recorded name or
        id, or ``vendor/model[@revision]`` with ``channel`` (``api`` or ``weights``): terms
        differ by channel. ``sources`` are the prompts or seed data; ``generated_at`` decides
        which license terms were in force."""
        p = _fspath(path)
        gen = generator.id if isinstance(generator, Artifact) else str(generator)
        srcs = [_ref(s) for s in sources]
        text = self._write(
            f"tagging synthetic data {p}",
            lambda s: s.tag_synthetic(p, gen, channel, srcs, _utc(generated_at), name, _names(licenses)),
        )
        return None if text is None else Artifact._from_tagged(text, name, p)

    # -- runs

    def start_run(
        self,
        kind: str,
        *,
        name: Optional[str] = None,
        inputs: Optional[Mapping[str, Union[Ref, Sequence[Ref]]]] = None,
        run_id: Optional[str] = None,
    ) -> "Run":
        """Start a run now and return it; use it as a context manager::

            with store.start_run("fine_tune", name="sft",
                                 inputs={"base_weights": base, "training_data": [mix]}) as run:
                train()
                run.log_output("checkpoints/sft")

        ``kind`` is generate, transform, filter, mix, train, fine_tune, distill, rl, merge,
        quantize or evaluate. ``inputs`` maps a role (training_data, base_weights, teacher,
        generator, judge, reward_model, eval_data, source) to one or more references.
        The start is recorded at once (a killed job leaves a ``running`` run, not nothing);
        each :meth:`Run.log_input` / :meth:`Run.log_output` is one durable record; leaving the
        ``with`` block records the end: ``succeeded``, or ``failed`` if an exception escaped.
        """
        run = Run(self, kind, name)
        pairs = _role_pairs(inputs)
        text = self._write(
            f"starting {kind} run{' ' + name if name else ''}",
            lambda s: s.run_start(kind, name, pairs, run_id),
        )
        if text is not None:
            rec = json.loads(text)
            run.id = rec["run_id"]
            run.inputs.extend(pairs)
            run.started_at = rec.get("started_at")
        return run

    def record_run(
        self,
        kind: str,
        *,
        name: Optional[str] = None,
        inputs: Optional[Mapping[str, Union[Ref, Sequence[Ref]]]] = None,
        outputs: Sequence[Ref] = (),
        started_at: Optional[_dt.datetime] = None,
        ended_at: Optional[_dt.datetime] = None,
        status: str = "succeeded",
        run_id: Optional[str] = None,
    ) -> Optional[str]:
        """Record a whole run at once (one write); returns its run id."""
        pairs = _role_pairs(inputs)
        outs = [_ref(o) for o in outputs]
        text = self._write(
            f"recording {kind} run",
            lambda s: s.record_run(kind, name, pairs, outs, _utc(started_at), _utc(ended_at), status, run_id),
        )
        return None if text is None else json.loads(text)["run_id"]

    def release(self, artifact: Ref, distribution: str, *, note: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """Record that a checkpoint is ``internal``, ``external_weights`` or ``api_served`` from now on."""
        ref = _ref(artifact)
        text = self._write(f"releasing {ref}", lambda s: s.release(ref, distribution, note))
        return None if text is None else json.loads(text)

    # -- reading (always raises on failure)

    def resolve(self, ref: Ref) -> str:
        """The artifact id that ``ref`` names (id, unique prefix, name or tagged path)."""
        return self._open().resolve(_ref(ref))

    def show(self, ref: Union[Ref, "Run"], *, as_of: Optional[_dt.datetime] = None) -> Dict[str, Any]:
        """Everything recorded about an artifact or run (as ``mlprov show --format json``)."""
        r = ref.id if isinstance(ref, Run) else _ref(ref)
        return json.loads(self._open().show(r, _utc(as_of)))

    def lineage(
        self,
        ref: Union[Ref, "Run"],
        *,
        downstream: bool = False,
        depth: Optional[int] = None,
        as_of: Optional[_dt.datetime] = None,
    ) -> Lineage:
        """Upstream (default) or downstream lineage of an artifact or run."""
        r = ref.id if isinstance(ref, Run) else _ref(ref)
        return Lineage._from_json(self._open().lineage(r, downstream, depth, _utc(as_of), "json"))

    def lineage_text(
        self,
        ref: Union[Ref, "Run"],
        *,
        downstream: bool = False,
        depth: Optional[int] = None,
        as_of: Optional[_dt.datetime] = None,
        format: str = "text",
    ) -> str:
        """The lineage as ``mlprov lineage`` prints it: ``text``, ``dot`` or ``mermaid``."""
        r = ref.id if isinstance(ref, Run) else _ref(ref)
        return self._open().lineage(r, downstream, depth, _utc(as_of), format)

    def audit(
        self,
        scope: Optional[Ref] = None,
        *,
        assume_released: Sequence[Ref] = (),
        policy: Optional[PathLike] = None,
        catalog: Optional[PathLike] = None,
        as_of: Optional[_dt.datetime] = None,
    ) -> AuditReport:
        """The distillation audit (as ``mlprov audit``): every training run, or the upstream of
        ``scope``. ``policy`` defaults to ``mlprov.toml`` beside ``.mlprov/``."""
        return AuditReport._from_json(self._audit(scope, assume_released, policy, catalog, as_of, "json"))

    def audit_text(
        self,
        scope: Optional[Ref] = None,
        *,
        assume_released: Sequence[Ref] = (),
        policy: Optional[PathLike] = None,
        catalog: Optional[PathLike] = None,
        as_of: Optional[_dt.datetime] = None,
    ) -> str:
        """The audit as ``mlprov audit`` prints it."""
        return self._audit(scope, assume_released, policy, catalog, as_of, "text")

    def _audit(self, scope, assume_released, policy, catalog, as_of, fmt) -> str:
        return self._open().audit(
            None if scope is None else _ref(scope),
            [_ref(a) for a in assume_released],
            None if policy is None else _fspath(policy),
            None if catalog is None else _fspath(catalog),
            _utc(as_of),
            fmt,
        )


def _raise(err: BaseException) -> Any:
    raise err


def _ref(ref: Ref) -> str:
    if isinstance(ref, Artifact):
        return ref.id
    if isinstance(ref, Run):
        raise TypeError("a run is not an artifact; pass one of its outputs")
    return os.fspath(ref)


def _role_pairs(inputs: Optional[Mapping[str, Union[Ref, Sequence[Ref]]]]) -> List[Tuple[str, str]]:
    pairs: List[Tuple[str, str]] = []
    for role, refs in (inputs or {}).items():
        if refs is None:  # a tag call that failed under the non-strict policy
            continue
        if isinstance(refs, (str, os.PathLike, Artifact)):
            refs = [refs]
        for r in refs:
            if r is None:  # a tag call that failed under the non-strict policy
                continue
            pairs.append((role, _ref(r)))
    return pairs


class Run:
    """A run started with :meth:`Store.start_run` / :func:`mlprov.start_run`.

    Inputs and outputs are recorded as they are logged, each in one durable record; the
    run's end (``succeeded``/``failed`` and the time) when :meth:`end` is called or the
    ``with`` block is left. Under the non-strict policy a run whose start could not be
    recorded has ``id = None`` and its calls do nothing but warn.
    """

    def __init__(self, store: Store, kind: str, name: Optional[str]):
        self.store = store
        self.kind = kind
        self.name = name
        self.id: Optional[str] = None
        self.status: str = "running"
        self.started_at: Optional[str] = None
        self.inputs: List[Tuple[str, str]] = []
        self.outputs: List[str] = []
        self._token: Optional[contextvars.Token] = None

    def __repr__(self) -> str:
        return f"mlprov.Run({self.kind!r}, name={self.name!r}, id={self.id!r}, status={self.status!r})"

    def _update(self, what: str, inputs: List[Tuple[str, str]], outputs: List[str]) -> bool:
        if self.id is None:
            self.store._write(
                what,
                lambda s: _raise(MlprovError("the run's start was not recorded, so nothing can be added to it")),
            )
            return False
        status = "running" if self.status == "running" else self.status
        text = self.store._write(
            what, lambda s: s.run_update(self.id, self.kind, inputs, outputs, status)
        )
        return text is not None

    def log_input(self, ref: Ref, role: str = "training_data") -> bool:
        """Record that the run used ``ref`` in ``role`` (paths not tagged yet are tagged on the
        fly, with the kind the role implies). Returns whether it was recorded."""
        if ref is None:
            return False
        pair = (role, _ref(ref))
        ok = self._update(f"logging input {pair[1]} to run {self.id}", [pair], [])
        if ok:
            self.inputs.append(pair)
        return ok

    def log_output(self, ref: Ref) -> bool:
        """Record that the run wrote ``ref`` (a path is tagged with the kind the run's kind
        implies: a checkpoint for training runs, a dataset for data runs)."""
        if ref is None:
            return False
        out = _ref(ref)
        ok = self._update(f"logging output {out} of run {self.id}", [], [out])
        if ok:
            self.outputs.append(out)
        return ok

    def end(self, status: str = "succeeded") -> None:
        """Record how the run ended (``succeeded`` or ``failed``); later calls do nothing."""
        if self.status != "running":
            return
        self.status = status
        if self.id is None:
            return
        self.store._write(
            f"finishing run {self.id}", lambda s: s.run_finish(self.id, status, [])
        )

    def __enter__(self) -> "Run":
        self._token = _ACTIVE_RUN.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            status = "succeeded" if exc_type is None else "failed"
            if exc_type is not None and self.store.strict:
                # Never hide the job's own exception behind a recording error.
                try:
                    self.end(status)
                except MlprovError as err:
                    logger.warning("mlprov: could not record run %s as failed: %s", self.id, _message(err))
            else:
                self.end(status)
        finally:
            if self._token is not None:
                _ACTIVE_RUN.reset(self._token)
                self._token = None
        return False


# --------------------------------------------------------------------------------------------
# Module-level API (one default store, like mlflow / wandb)

_ACTIVE_RUN: "contextvars.ContextVar[Optional[Run]]" = contextvars.ContextVar("mlprov_active_run", default=None)
_default_store: Optional[Store] = None
_default_lock = threading.Lock()


def open_store(location: Optional[PathLike] = None, *, strict: Optional[bool] = None) -> Store:
    """A :class:`Store` found as the CLI finds it (``location``, else ``$MLPROV_STORE``, else the
    nearest ``.mlprov/`` upwards). Strict stores are opened at once, so a wrong path raises
    here; others are opened on first use."""
    store = Store(location, strict=strict)
    if store.strict:
        store._open()
    return store


def init(project_dir: PathLike = ".", *, strict: Optional[bool] = None) -> Store:
    """Create ``.mlprov/`` in ``project_dir`` (or open the one there) and make it the default store."""
    store = Store(project_dir, strict=strict)
    store._inner = _mlprov.Store.init(_fspath(project_dir))
    set_store(store)
    return store


def set_store(store: Union[Store, PathLike, None], *, strict: Optional[bool] = None) -> Optional[Store]:
    """Set the store the module-level functions use (a :class:`Store` or a location; None to
    go back to discovery)."""
    global _default_store
    with _default_lock:
        if store is None or isinstance(store, Store):
            _default_store = store
        else:
            _default_store = Store(store, strict=strict)
        return _default_store


def get_store() -> Store:
    """The default store (discovered on first use)."""
    global _default_store
    with _default_lock:
        if _default_store is None:
            _default_store = Store()
        return _default_store


def set_strict(strict: bool = True) -> None:
    """Make the default store strict (failed writes raise) or not (they warn)."""
    get_store().strict = bool(strict)


def active_run() -> Optional[Run]:
    """The run of the innermost ``with start_run(...)`` block, if any."""
    return _ACTIVE_RUN.get()


def tag_dataset(path: PathLike, **kw: Any) -> Optional[Artifact]:
    return get_store().tag_dataset(path, **kw)


def tag_checkpoint(path: PathLike, **kw: Any) -> Optional[Artifact]:
    return get_store().tag_checkpoint(path, **kw)


def tag_other(path: PathLike, **kw: Any) -> Optional[Artifact]:
    return get_store().tag_other(path, **kw)


def tag_model(model: str, **kw: Any) -> Optional[Artifact]:
    return get_store().tag_model(model, **kw)


def tag_synthetic(path: PathLike, **kw: Any) -> Optional[Artifact]:
    return get_store().tag_synthetic(path, **kw)


def start_run(kind: str, **kw: Any) -> Run:
    return get_store().start_run(kind, **kw)


def record_run(kind: str, **kw: Any) -> Optional[str]:
    return get_store().record_run(kind, **kw)


def release(artifact: Ref, distribution: str, **kw: Any) -> Optional[Dict[str, Any]]:
    return get_store().release(artifact, distribution, **kw)


def _require_run(what: str) -> Optional[Run]:
    run = active_run()
    if run is None:
        get_store()._write(
            what, lambda s: _raise(MlprovError(f"{what} needs an active run: use `with mlprov.start_run(...)`"))
        )
    return run


def log_input(ref: Ref, role: str = "training_data") -> bool:
    """:meth:`Run.log_input` on the active run."""
    run = _require_run("log_input")
    return False if run is None else run.log_input(ref, role)


def log_output(ref: Ref) -> bool:
    """:meth:`Run.log_output` on the active run."""
    run = _require_run("log_output")
    return False if run is None else run.log_output(ref)


def lineage(ref: Union[Ref, Run], **kw: Any) -> Lineage:
    return get_store().lineage(ref, **kw)


def audit(scope: Optional[Ref] = None, **kw: Any) -> AuditReport:
    return get_store().audit(scope, **kw)


def show(ref: Union[Ref, Run], **kw: Any) -> Dict[str, Any]:
    return get_store().show(ref, **kw)
