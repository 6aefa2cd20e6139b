"""Type stubs of mlprov.hf (MlprovCallback is created lazily, so it is declared here)."""

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from transformers import TrainerCallback

from ._api import Artifact, Run, Store

def tag_model_dir(
    path: Union[str, os.PathLike[str]],
    *,
    model: Optional[str] = None,
    base_model: Optional[Union[str, Artifact]] = None,
    name: Optional[str] = None,
    licenses: Union[None, str, Iterable[str]] = None,
    store: Optional[Store] = None,
) -> Optional[Artifact]: ...
def tag_dataset(
    dataset: Any,
    *,
    name: Optional[str] = None,
    licenses: Union[None, str, Iterable[str]] = None,
    store: Optional[Store] = None,
) -> List[Artifact]: ...

class MlprovCallback(TrainerCallback):
    store: Store
    kind: str
    name: Optional[str]
    run: Optional[Run]
    checkpoints: List[Artifact]
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
    ) -> None: ...
    def log_checkpoint(
        self, path: Union[str, os.PathLike[str]], *, name: Optional[str] = None
    ) -> Optional[Artifact]: ...
    def __enter__(self) -> "MlprovCallback": ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...
