"""Type stubs of the compiled extension (python/src/lib.rs). Results are JSON strings that
``mlprov._api`` turns into objects; use the ``mlprov`` package rather than this module."""

from os import PathLike
from typing import List, Optional, Sequence, Tuple, Union

__version__: str

_Path = Union[str, PathLike[str]]

class MlprovError(Exception):
    """``str(err)`` is the message the CLI prints for the same error, hint included."""

class Store:
    @staticmethod
    def locate(store: Optional[str] = None, start: Optional[_Path] = None) -> Store: ...
    @staticmethod
    def init(project_dir: _Path) -> Store: ...
    @property
    def dir(self) -> str: ...
    @property
    def project_dir(self) -> str: ...
    def tag_path(
        self,
        path: _Path,
        kind: str,
        name: Optional[str] = None,
        licenses: Sequence[str] = (),
        model: Optional[str] = None,
        channel: Optional[str] = None,
        purpose: Optional[str] = None,
    ) -> str: ...
    def tag_composed(
        self,
        path: _Path,
        column: str,
        maps: Sequence[str] = (),
        map_file: Optional[_Path] = None,
        name: Optional[str] = None,
        licenses: Sequence[str] = (),
    ) -> str: ...
    def tag_model(
        self, model: str, channel: str, name: Optional[str] = None, licenses: Sequence[str] = ()
    ) -> str: ...
    def tag_synthetic(
        self,
        path: _Path,
        generator: str,
        channel: Optional[str] = None,
        sources: Sequence[str] = (),
        generated_at: Optional[str] = None,
        name: Optional[str] = None,
        licenses: Sequence[str] = (),
    ) -> str: ...
    def resolve(self, reference: str) -> str: ...
    def run_start(
        self,
        kind: str,
        name: Optional[str] = None,
        inputs: Sequence[Tuple[str, str]] = (),
        run_id: Optional[str] = None,
    ) -> str: ...
    def run_update(
        self,
        run_id: str,
        kind: str,
        inputs: Sequence[Tuple[str, str]] = (),
        outputs: Sequence[str] = (),
        status: str = "running",
    ) -> str: ...
    def run_finish(self, run_id: str, status: str = "succeeded", outputs: Sequence[str] = ()) -> str: ...
    def record_run(
        self,
        kind: str,
        name: Optional[str] = None,
        inputs: Sequence[Tuple[str, str]] = (),
        outputs: Sequence[str] = (),
        started_at: Optional[str] = None,
        ended_at: Optional[str] = None,
        status: str = "succeeded",
        run_id: Optional[str] = None,
    ) -> str: ...
    def release(self, reference: str, distribution: str, note: Optional[str] = None) -> str: ...
    def show(self, reference: str, as_of: Optional[str] = None) -> str: ...
    def lineage(
        self,
        reference: str,
        downstream: bool = False,
        depth: Optional[int] = None,
        as_of: Optional[str] = None,
        format: str = "json",
    ) -> str: ...
    def audit(
        self,
        scope: Optional[str] = None,
        assume_released: List[str] = ...,
        policy: Optional[_Path] = None,
        catalog: Optional[_Path] = None,
        as_of: Optional[str] = None,
        format: str = "json",
    ) -> str: ...
