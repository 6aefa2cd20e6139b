//! Hugging Face model cards: the YAML front matter of a repository's `README.md`.
//!
//! Only the fields the license audit needs are read: `license`, `license_name`,
//! `license_link`, `base_model` (one id or a list), `base_model_relation` and `datasets`.
//! Other keys are ignored. A README without front matter is an empty card; front matter that
//! is not valid YAML, or a known field with the wrong shape, is an error naming the file and
//! the line.
//!
//! The YAML is read event by event (yaml-rust2's parser) into a small tree with a size budget,
//! so a hostile card (deep nesting, alias bombs) is an error, never a hang or a crash.

use serde::{Deserialize, Serialize};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{Error, Result};

/// What a model card says about licensing and lineage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelCard {
    pub license: Option<String>,
    pub license_name: Option<String>,
    pub license_link: Option<String>,
    pub base_models: Vec<String>,
    pub base_model_relation: Option<BaseModelRelation>,
    pub datasets: Vec<String>,
}

impl ModelCard {
    /// Whether the card says nothing this module reads.
    pub fn is_empty(&self) -> bool {
        self == &ModelCard::default()
    }
}

/// How a model relates to its `base_model` (Hugging Face's `base_model_relation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseModelRelation {
    Adapter,
    Merge,
    Quantized,
    Finetune,
}

impl BaseModelRelation {
    pub const ALL: &'static [BaseModelRelation] = &[
        BaseModelRelation::Adapter,
        BaseModelRelation::Merge,
        BaseModelRelation::Quantized,
        BaseModelRelation::Finetune,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BaseModelRelation::Adapter => "adapter",
            BaseModelRelation::Merge => "merge",
            BaseModelRelation::Quantized => "quantized",
            BaseModelRelation::Finetune => "finetune",
        }
    }
}

impl std::fmt::Display for BaseModelRelation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BaseModelRelation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        BaseModelRelation::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown base_model_relation '{s}': expected one of adapter, merge, quantized, finetune"
                ))
            })
    }
}

/// The record name used in errors.
const RECORD: &str = "model card front matter";

/// Parse the front matter of a model card (`README.md`). `origin` names the file in errors.
pub fn parse_model_card(text: &str, origin: &str) -> Result<ModelCard> {
    let Some(front) = front_matter(text, origin)? else {
        return Ok(ModelCard::default());
    };
    let root = load_yaml(front.yaml, front.first_line, origin)?;
    let entries = match root {
        None
        | Some(Located {
            node: Node::Null, ..
        }) => return Ok(ModelCard::default()),
        Some(Located {
            node: Node::Map(entries),
            ..
        }) => entries,
        Some(other) => {
            return Err(at(
                origin,
                other.line,
                "the front matter is not a mapping of keys to values",
            ));
        }
    };

    let mut card = ModelCard::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in entries {
        let Node::Scalar(name) = &key.node else {
            continue;
        };
        if seen.iter().any(|k| k == name) {
            return Err(at(origin, key.line, &format!("key '{name}' appears twice")));
        }
        seen.push(name.clone());
        match name.as_str() {
            "license" => card.license = one_string(&value, name, origin)?,
            "license_name" => card.license_name = one_string(&value, name, origin)?,
            "license_link" => card.license_link = one_string(&value, name, origin)?,
            "base_model" => card.base_models = string_list(&value, name, origin)?,
            "datasets" => card.datasets = string_list(&value, name, origin)?,
            "base_model_relation" => {
                card.base_model_relation = match one_string(&value, name, origin)? {
                    None => None,
                    Some(text) => Some(text.parse::<BaseModelRelation>().map_err(|_| {
                        at(
                            origin,
                            value.line,
                            &format!(
                                "base_model_relation '{text}' is not one of adapter, merge, quantized, finetune"
                            ),
                        )
                    })?),
                }
            }
            _ => {}
        }
    }
    Ok(card)
}

fn at(origin: &str, line: usize, reason: &str) -> Error {
    Error::bad_record(origin, RECORD, format!("line {line}: {reason}"))
}

/// A scalar (or a one-element list of one scalar, which some cards use) → its text.
fn one_string(value: &Located, key: &str, origin: &str) -> Result<Option<String>> {
    match &value.node {
        Node::Null => Ok(None),
        Node::Scalar(s) => Ok(non_empty(s)),
        Node::Seq(items) if items.len() == 1 => one_string(&items[0], key, origin),
        Node::Seq(items) if items.is_empty() => Ok(None),
        _ => Err(at(
            origin,
            value.line,
            &format!("'{key}' must be a single string"),
        )),
    }
}

/// A scalar or a list of scalars → the non-empty strings, in order.
fn string_list(value: &Located, key: &str, origin: &str) -> Result<Vec<String>> {
    match &value.node {
        Node::Null => Ok(Vec::new()),
        Node::Scalar(s) => Ok(non_empty(s).into_iter().collect()),
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match &item.node {
                    Node::Scalar(s) => out.extend(non_empty(s)),
                    Node::Null => {}
                    _ => {
                        return Err(at(
                            origin,
                            item.line,
                            &format!("'{key}' must be a string or a list of strings"),
                        ))
                    }
                }
            }
            Ok(out)
        }
        Node::Map(_) => Err(at(
            origin,
            value.line,
            &format!("'{key}' must be a string or a list of strings"),
        )),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

struct FrontMatter<'a> {
    yaml: &'a str,
    /// 1-based line number in the file of the first YAML line.
    first_line: usize,
}

/// The YAML between a first line `---` and the next line `---` (or `...`). `None` when the file
/// does not start with `---`.
fn front_matter<'a>(text: &'a str, origin: &str) -> Result<Option<FrontMatter<'a>>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if first.trim_end() != "---" {
        return Ok(None);
    }
    let start = first.len();
    let mut offset = start;
    for line in lines {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return Ok(Some(FrontMatter {
                yaml: &text[start..offset],
                first_line: 2,
            }));
        }
        offset += line.len();
    }
    Err(at(
        origin,
        1,
        "the front matter opened by '---' is never closed by another '---' line",
    ))
}

/// A YAML node, reduced to what model cards need: scalars keep their text, `null`/`~`/empty
/// plain scalars are `Null`.
#[derive(Debug, Clone)]
enum Node {
    Null,
    Scalar(String),
    Seq(Vec<Located>),
    Map(Vec<(Located, Located)>),
}

#[derive(Debug, Clone)]
struct Located {
    node: Node,
    /// 1-based line in the file.
    line: usize,
}

/// Limits that keep a hostile card cheap: nodes built (aliases count what they copy) and
/// nesting depth (the parser recurses once per level).
const MAX_NODES: usize = 200_000;
const MAX_DEPTH: usize = 64;

fn load_yaml(yaml: &str, first_line: usize, origin: &str) -> Result<Option<Located>> {
    // The parser recurses per nesting level: refuse absurd nesting before parsing.
    if let Some(line) = too_deep(yaml) {
        return Err(at(
            origin,
            first_line + line,
            &format!("the front matter is nested more than {MAX_DEPTH} levels deep"),
        ));
    }
    let mut builder = Builder::new(first_line);
    let mut parser = Parser::new_from_str(yaml);
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parser.load(&mut builder, false)
    }));
    match parsed {
        Err(_) => {
            return Err(at(
                origin,
                first_line,
                "the YAML parser could not read the front matter",
            ))
        }
        Ok(Err(e)) => {
            let line = first_line + e.marker().line().saturating_sub(1);
            let col = e.marker().col() + 1;
            return Err(at(
                origin,
                line,
                &format!("invalid YAML at column {col}: {}", e.info()),
            ));
        }
        Ok(Ok(())) => {}
    }
    if let Some((line, reason)) = builder.error {
        return Err(at(origin, line, &reason));
    }
    Ok(builder.root)
}

/// The 0-based line of the first place where flow brackets or block indentation go deeper than
/// `MAX_DEPTH` (a conservative estimate: quoted brackets count too).
fn too_deep(yaml: &str) -> Option<usize> {
    let mut brackets = 0usize;
    for (n, line) in yaml.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '-', '?', ':']).len();
        if indent > MAX_DEPTH * 8 {
            return Some(n);
        }
        for c in line.chars() {
            match c {
                '[' | '{' => brackets += 1,
                ']' | '}' => brackets = brackets.saturating_sub(1),
                _ => {}
            }
            if brackets > MAX_DEPTH {
                return Some(n);
            }
        }
    }
    None
}

/// Builds the node tree from parser events.
struct Builder {
    first_line: usize,
    root: Option<Located>,
    /// Open collections; for maps, a pending key.
    stack: Vec<Open>,
    anchors: std::collections::HashMap<usize, (Located, usize)>,
    nodes: usize,
    error: Option<(usize, String)>,
}

struct Open {
    located: Located,
    anchor: usize,
    nodes_at_start: usize,
    pending_key: Option<Located>,
}

impl Builder {
    fn new(first_line: usize) -> Self {
        Builder {
            first_line,
            root: None,
            stack: Vec::new(),
            anchors: Default::default(),
            nodes: 0,
            error: None,
        }
    }

    fn line(&self, mark: Marker) -> usize {
        self.first_line + mark.line().saturating_sub(1)
    }

    fn fail(&mut self, line: usize, reason: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some((line, reason.into()));
        }
    }

    fn count(&mut self, n: usize, line: usize) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            self.fail(
                line,
                format!(
                    "the front matter has more than {MAX_NODES} values (alias expansion included)"
                ),
            );
            return false;
        }
        true
    }

    /// Attach a finished node to its parent (or make it the root).
    fn attach(&mut self, node: Located) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(open) => match &mut open.located.node {
                Node::Seq(items) => items.push(node),
                Node::Map(entries) => match open.pending_key.take() {
                    None => open.pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                Node::Null | Node::Scalar(_) => {}
            },
        }
    }

    fn remember(&mut self, anchor: usize, node: &Located, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = self.line(mark);
        match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                if !self.count(1, line) {
                    return;
                }
                let is_null = matches!(style, TScalarStyle::Plain)
                    && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let node = Located {
                    node: if is_null {
                        Node::Null
                    } else {
                        Node::Scalar(value)
                    },
                    line,
                };
                self.remember(anchor, &node, 1);
                self.attach(node);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if !self.count(1, line) {
                    return;
                }
                let node = if matches!(ev, Event::SequenceStart(..)) {
                    Node::Seq(Vec::new())
                } else {
                    Node::Map(Vec::new())
                };
                let nodes_at_start = self.nodes;
                self.stack.push(Open {
                    located: Located { node, line },
                    anchor,
                    nodes_at_start,
                    pending_key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.stack.pop() {
                    let size = self.nodes - open.nodes_at_start + 1;
                    self.remember(open.anchor, &open.located, size);
                    self.attach(open.located);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some((node, size)) => {
                    if self.count(size, line) {
                        self.attach(Located { line, ..node });
                    }
                }
                None => self.fail(line, "alias to an unknown anchor"),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(text: &str) -> ModelCard {
        parse_model_card(text, "x/README.md").unwrap()
    }

    #[test]
    fn reads_license_fields_and_a_single_base_model() {
        let c = card(
            "---\nlicense: other\nlicense_name: deepseek\nlicense_link: LICENSE-MODEL\n\
             base_model: deepseek-ai/DeepSeek-V3\nbase_model_relation: finetune\n\
             datasets:\n  - HuggingFaceH4/ultrachat_200k\n  - open-r1/math\ntags: [a, b]\n---\n# Title\n",
        );
        assert_eq!(c.license.as_deref(), Some("other"));
        assert_eq!(c.license_name.as_deref(), Some("deepseek"));
        assert_eq!(c.license_link.as_deref(), Some("LICENSE-MODEL"));
        assert_eq!(c.base_models, vec!["deepseek-ai/DeepSeek-V3"]);
        assert_eq!(c.base_model_relation, Some(BaseModelRelation::Finetune));
        assert_eq!(
            c.datasets,
            vec!["HuggingFaceH4/ultrachat_200k", "open-r1/math"]
        );
    }

    #[test]
    fn base_model_may_be_a_list_and_datasets_a_string() {
        let c = card(
            "---\r\nlicense: apache-2.0\r\nbase_model:\r\n- Qwen/Qwen2.5-7B\r\n- meta-llama/Llama-3.1-8B\r\n\
             base_model_relation: merge\r\ndatasets: org/one\r\n---\r\nbody",
        );
        assert_eq!(
            c.base_models,
            vec!["Qwen/Qwen2.5-7B", "meta-llama/Llama-3.1-8B"]
        );
        assert_eq!(c.base_model_relation, Some(BaseModelRelation::Merge));
        assert_eq!(c.datasets, vec!["org/one"]);
        let flow = card("---\nbase_model: [a/b, c/d]\nbase_model_relation: Quantized\n---\n");
        assert_eq!(flow.base_models, vec!["a/b", "c/d"]);
        assert_eq!(flow.base_model_relation, Some(BaseModelRelation::Quantized));
    }

    #[test]
    fn relation_is_validated() {
        for ok in ["adapter", "merge", "quantized", "finetune"] {
            let c = card(&format!("---\nbase_model_relation: {ok}\n---\n"));
            assert_eq!(c.base_model_relation.unwrap().as_str(), ok);
        }
        let err = parse_model_card(
            "---\nlicense: mit\nbase_model_relation: distilled\n---\n",
            "org/m/README.md",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("org/m/README.md"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(
            err.contains("distilled") && err.contains("adapter, merge, quantized, finetune"),
            "{err}"
        );
        let err = parse_model_card("---\nbase_model_relation: [a, b]\n---\n", "f")
            .unwrap_err()
            .to_string();
        assert!(err.contains("single string"), "{err}");
    }

    #[test]
    fn no_front_matter_is_an_empty_card() {
        assert!(card("# My model\n\nlicense: mit\n").is_empty());
        assert!(card("").is_empty());
        assert!(card("---\n---\n# empty front matter").is_empty());
        assert!(card("\u{feff}---\n# only a comment\n---\n").is_empty());
        assert!(card("---\nlicense: ~\nbase_model:\n---\n").is_empty());
    }

    #[test]
    fn malformed_yaml_names_the_file_and_line() {
        let err = parse_model_card(
            "---\nlicense: mit\nbase_model: [a, b\ndatasets: x\n---\n",
            "acme/m/README.md",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("acme/m/README.md"), "{err}");
        assert!(err.contains("line "), "{err}");
        let err = parse_model_card("---\nlicense: mit\n  bad: indent: here\n---\n", "r.md")
            .unwrap_err()
            .to_string();
        assert!(err.contains("r.md") && err.contains("line 3"), "{err}");
        let err = parse_model_card("---\nlicense: mit\n", "open.md")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("open.md") && err.contains("never closed"),
            "{err}"
        );
        let err = parse_model_card("---\n- a\n- b\n---\n", "list.md")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a mapping"), "{err}");
        let err = parse_model_card("---\nlicense: mit\nlicense: apache-2.0\n---\n", "dup.md")
            .unwrap_err()
            .to_string();
        assert!(err.contains("dup.md") && err.contains("line 3"), "{err}");
        let err = parse_model_card("---\nbase_model: {a: b}\n---\n", "map.md")
            .unwrap_err()
            .to_string();
        assert!(err.contains("list of strings"), "{err}");
    }

    #[test]
    fn hostile_cards_are_errors_not_crashes() {
        let deep = format!(
            "---\nx: {}{}\n---\n",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(parse_model_card(&deep, "deep.md").is_err());
        let mut indented = String::from("---\n");
        for i in 0..2_000 {
            indented.push_str(&" ".repeat(i));
            indented.push_str("a:\n");
        }
        indented.push_str("---\n");
        assert!(parse_model_card(&indented, "indent.md").is_err());
        // Alias bomb: each level doubles ten times.
        let mut bomb = String::from("---\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        bomb.push_str("---\n");
        let err = parse_model_card(&bomb, "bomb.md").unwrap_err().to_string();
        assert!(err.contains("more than"), "{err}");
        // Aliases within budget work.
        let c = card("---\nbase: &b org/base\nbase_model: *b\n---\n");
        assert_eq!(c.base_models, vec!["org/base"]);
        for junk in [
            "---\n\0\n---\n",
            "---\n: : :\n---\n",
            "---\n'unterminated\n---\n",
            "---\n&a *a\n---\n",
            "---\n[\n---\n",
        ] {
            let _ = parse_model_card(junk, "junk.md");
        }
    }
}
