//! Output helpers shared by the commands.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::{Error, Result};

/// Print one JSON document on its own line and flush, so a reader of a pipe sees it at once.
pub fn json_line<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::usage(format!("cannot encode output: {e}")))?;
    line(&text)
}

pub fn json_pretty<T: Serialize>(value: &T) -> Result<()> {
    line(&pretty(value)?)
}

/// A value as indented JSON text.
pub fn pretty<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|e| Error::usage(format!("cannot encode output: {e}")))
}

/// Write a line to stdout; a closed pipe (`| head`) ends quietly instead of panicking.
pub fn line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let result = writeln!(out, "{text}").and_then(|_| out.flush());
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Error::io("<stdout>", "writing output", e)),
        Ok(()) => Ok(()),
    }
}

pub fn text(text: &str) -> Result<()> {
    line(text.trim_end_matches('\n'))
}

fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub fn error(e: &Error) {
    let label = if colour() {
        "\x1b[1;31merror\x1b[0m"
    } else {
        "error"
    };
    eprintln!("{label}: {e}");
}

pub fn warning(msg: &str) {
    let label = if colour() {
        "\x1b[1;33mwarning\x1b[0m"
    } else {
        "warning"
    };
    eprintln!("{label}: {msg}");
}

/// `1.5 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// RFC 3339 timestamp, or a plain date (midnight UTC).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(crate::records::timestamp(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(Error::usage(format!(
        "'{s}' is not a time: use RFC 3339 (2026-11-23T10:00:00Z) or a date (2026-11-23)"
    )))
}
