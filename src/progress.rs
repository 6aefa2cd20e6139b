//! A byte-count progress bar that only appears on a terminal, and only once the work has taken
//! longer than a second: short tags stay silent, long ones show where they are.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: OnceLock<()>,
    enabled: bool,
}

impl Progress {
    /// A bar over `total` bytes. `enabled` is false for library callers that want silence.
    pub fn bytes(total: u64, message: &str, enabled: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        let enabled = enabled && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Progress {
            bar,
            started: Instant::now(),
            shown: OnceLock::new(),
            enabled,
        }
    }

    pub fn silent() -> Self {
        Self::bytes(0, "", false)
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if self.enabled && self.shown.get().is_none() && self.started.elapsed() > SHOW_AFTER {
            // Another thread may race here; setting the target twice is harmless.
            let _ = self.shown.set(());
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    pub fn finish(&self) {
        if self.shown.get().is_some() {
            self.bar.finish_and_clear();
        }
    }
}

/// Phase timings on stderr when `MLPROV_TIMING` is set (for profiling large stores).
pub struct PhaseTimer {
    what: &'static str,
    start: std::time::Instant,
    enabled: bool,
}

impl PhaseTimer {
    pub fn new(what: &'static str) -> Self {
        PhaseTimer {
            what,
            start: std::time::Instant::now(),
            enabled: std::env::var_os("MLPROV_TIMING").is_some(),
        }
    }

    /// Print the time since the timer started, labelled with the phase just finished.
    pub fn phase(&self, name: &str) {
        if self.enabled {
            // Resident memory now and at its peak, from /proc (Linux; blank elsewhere).
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let field = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            eprintln!(
                "{} {name}: {:.3}s (rss {}, peak {})",
                self.what,
                self.start.elapsed().as_secs_f64(),
                field("VmRSS:"),
                field("VmHWM:")
            );
        }
    }
}
