//! Finding codes: one line each, like cargo-deny. `docs/findings.md` lists the same table, and a
//! test keeps the two in step.

use crate::policy::Severity;

pub struct Code {
    pub code: &'static str,
    pub name: &'static str,
    pub default_severity: Severity,
    pub summary: &'static str,
}

pub const FORBIDDEN_OTHER_LLM: &str = "L101";
pub const FORBIDDEN_COMPETING: &str = "L102";
pub const INTERNAL_ONLY_DISTRIBUTED: &str = "L103";
pub const NON_COMMERCIAL: &str = "L104";
pub const CONDITION_UNMET: &str = "L105";
pub const DUTIES: &str = "L106";
pub const UNKNOWN_LICENSE: &str = "L107";
pub const SOURCES_DISAGREE: &str = "L108";
pub const CLEARED_BY_COMPOSITION: &str = "L109";
pub const LINEAGE_CYCLE: &str = "G201";
pub const DANGLING_REFERENCE: &str = "G202";
pub const UNMAPPED_SOURCES: &str = "G203";
pub const WAIVER_UNUSED: &str = "W301";
pub const WAIVER_EXPIRED: &str = "W302";

pub const CODES: &[Code] = &[
    Code {
        code: FORBIDDEN_OTHER_LLM,
        name: "forbidden-other-llm",
        default_severity: Severity::Error,
        summary: "outputs of a model whose terms forbid improving any other LLM trained a model outside that model's family",
    },
    Code {
        code: FORBIDDEN_COMPETING,
        name: "forbidden-competing",
        default_severity: Severity::Error,
        summary: "outputs of a vendor whose terms forbid competing models trained a model that competes with it (per policy)",
    },
    Code {
        code: INTERNAL_ONLY_DISTRIBUTED,
        name: "internal-only-distributed",
        default_severity: Severity::Error,
        summary: "outputs allowed only for models used inside the organisation trained a model that is distributed",
    },
    Code {
        code: NON_COMMERCIAL,
        name: "non-commercial",
        default_severity: Severity::Error,
        summary: "outputs or weights under non-commercial terms reached a model of an organisation whose use is commercial",
    },
    Code {
        code: CONDITION_UNMET,
        name: "condition-unmet",
        default_severity: Severity::Warning,
        summary: "a checkable condition of the terms fails, e.g. a distributed model trained on Llama 3.1+ outputs is not named \"Llama...\"",
    },
    Code {
        code: DUTIES,
        name: "duties",
        default_severity: Severity::Note,
        summary: "duties that travel with a distributed model: attribution, a copy of the license, pass-through use restrictions",
    },
    Code {
        code: UNKNOWN_LICENSE,
        name: "unknown-license",
        default_severity: Severity::Warning,
        summary: "a model whose outputs or weights reached a training run has no license, or one the catalog does not know",
    },
    Code {
        code: SOURCES_DISAGREE,
        name: "sources-disagree",
        default_severity: Severity::Note,
        summary: "sources disagree about a license's terms; the finding shows every claim and which one decided",
    },
    Code {
        code: CLEARED_BY_COMPOSITION,
        name: "cleared-by-composition",
        default_severity: Severity::Note,
        summary: "a restricted model reached an ancestor dataset, but the recorded composition of the data trained on has no rows from it",
    },
    Code {
        code: LINEAGE_CYCLE,
        name: "lineage-cycle",
        default_severity: Severity::Error,
        summary: "recorded lineage contains a cycle; restrictions are propagated through it as a whole",
    },
    Code {
        code: DANGLING_REFERENCE,
        name: "dangling-reference",
        default_severity: Severity::Warning,
        summary: "a run names an artifact that no record describes, so its upstream is unknown",
    },
    Code {
        code: UNMAPPED_SOURCES,
        name: "unmapped-sources",
        default_severity: Severity::Warning,
        summary: "a dataset's recorded composition has rows whose source value maps to no artifact, so their origin is unknown",
    },
    Code {
        code: WAIVER_UNUSED,
        name: "waiver-unused",
        default_severity: Severity::Warning,
        summary: "an active waiver matched no finding",
    },
    Code {
        code: WAIVER_EXPIRED,
        name: "waiver-expired",
        default_severity: Severity::Note,
        summary: "a waiver that matches a finding has expired (or was revoked); the finding stands",
    },
];

pub fn find(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

pub fn is_known(code: &str) -> bool {
    find(code).is_some()
}

pub fn default_severity(code: &str) -> Severity {
    find(code)
        .map(|c| c.default_severity)
        .unwrap_or(Severity::Error)
}

pub fn name(code: &str) -> &'static str {
    find(code).map(|c| c.name).unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_list_every_code_with_its_name_severity_and_summary() {
        let doc = include_str!("../../docs/findings.md");
        for c in CODES {
            let row = format!(
                "| {} | {} | {} | {} |",
                c.code,
                c.name,
                c.default_severity.as_str(),
                c.summary
            );
            assert!(doc.contains(&row), "docs/findings.md lacks the row:\n{row}");
        }
        let rows = doc
            .lines()
            .filter(|l| l.starts_with("| ") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
            .count();
        assert_eq!(
            rows,
            CODES.len(),
            "docs/findings.md lists codes the code does not have"
        );
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        assert!(CODES.iter().all(|c| seen.insert(c.code)));
    }
}
