//! Row composition end to end: `tag dataset --source-column` against DuckDB's GROUP BY on
//! generated Parquet shards, every format, the all-or-nothing failures, `show`, and
//! `mlprov query` answering the issue's two questions on the demo.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{mlprov_in, validator_python, Project};

/// Runs Python (the validators venv: DuckDB and polars) and returns its stdout.
fn python(script: &str, cwd: &Path) -> String {
    let out = Command::new(validator_python())
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn composition_of(ran: &common::Ran) -> serde_json::Value {
    let out = ran.json();
    out["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "artifact" && r["artifact_id"] == out["artifact_id"])
        .map(|r| r["composition"].clone())
        .expect("the dataset's record carries the composition")
}

fn counts(composition: &serde_json::Value) -> BTreeMap<String, u64> {
    composition["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap_or("<null>").to_string(),
                g["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn composition_of_parquet_shards_equals_duckdb_group_by() {
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("mix")).unwrap();
    // 240,000 rows over 4 shards, 7 sources with skewed shares, some null sources.
    python(
        r#"
import duckdb
con = duckdb.connect()
for shard in range(4):
    con.execute(f"""
        COPY (
          SELECT i AS id,
                 CASE WHEN i % 97 = 0 THEN NULL
                      ELSE ['gpt4_alpaca','dolly','oasst','sharegpt','flan','code_alpaca','human'][1 + ((i * 7919) % 101) % 7] END AS source,
                 'instruction ' || i AS instruction,
                 (i % 13) * 1.5 AS score
          FROM range({shard} * 60000, ({shard} + 1) * 60000) t(i)
        ) TO 'mix/part-{shard}.parquet' (FORMAT parquet, ROW_GROUP_SIZE 16384)""")
"#,
        p.path(),
    );
    let expected: BTreeMap<String, u64> = python(
        r#"
import duckdb, json
rows = duckdb.sql("SELECT coalesce(source, '<null>') AS s, count(*) FROM read_parquet('mix/*.parquet') GROUP BY ALL").fetchall()
print(json.dumps({s: n for s, n in rows}))
"#,
        p.path(),
    )
    .trim()
    .parse::<serde_json::Value>()
    .map(|v| serde_json::from_value(v).unwrap())
    .unwrap();
    let ran = p.ok(&[
        "--format",
        "json",
        "tag",
        "dataset",
        "mix",
        "--name",
        "mix",
        "--source-column",
        "source",
        "--map",
        "gpt4_alpaca=openai/gpt-4#api",
        "--map",
        "human=original",
    ]);
    let composition = composition_of(&ran);
    assert_eq!(counts(&composition), expected);
    assert_eq!(composition["rows"], 240_000);
    assert_eq!(
        composition["digest_algorithm"],
        "xxh3-64-row-chain/sum128-v1"
    );
    let gpt = composition["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["value"] == "gpt4_alpaca")
        .unwrap();
    assert_eq!(gpt["source"], "model:openai/gpt-4@unversioned#api");
    assert_eq!(gpt["mapped"], true);

    // The same rows in other shards give the same composition (digests included).
    std::fs::create_dir_all(p.path().join("reshuffled")).unwrap();
    python(
        r#"
import duckdb
con = duckdb.connect()
con.execute("COPY (SELECT * FROM read_parquet('mix/*.parquet') ORDER BY hash(id)) TO 'reshuffled/all.parquet' (FORMAT parquet)")
"#,
        p.path(),
    );
    let again = p.ok(&[
        "--format",
        "json",
        "tag",
        "dataset",
        "reshuffled",
        "--source-column",
        "source",
        "--map",
        "gpt4_alpaca=openai/gpt-4#api",
        "--map",
        "human=original",
    ]);
    assert_eq!(composition_of(&again), composition);

    // The mapped model is an upstream edge with its row count; show prints the table.
    let lineage = p.ok(&["lineage", "mix"]).stdout;
    assert!(lineage.contains("gpt4_alpaca:"), "{lineage}");
    let show = p.ok(&["show", "mix"]).stdout;
    assert!(
        show.contains("composition by source (240,000 rows)"),
        "{show}"
    );
    assert!(show.contains("UNMAPPED"), "{show}");
}

#[test]
fn every_format_reads_and_a_directory_mixes_them() {
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("fmt")).unwrap();
    python(
        r#"
import polars as pl
df = pl.DataFrame({"source": ["a", "b", "a", None], "text": ["x", "y", "z", "w"], "n": [1, 2, 3, 4]})
df.write_csv("fmt/rows.csv")
df.write_ndjson("fmt/rows.jsonl")
df.write_ipc("fmt/rows.arrow")
df.write_parquet("fmt/rows.parquet")
"#,
        p.path(),
    );
    for file in ["rows.csv", "rows.jsonl", "rows.arrow", "rows.parquet"] {
        let ran = p.ok(&[
            "--format",
            "json",
            "tag",
            "dataset",
            &format!("fmt/{file}"),
            "--source-column",
            "source",
        ]);
        let c = counts(&composition_of(&ran));
        assert_eq!(
            c,
            BTreeMap::from([("a".into(), 2), ("b".into(), 1), ("<null>".into(), 1)]),
            "{file}"
        );
    }
}

#[test]
fn bad_shards_name_the_file_and_record_nothing() {
    let p = Project::new();
    let segments = |p: &Project| {
        walk(&p.path().join(".mlprov/segments"))
            .into_iter()
            .filter(|f| f.ends_with(".parquet"))
            .count()
    };
    std::fs::create_dir_all(p.path().join("shards")).unwrap();
    p.write("shards/a.jsonl", b"{\"source\":\"x\",\"text\":\"1\"}\n");
    p.write("shards/b.jsonl", b"{\"source\":\"y\",\"text\":\"2\"}\n");
    let before = segments(&p);

    p.run(&["tag", "dataset", "shards", "--source-column", "origin"])
        .assert_bad_input(&["a.jsonl", "no column 'origin'", "nothing was recorded"]);

    p.write("shards/c.jsonl", b"{\"source\":\"y\",\"text\":3}\n");
    p.run(&["tag", "dataset", "shards", "--source-column", "source"])
        .assert_bad_input(&["c.jsonl", "schema differs"]);
    std::fs::remove_file(p.path().join("shards/c.jsonl")).unwrap();

    p.write("shards/d.parquet", b"PAR1 not really parquet");
    p.run(&["tag", "dataset", "shards", "--source-column", "source"])
        .assert_bad_input(&["d.parquet"]);
    std::fs::remove_file(p.path().join("shards/d.parquet")).unwrap();

    p.write("shards/e.jsonl", b"{\"source\": \"z\", \"text\": \n");
    p.run(&["tag", "dataset", "shards", "--source-column", "source"])
        .assert_bad_input(&["e.jsonl"]);
    std::fs::remove_file(p.path().join("shards/e.jsonl")).unwrap();

    p.run(&[
        "tag",
        "dataset",
        "shards",
        "--source-column",
        "source",
        "--map",
        "x",
    ])
    .assert_bad_input(&["VALUE=SPEC"]);
    p.write("map.toml", b"[sources.x]\nmodel = \"gpt-4\"\n");
    p.run(&[
        "tag",
        "dataset",
        "shards",
        "--source-column",
        "source",
        "--map-file",
        "map.toml",
    ])
    .assert_bad_input(&["map.toml", "[sources.x]"]);
    assert_eq!(segments(&p), before, "a failed tag writes nothing");

    // And the good case still works after all that.
    p.ok(&["tag", "dataset", "shards", "--source-column", "source"]);
    assert!(segments(&p) > before);
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn query_answers_the_two_questions_on_the_demo() {
    let (_dir, project) = common::demo_project();

    // "All external checkpoints with an open finding."
    let ran = mlprov_in(
        &project,
        &[
            "--format",
            "json",
            "query",
            "SELECT DISTINCT a.name, f.code FROM findings f JOIN artifacts a ON f.target = a.artifact_id \
             WHERE a.kind = 'checkpoint' AND a.distribution LIKE 'external%' \
             AND f.status = 'active' AND f.severity IN ('error', 'warning') ORDER BY a.name, f.code",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let rows: Vec<(String, String)> = ran
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("acme-chat-pro", "L102"),
        ("acme-mistral-chat", "L101"),
        ("acme-mix-7b", "L102"),
        ("acme-qwen-distill", "L101"),
        ("acme-support-8b", "L105"),
        ("acme-tiny-student", "L107"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(rows, expected);

    // "Share of training rows per generating model" (rows of datasets used as training data,
    // by the model their source value maps to).
    let ran = mlprov_in(
        &project,
        &[
            "--format",
            "json",
            "query",
            "WITH training AS (SELECT DISTINCT artifact_id FROM run_inputs WHERE role = 'training_data'), \
             rows AS (SELECT coalesce(a.name, c.source, 'original') AS origin, c.rows FROM composition c \
               JOIN training t ON c.dataset_id = t.artifact_id LEFT JOIN artifacts a ON a.artifact_id = c.source), \
             total AS (SELECT SUM(rows) AS all_rows FROM rows) \
             SELECT origin, SUM(rows) AS rows, SUM(rows) * 1.0 / MAX(all_rows) AS share \
             FROM rows CROSS JOIN total GROUP BY origin ORDER BY origin",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let rows = ran.json();
    let rows = rows.as_array().unwrap();
    let by_origin: BTreeMap<&str, (u64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["origin"].as_str().unwrap(),
                (r["rows"].as_u64().unwrap(), r["share"].as_f64().unwrap()),
            )
        })
        .collect();
    // instruct-mix (4 gpt-4o + 8 original) and instruct-mix-filtered (8 original) train models.
    assert_eq!(by_origin["gpt-4o"].0, 4);
    assert_eq!(by_origin["original"].0, 16);
    assert!((by_origin["gpt-4o"].1 - 0.2).abs() < 1e-9, "{rows:?}");

    // Text and CSV output; a bad query is a clear error.
    let text = mlprov_in(&project, &["query", "SELECT count(*) AS n FROM artifacts"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains('n'), "{}", text.stdout);
    let csv = mlprov_in(
        &project,
        &[
            "query",
            "--csv",
            "SELECT kind, count(*) AS n FROM runs GROUP BY kind ORDER BY kind",
        ],
    );
    assert!(csv.stdout.starts_with("kind,n\n"), "{}", csv.stdout);
    mlprov_in(&project, &["query", "SELECT * FROM nowhere"])
        .assert_bad_input(&["query failed", "tables are"]);
    let tables = mlprov_in(&project, &["query", "--tables"]);
    assert!(
        tables.stdout.contains("composition (") && tables.stdout.contains("findings ("),
        "{}",
        tables.stdout
    );
}
