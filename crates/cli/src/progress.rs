//! Progress for long steps: a bar on a terminal, a log line every few
//! seconds otherwise, nothing with `--no-progress`.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crashdsr_crawl::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The binary's [`Progress`].
pub(crate) struct Bar {
    what: &'static str,
    bar: Option<ProgressBar>,
    log: bool,
    done: AtomicU64,
    total: AtomicU64,
    last_log: Mutex<Instant>,
    message: Mutex<String>,
}

impl Bar {
    pub(crate) fn new(what: &'static str, no_progress: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (tty && !no_progress).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(what);
            b
        });
        Self {
            what,
            bar,
            log: !tty && !no_progress,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            last_log: Mutex::new(Instant::now()),
            message: Mutex::new(String::new()),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn maybe_log(&self) {
        if !self.log {
            return;
        }
        let mut last = self.last_log.lock().expect("progress lock");
        if last.elapsed() >= Duration::from_secs(5) {
            *last = Instant::now();
            let msg = self.message.lock().expect("progress lock").clone();
            tracing::info!(
                done = self.done.load(Ordering::Relaxed),
                total = self.total.load(Ordering::Relaxed),
                "{} progress. {msg}",
                self.what
            );
        }
    }
}

impl Progress for Bar {
    fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    fn inc(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        self.maybe_log();
    }

    fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg.clone());
        }
        *self.message.lock().expect("progress lock") = msg;
    }
}
