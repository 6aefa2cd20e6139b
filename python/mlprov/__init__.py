"""mlprov for training and data-generation scripts.

Tag datasets, synthetic data, checkpoints and external models by content, record runs with
role-tagged inputs and outputs, and read lineage and license audits — through the same Rust
library as the ``mlprov`` command line, in one import::

    import mlprov

    with mlprov.start_run("fine_tune", name="sft",
                          inputs={"base_weights": mlprov.tag_model("Qwen/Qwen2.5-7B"),
                                  "training_data": mlprov.tag_dataset("data/mix.jsonl")}) as run:
        train()
        run.log_output("checkpoints/sft")

By default a failed tag call warns (:class:`MlprovWarning`) and the job goes on; strict mode
(``MLPROV_STRICT=1``, ``mlprov.set_strict()`` or ``Store(..., strict=True)``) raises
:class:`MlprovError`. Hugging Face helpers live in :mod:`mlprov.hf` (``pip install mlprov[hf]``).
"""

from ._api import (
    Artifact,
    AuditReport,
    Finding,
    Lineage,
    LineageEdge,
    LineageNode,
    MlprovError,
    MlprovWarning,
    Run,
    Store,
    active_run,
    audit,
    get_store,
    init,
    lineage,
    log_input,
    log_output,
    open_store,
    record_run,
    release,
    set_store,
    set_strict,
    show,
    start_run,
    tag_checkpoint,
    tag_dataset,
    tag_model,
    tag_other,
    tag_synthetic,
)
from . import _api
from ._mlprov import __version__

# The public names are _api's (one list to keep), plus the version.
__all__ = ["__version__"]
__all__ += _api.__all__
