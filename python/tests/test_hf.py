"""Hugging Face integration: model folders, datasets.Dataset, and a real Trainer run."""

import json
import os
import warnings

import pytest

import mlprov
import mlprov.hf
from conftest import cli, cli_json

CARD = """---
license: apache-2.0
base_model: Qwen/Qwen2.5-0.5B
base_model_relation: finetune
---
# tiny base
"""


def test_model_dir_reads_card_license_and_config(store, tmp_path):
    d = tmp_path / "ft"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"_name_or_path": "Qwen/Qwen2.5-0.5B", "model_type": "qwen2"}))
    (d / "model.safetensors").write_bytes(b"\0" * 64)
    art = mlprov.hf.tag_model_dir(d, store=store)
    assert art is not None and art.kind == "checkpoint"
    lin = store.lineage(art)
    base = lin.node("model:Qwen/Qwen2.5-0.5B@unversioned#weights")
    assert base is not None and base.kind == "external_model"
    runs = lin.runs("fine_tune")
    assert len(runs) == 1 and "config.json" in runs[0].label
    # Tagging again describes the same run (no duplicate lineage).
    mlprov.hf.tag_model_dir(d, store=store)
    assert len(store.lineage(art).runs("fine_tune")) == 1

    # A model card's declaration wins over config.json; its license becomes a claim.
    (d / "README.md").write_text(CARD)
    art2 = mlprov.hf.tag_model_dir(d, store=store)
    shown = store.show(art2)
    assert [c["license_id"] for c in shown["artifact"]["license_claims"]] == ["apache-2.0"]
    assert [r.label for r in store.lineage(art2).runs()] == ["declared by model card of ft"]


def test_downloaded_weights_of_an_external_model(store, tmp_path):
    d = tmp_path / "snap"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"_name_or_path": "Qwen/Qwen2.5-0.5B"}))
    art = mlprov.hf.tag_model_dir(d, model="Qwen/Qwen2.5-0.5B@main", store=store)
    assert art.kind == "external_model" and art.id.startswith("blake3tree:")
    shown = store.show(art)["artifact"]
    assert (shown["vendor"], shown["model"], shown["channel"]) == ("Qwen", "Qwen2.5-0.5B", "weights")
    assert store.lineage(art).runs() == [], "a model is not its own base"


def test_datasets_dataset_is_tagged_by_its_cache_files(store, tmp_path):
    datasets = pytest.importorskip("datasets")
    saved = tmp_path / "ds"
    datasets.Dataset.from_dict({"x": [1, 2, 3]}).save_to_disk(str(saved))
    ds = datasets.load_from_disk(str(saved))
    arts = mlprov.hf.tag_dataset(ds, name="numbers", store=store)
    assert len(arts) == len(ds.cache_files) >= 1
    assert all(a.kind == "dataset" and a.id.startswith("blake3:") for a in arts)
    assert store.resolve("numbers") == arts[0].id

    in_memory = datasets.Dataset.from_dict({"x": [1]})
    with pytest.warns(mlprov.MlprovWarning, match="no cache files"):
        assert mlprov.hf.tag_dataset(in_memory, store=store) == []
    strict = mlprov.Store(store.project_dir, strict=True)
    with pytest.raises(mlprov.MlprovError, match="save_to_disk"):
        mlprov.hf.tag_dataset(in_memory, store=strict)


@pytest.mark.slow
def test_trainer_run_is_recorded_with_base_model_dataset_and_checkpoints(store, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    datasets = pytest.importorskip("datasets")
    torch.manual_seed(0)

    # A tiny randomly initialised model from a config (no download), saved as a local base
    # model with a model card and config.json, then loaded back as a training script would.
    config = transformers.GPT2Config(vocab_size=64, n_positions=32, n_embd=16, n_layer=1, n_head=2)
    base_dir = tmp_path / "tiny-base"
    transformers.GPT2LMHeadModel(config).save_pretrained(str(base_dir))
    (base_dir / "README.md").write_text(CARD)
    model = transformers.GPT2LMHeadModel.from_pretrained(str(base_dir))

    rows = [[(i * 7 + j) % 64 for j in range(16)] for i in range(16)]
    data_dir = tmp_path / "train-data"
    datasets.Dataset.from_dict({"input_ids": rows, "labels": rows}).save_to_disk(str(data_dir))
    train = datasets.load_from_disk(str(data_dir))

    out = tmp_path / "out"
    args = transformers.TrainingArguments(
        output_dir=str(out),
        max_steps=4,
        save_steps=2,
        save_strategy="steps",
        per_device_train_batch_size=4,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        optim="adamw_torch",
        dataloader_pin_memory=False,
        disable_tqdm=True,
        seed=0,
    )
    callback = mlprov.hf.MlprovCallback(store, name="tiny-sft")
    assert isinstance(callback, transformers.TrainerCallback)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=train, callbacks=[callback])
    with callback:
        trainer.train()
    trainer.save_model(str(out / "final"))
    final = callback.log_checkpoint(out / "final", name="tiny-sft/final")
    assert final is not None

    run = callback.run
    assert run is not None and run.status == "succeeded" and run.kind == "fine_tune"
    assert [os.path.basename(c.path) for c in callback.checkpoints] == ["checkpoint-2", "checkpoint-4", "final"]

    shown = store.show(run)["run"]
    assert shown["status"] == "succeeded"
    roles = {i["role"] for i in shown["inputs"]}
    assert roles == {"base_weights", "training_data"}
    assert len(shown["outputs"]) == 3

    # The CLI shows the whole lineage of the last checkpoint.
    text = cli("lineage", str(out / "checkpoint-4"), store=store.project_dir).stdout
    for expected in ("tiny-sft", "tiny-base", "Qwen/Qwen2.5-0.5B", "fine_tune", "base_weights", "training_data"):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    lin = cli_json("lineage", str(out / "checkpoint-4"), store=store.project_dir)
    kinds = {(n["type"], n["kind"]) for n in lin["nodes"]}
    assert ("artifact", "dataset") in kinds
    assert ("artifact", "external_model") in kinds  # Qwen, from the base folder's model card
    assert ("run", "fine_tune") in kinds
    data_ids = {a.id for a in mlprov.hf.tag_dataset(train, store=store)}
    assert data_ids <= {n["id"] for n in lin["nodes"]}
    down = cli_json("lineage", str(base_dir), "--downstream", store=store.project_dir)
    ckpts = {n["id"] for n in down["nodes"] if n["type"] == "artifact"}
    assert {c.id for c in callback.checkpoints} <= ckpts


@pytest.mark.slow
def test_trainer_failure_marks_the_run_failed(store, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    datasets = pytest.importorskip("datasets")

    config = transformers.GPT2Config(vocab_size=64, n_positions=32, n_embd=16, n_layer=1, n_head=2)
    model = transformers.GPT2LMHeadModel(config)
    rows = [[1] * 8 for _ in range(4)]
    data_dir = tmp_path / "d"
    datasets.Dataset.from_dict({"input_ids": rows, "labels": rows}).save_to_disk(str(data_dir))

    class Boom(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            raise RuntimeError("out of memory (simulated)")

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=2, report_to=[], use_cpu=True,
        optim="adamw_torch", dataloader_pin_memory=False, disable_tqdm=True,
    )
    callback = mlprov.hf.MlprovCallback(store)
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=datasets.load_from_disk(str(data_dir)), callbacks=[callback, Boom()]
    )
    with pytest.raises(RuntimeError, match="simulated"):
        with callback:
            trainer.train()
    run = store.show(callback.run)["run"]
    assert run["status"] == "failed"
    assert run["kind"] == "train", "a model initialised from a config has no base weights"
