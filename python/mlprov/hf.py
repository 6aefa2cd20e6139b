"""Hugging Face integration: model folders, ``datasets.Dataset`` objects, and a
``transformers.TrainerCallback`` that records a training run.

``transformers`` and ``datasets`` are imported lazily (``pip install mlprov[hf]``); importing
this module needs neither. Every call follows the store's failure policy: by default an error
is a :class:`mlprov.MlprovWarning` and training goes on; a strict store raises.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Union

from ._api import Artifact, MlprovError, Run, Store, _raise, get_store

if TYPE_CHECKING:  # pragma: no cover
    import datasets  # noqa: F401

__all__ = ["MlprovCallback", "tag_dataset", "tag_model_dir"]

# Hub ids: org/name, letters, digits, '-', '_', '.'.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Packaged builders whose name says nothing about the data.
_GENERIC_BUILDERS = {"json", "csv", "parquet", "text", "arrow", "generator", "pandas", "sql", "webdataset", "imagefolder", "audiofolder"}
# Namespace for run ids derived from what a folder declares (same folder, same run).
_CONFIG_RUN_NS = uuid.UUID("5b0e3c8e-7a52-4c1e-9b57-6d8f3b1c2a90")


def _store(store: Optional[Store]) -> Store:
    return store if store is not None else get_store()


def _is_hub_id(ref: str) -> bool:
    return bool(_HUB_ID.match(ref)) and not os.path.exists(ref)


def _read_config(path: str) -> Dict[str, Any]:
    cfg = os.path.join(path, "config.json")
    if not os.path.isfile(cfg):
        return {}
    try:
        with open(cfg, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def tag_model_dir(
    path: Union[str, "os.PathLike[str]"],
    *,
    model: Optional[str] = None,
    base_model: Optional[Union[str, Artifact]] = None,
    name: Optional[str] = None,
    licenses: Union[None, str, Iterable[str]] = None,
    store: Optional[Store] = None,
) -> Optional[Artifact]:
    """Tag a local model folder (``save_pretrained`` output or a Hub snapshot).

    With ``model`` (``vendor/model[@revision]``) the folder is the downloaded weights of that
    external model; without it, a checkpoint of yours. Either way the library reads the
    folder's LICENSE file (recognised against the license catalog) and its model card
    (``README.md`` front matter: ``license``, ``base_model``, ``datasets``). ``config.json``'s
    ``_name_or_path`` — the Hub model ``from_pretrained`` loaded before this folder was saved —
    is recorded as the folder's base weights when the card declares no base model; pass
    ``base_model`` to say so explicitly (a Hub id, or an :class:`Artifact`).
    """
    s = _store(store)
    p = os.fspath(path)
    if model is not None:
        art = s.tag_model(model, path=p, name=name, licenses=licenses)
    else:
        art = s.tag_checkpoint(p, name=name or os.path.basename(os.path.normpath(p)), licenses=licenses)
    if art is None:
        return None
    declared_by_card = any(r.get("type") == "run" for r in art.records)
    base: Optional[Union[str, Artifact]] = base_model
    source = "argument"
    if base is None and not declared_by_card:
        candidate = _read_config(p).get("_name_or_path")
        if isinstance(candidate, str) and _is_hub_id(candidate) and candidate.split("@")[0] != (model or "").split("@")[0]:
            base, source = candidate, "config.json"
    if base is None:
        return art
    base_art = base if isinstance(base, Artifact) else _base_artifact(s, base)
    if base_art is None:
        return art
    seed = f"{source}\0{art.id}\0{base_art.id}"
    s.record_run(
        "fine_tune",
        name=f"declared by {source} of {os.path.basename(os.path.normpath(p))}",
        inputs={"base_weights": base_art},
        outputs=[art],
        run_id=f"run:{uuid.uuid5(_CONFIG_RUN_NS, seed)}",
    )
    return art


def _base_artifact(s: Store, ref: str) -> Optional[Artifact]:
    """A base model named by a Hub id (tagged as external weights) or a local folder."""
    if os.path.isdir(ref):
        return tag_model_dir(ref, store=s)
    if _is_hub_id(ref.split("@")[0]):
        return s.tag_model(ref, channel="weights")
    return s._write(
        f"tagging base model {ref}",
        lambda _: _raise(MlprovError(f"'{ref}' is neither a local folder nor a Hub id (org/name)")),
    )


def _dataset_name(ds: Any, name: Optional[str]) -> Optional[str]:
    if name:
        return name
    info = getattr(ds, "info", None)
    base = getattr(info, "dataset_name", None) or getattr(info, "builder_name", None)
    if not base or base in _GENERIC_BUILDERS:
        return None
    split = getattr(ds, "split", None)
    return f"{base}[{split}]" if split else str(base)


def tag_dataset(
    dataset: Any,
    *,
    name: Optional[str] = None,
    licenses: Union[None, str, Iterable[str]] = None,
    store: Optional[Store] = None,
) -> List[Artifact]:
    """Tag a ``datasets.Dataset`` by its Arrow cache files (or every split of a
    ``DatasetDict``); returns one :class:`Artifact` per file.

    A dataset held only in memory (``Dataset.from_dict`` without ``save_to_disk``) has no
    files to identify it by: that is a tagging error (a warning unless strict).
    """
    s = _store(store)
    if hasattr(dataset, "cache_files") and isinstance(dataset.cache_files, dict):
        # DatasetDict: {split: [files]}
        out: List[Artifact] = []
        for split, ds in dataset.items():
            out.extend(tag_dataset(ds, name=f"{name}[{split}]" if name else None, licenses=licenses, store=s))
        return out
    files = [f["filename"] for f in getattr(dataset, "cache_files", None) or [] if f.get("filename")]
    if not files:
        s._write(
            "tagging a datasets.Dataset",
            lambda _: _raise(
                MlprovError(
                    "the dataset has no cache files (it lives in memory)\n"
                    "  hint: dataset.save_to_disk(DIR) and load it back, or tag the files it was built from"
                )
            ),
        )
        return []
    label = _dataset_name(dataset, name)
    arts = []
    for f in files:
        art = s.tag_dataset(f, name=label, licenses=licenses)
        if art is not None:
            arts.append(art)
    return arts


def _callback_base() -> type:
    try:
        from transformers import TrainerCallback
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("mlprov.hf.MlprovCallback needs transformers: pip install 'mlprov[hf]'") from err
    return TrainerCallback


class _CallbackMixin:
    """The recording logic of :class:`MlprovCallback` (kept apart so that this module imports
    without transformers)."""

    def __init__(
        self,
        store: Optional[Store] = None,
        *,
        kind: str = "fine_tune",
        name: Optional[str] = None,
        base_model: Optional[Union[str, Artifact]] = None,
        train_datasets: Optional[Sequence[Any]] = None,
        eval_datasets: Optional[Sequence[Any]] = None,
        extra_inputs: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.store = _store(store)
        self.kind = kind
        self.name = name
        self.base_model = base_model
        self.train_datasets = list(train_datasets) if train_datasets is not None else None
        self.eval_datasets = list(eval_datasets) if eval_datasets is not None else None
        self.extra_inputs = dict(extra_inputs or {})
        self.run: Optional[Run] = None
        self.checkpoints: List[Artifact] = []

    # -- inputs

    def _dataset_inputs(self, given: Optional[List[Any]], loader: Any) -> List[Any]:
        sources = given
        if sources is None:
            ds = getattr(loader, "dataset", None) if loader is not None else None
            sources = [ds] if ds is not None else []
        out: List[Any] = []
        for d in sources:
            if isinstance(d, (Artifact, str, os.PathLike)):
                out.append(d)
            elif d is not None:
                out.extend(tag_dataset(d, store=self.store))
        return out

    def _base_input(self, model: Any) -> Optional[Artifact]:
        base = self.base_model
        if base is None and model is not None:
            config = getattr(model, "config", None)
            base = getattr(config, "_name_or_path", None) or getattr(model, "name_or_path", None) or None
        if base is None or base == "":
            return None  # initialised from a config: trained from scratch
        if isinstance(base, Artifact):
            return base
        return _base_artifact(self.store, str(base))

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not getattr(state, "is_world_process_zero", True) or self.run is not None:
            return
        inputs: Dict[str, List[Any]] = {}
        base = self._base_input(model)
        if base is not None:
            inputs["base_weights"] = [base]
        train = self._dataset_inputs(self.train_datasets, kwargs.get("train_dataloader"))
        if train:
            inputs["training_data"] = train
        evals = self._dataset_inputs(self.eval_datasets, kwargs.get("eval_dataloader")) if (
            self.eval_datasets is not None or kwargs.get("eval_dataloader") is not None
        ) else []
        if evals:
            inputs["eval_data"] = evals
        for role, refs in self.extra_inputs.items():
            inputs.setdefault(role, []).extend(refs if isinstance(refs, (list, tuple)) else [refs])
        kind = self.kind if base is not None or self.kind != "fine_tune" else "train"
        name = self.name or getattr(args, "run_name", None) or os.path.basename(os.path.normpath(args.output_dir))
        self.run = self.store.start_run(kind, name=name, inputs=inputs)

    # -- outputs

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is None or not getattr(state, "is_world_process_zero", True):
            return
        ckpt = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if not os.path.isdir(ckpt):
            self.store._write(
                f"tagging checkpoint {ckpt}",
                lambda _: _raise(MlprovError(f"{ckpt}: the checkpoint folder the Trainer reported is missing")),
            )
            return
        self.log_checkpoint(ckpt, name=f"{self.run.name}/checkpoint-{state.global_step}")

    def log_checkpoint(self, path: Union[str, "os.PathLike[str]"], *, name: Optional[str] = None) -> Optional[Artifact]:
        """Tag a checkpoint folder and record it as an output of the run (e.g. the final
        ``trainer.save_model(DIR)``, which happens after training ends)."""
        if self.run is None:
            return None
        art = self.store.tag_checkpoint(path, name=name)
        if art is not None:
            self.run.log_output(art)
            self.checkpoints.append(art)
        return art

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is not None and getattr(state, "is_world_process_zero", True):
            self.run.end("succeeded")

    # -- failures: `with callback: trainer.train()` marks the run failed on an exception

    def __enter__(self) -> "_CallbackMixin":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and self.run is not None:
            self.run.end("failed")
        return False


_callback_class: Optional[type] = None


def _make_callback_class() -> type:
    global _callback_class
    if _callback_class is None:
        base = _callback_base()

        class MlprovCallback(_CallbackMixin, base):  # type: ignore[misc, valid-type]
            __doc__ = _MLPROV_CALLBACK_DOC
            __module__ = __name__

        _callback_class = MlprovCallback
    return _callback_class


_MLPROV_CALLBACK_DOC = """A ``transformers.TrainerCallback`` that records the training run.

    At ``on_train_begin`` it starts a run (``fine_tune`` when there is a base model, else
    ``train``) whose inputs are the base model (``base_model=``, else the model's
    ``config._name_or_path``: a local folder is tagged with :func:`tag_model_dir`, a Hub id as
    external weights), the training data (``train_datasets=``, else the Trainer's train
    dataset, tagged by its cache files) and the eval data. Every checkpoint the Trainer saves
    is tagged and recorded as an output when it is saved (``on_save``); ``on_train_end``
    marks the run succeeded. A job killed mid-way leaves a ``running`` run with the
    checkpoints saved so far. Wrap ``trainer.train()`` in ``with callback:`` to record a
    ``failed`` run when training raises; call :meth:`log_checkpoint` for the model saved
    after training.

    Only the main process (``state.is_world_process_zero``) records.
    """


def __getattr__(attr: str) -> Any:
    if attr == "MlprovCallback":
        return _make_callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
