"""Shared fixtures. The extension must be installed (scripts/python-tests builds it into
.venv-python); the CLI binary is found through $MLPROV_BIN or target/debug/mlprov."""

import json
import os
import subprocess
from pathlib import Path

import pytest

# Nothing in these tests may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import mlprov  # noqa: E402
import mlprov._api as _api  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No store from the environment, no default store carried between tests."""
    monkeypatch.delenv("MLPROV_STORE", raising=False)
    monkeypatch.delenv("MLPROV_STRICT", raising=False)
    monkeypatch.setattr(_api, "_default_store", None)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "project"
    d.mkdir()
    return d


@pytest.fixture
def store(project):
    return mlprov.init(project)


def mlprov_bin() -> str:
    exe = os.environ.get("MLPROV_BIN") or str(REPO / "target" / "debug" / "mlprov")
    if not os.path.isfile(exe):
        pytest.fail(f"the mlprov CLI is not built at {exe}: run `cargo build` or set MLPROV_BIN")
    return exe


def cli(*args: str, store=None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [mlprov_bin()]
    if store is not None:
        cmd += ["--store", str(store)]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def cli_json(*args: str, store=None):
    return json.loads(cli(*args, "--format", "json", store=store).stdout)
