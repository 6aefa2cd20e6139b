import datetime as dt
import json
import os
import time
import warnings

import pytest

import mlprov
from conftest import cli, cli_json


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_tag_run_and_lineage(store, project):
    prompts = write(project / "data" / "prompts.jsonl", '{"q": "2+2"}\n')
    gen = write(project / "data" / "math.jsonl", '{"q": "2+2", "a": "4"}\n')
    mix = write(project / "data" / "mix.jsonl", '{"x": 1}\n')
    ckpt = write(project / "ckpt" / "model.safetensors", "weights")

    synthetic = store.tag_synthetic(
        gen,
        generator="deepseek-ai/DeepSeek-V3@2024-12-26",
        channel="api",
        sources=[prompts],
        generated_at=dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc),
        name="math",
    )
    assert synthetic is not None and synthetic.kind == "synthetic_dataset"
    assert synthetic.id.startswith("blake3:")
    data = store.tag_dataset(mix, name="sft-mix")
    base = store.tag_model("Qwen/Qwen2.5-7B-Instruct", channel="weights", licenses="apache-2.0")
    assert base.id == "model:Qwen/Qwen2.5-7B-Instruct@unversioned#weights"

    with store.start_run("fine_tune", name="sft", inputs={"base_weights": base, "training_data": [data]}) as run:
        assert mlprov.active_run() is run
        assert run.log_input(synthetic, role="training_data")
        assert run.log_output(ckpt.parent)
    assert mlprov.active_run() is None
    assert run.status == "succeeded"

    shown = store.show(run)
    assert shown["type"] == "run"
    r = shown["run"]
    assert r["status"] == "succeeded" and r["kind"] == "fine_tune"
    assert r["started_at"] <= r["ended_at"]
    roles = {(i["role"], i["artifact_id"]) for i in r["inputs"]}
    assert roles == {("base_weights", base.id), ("training_data", data.id), ("training_data", synthetic.id)}
    assert len(r["outputs"]) == 1

    lin = store.lineage(ckpt.parent)
    labels = {n.label for n in lin.nodes}
    assert {"sft", "sft-mix", "math"} <= labels
    gen_runs = lin.runs("generate")
    assert len(gen_runs) == 1
    deepseek = "model:deepseek-ai/DeepSeek-V3@2024-12-26#api"
    assert any(e.role == "generator" and deepseek in (e.source, e.target) for e in lin.edges)
    assert any(e.role == "source" for e in lin.edges)
    # The CLI reads the same store and agrees.
    assert cli_json("lineage", str(ckpt.parent), store=store.project_dir)["nodes"] == lin.raw["nodes"]
    assert "sft" in store.lineage_text(ckpt.parent)
    assert "digraph" in store.lineage_text(ckpt.parent, format="dot")


def test_failed_run_is_recorded_and_exception_propagates(store, project):
    data = store.tag_dataset(write(project / "d.jsonl", "{}\n"))
    with pytest.raises(ZeroDivisionError):
        with store.start_run("train", name="boom", inputs={"training_data": data}) as run:
            1 / 0
    assert run.status == "failed"
    r = store.show(run)["run"]
    assert r["status"] == "failed" and r.get("ended_at")
    assert [i["artifact_id"] for i in r["inputs"]] == [data.id]


def test_started_run_is_durable_before_it_ends(store, project):
    """A job killed mid-way leaves a running run with what it logged, not nothing."""
    data = store.tag_dataset(write(project / "d.jsonl", "{}\n"))
    run = store.start_run("train", name="long", inputs={"training_data": data})
    run.log_output(write(project / "ck" / "w.bin", "w").parent)
    # Another process (the CLI) sees it at once.
    shown = cli_json("show", run.id, store=store.project_dir)
    assert shown["run"]["status"] == "running"
    assert len(shown["run"]["outputs"]) == 1
    run.end()
    assert cli_json("show", run.id, store=store.project_dir)["run"]["status"] == "succeeded"


def test_retag_is_cheap_and_records_are_durable_on_return(store, project):
    f = write(project / "big.bin", "x" * 100_000)
    first = store.tag_dataset(f, name="big")
    assert first.bytes_hashed == 100_000
    # Past the stat cache's racy-clean window (100 ms after the last change) the digest is
    # cached by the next tag, and the one after that reads nothing.
    time.sleep(0.2)
    store.tag_dataset(f, name="big")
    again = store.tag_dataset(f, name="big")
    assert again.id == first.id and again.bytes_hashed == 0
    assert cli_json("show", first.id, store=store.project_dir)["artifact"]["id"] == first.id


def test_store_discovery_matches_the_cli(project, monkeypatch, tmp_path):
    mlprov.init(project)
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    s = mlprov.Store()
    assert s.dir == str(project / ".mlprov")
    other = tmp_path / "other"
    other.mkdir()
    mlprov.init(other)
    monkeypatch.setenv("MLPROV_STORE", str(other))
    assert mlprov.Store().dir == str(other / ".mlprov")
    assert mlprov.Store(project).dir == str(project / ".mlprov")


def test_module_level_api_uses_the_default_store(project, monkeypatch):
    mlprov.init(project)
    monkeypatch.chdir(project)
    data = mlprov.tag_dataset(write(project / "d.jsonl", "{}\n"), name="d")
    with mlprov.start_run("evaluate", name="eval") as run:
        assert mlprov.log_input(data, role="eval_data")
    assert mlprov.show(run)["run"]["inputs"] == [{"artifact_id": data.id, "role": "eval_data"}]
    assert mlprov.get_store().resolve("d") == data.id


def test_broken_store_in_a_training_loop_warns_and_the_loop_continues(tmp_path, caplog):
    store = mlprov.Store(tmp_path / "no" / "such" / "store")
    f = write(tmp_path / "d.jsonl", "{}\n")
    steps = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level("WARNING", logger="mlprov"):
            for step in range(5):
                assert store.tag_dataset(f, name=f"step-{step}") is None
                with store.start_run("train", inputs={"training_data": f}) as run:
                    run.log_output(f)
                steps += 1
    assert steps == 5
    ours = [w for w in caught if issubclass(w.category, mlprov.MlprovWarning)]
    assert len(ours) >= 5
    assert "not an mlprov store" in str(ours[0].message)
    assert "the job continues" in str(ours[0].message)
    assert any("not an mlprov store" in r.getMessage() for r in caplog.records)


def test_strict_mode_raises_a_clear_error(tmp_path, monkeypatch):
    broken = tmp_path / "no" / "such" / "store"
    with pytest.raises(mlprov.MlprovError) as err:
        mlprov.open_store(broken, strict=True)
    msg = str(err.value)
    assert str(broken) in msg and "not an mlprov store" in msg and "hint:" in msg

    monkeypatch.setenv("MLPROV_STRICT", "1")
    lazy = mlprov.Store(broken)
    assert lazy.strict
    with pytest.raises(mlprov.MlprovError, match="not an mlprov store"):
        lazy.tag_dataset(tmp_path)

    (tmp_path / "p").mkdir()
    good = mlprov.init(tmp_path / "p", strict=True)
    with pytest.raises(mlprov.MlprovError, match="no such file or directory"):
        good.tag_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(mlprov.MlprovError, match="unknown Role"):
        with good.start_run("train", inputs={"trainig_data": tmp_path}):
            pass


def test_bad_arguments_are_tagging_errors_too(store, project):
    with pytest.warns(mlprov.MlprovWarning, match="expected vendor/model"):
        assert store.tag_model("gpt-4o", channel="api") is None
    with pytest.warns(mlprov.MlprovWarning, match="unknown RunKind"):
        run = store.start_run("finetune")
    assert run.id is None
    with pytest.warns(mlprov.MlprovWarning):
        assert run.log_output(project) is False


def test_audit_findings_match_the_cli(tmp_path):
    demo = tmp_path / "demo"
    cli("demo", "--dir", str(demo))
    s = mlprov.Store(demo)
    report = s.audit()
    expected = json.loads(cli("audit", "--format", "json", store=demo, check=False).stdout)
    assert report.verdict == expected["verdict"]
    assert [f.code for f in report.findings] == [f["code"] for f in expected["findings"]]
    assert report.findings, "the demo lineage has findings"
    f = next(x for x in report.findings if x.path)  # a finding carries its evidence path
    assert isinstance(f, mlprov.Finding)
    assert f.code and f.severity in ("error", "warning", "note", "allow") and f.message
    assert f.path[0]["id"] and f.model
    assert report.fails_at("error") == any(
        x["severity"] == "error" and x["status"] == "active" for x in expected["findings"]
    )
    assert f.code in s.audit_text()
    scoped = s.audit("acme-chat-7b")
    assert {x.code for x in scoped.findings} <= {x.code for x in report.findings}


def test_lineage_reads_as_of_a_past_moment(store, project):
    before = dt.datetime.now(dt.timezone.utc)
    data = store.tag_dataset(write(project / "d.jsonl", "{}\n"), name="d")
    with pytest.raises(mlprov.MlprovError, match="no artifact or run matches"):
        store.lineage(data, as_of=before - dt.timedelta(seconds=1))
    assert store.lineage(data).root == data.id


def test_dataset_row_composition(store, project):
    rows = [{"source": "gpt4_alpaca", "text": f"a{i}"} for i in range(3)] + [{"source": "human", "text": "h"}]
    mix = write(project / "mix.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    art = store.tag_dataset(
        mix, name="instruct-mix", source_column="source",
        source_map={"gpt4_alpaca": "openai/gpt-4#api", "human": "original"},
    )
    assert art is not None
    groups = {g["value"]: g for g in art.composition["groups"]}
    assert (groups["gpt4_alpaca"]["rows"], groups["human"]["rows"]) == (3, 1)
    assert art.composition["column"] == "source"
    lin = store.lineage(art)
    assert lin.node("model:openai/gpt-4@unversioned#api") is not None
    with pytest.warns(mlprov.MlprovWarning, match="source_column"):
        assert store.tag_dataset(mix, source_map={"x": "original"}) is None
    strict = mlprov.Store(store.project_dir, strict=True)
    with pytest.raises(mlprov.MlprovError, match="nope"):
        strict.tag_dataset(mix, source_column="nope")
