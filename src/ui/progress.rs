//! Draws engine events: one spinner per resource with a timer on a terminal (indicatif), plain
//! lines otherwise (CI, pipes, -v).
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Printer;
use crate::engine::{Event, Reporter, Verb};
use crate::resources::wait::short;

pub struct TermReporter {
    printer: Printer,
    multi: Option<MultiProgress>,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    /// Per resource, the state and time of the last waiting line printed (plain output).
    waits: Mutex<BTreeMap<String, (String, Duration)>>,
}

/// Plain output repeats an unchanged wait at most this often.
const WAIT_LINE_EVERY: Duration = Duration::from_secs(15);

/// Whether plain output prints a waiting line, given the last one printed for the resource.
fn wait_line_due(last: Option<&(String, Duration)>, state: &str, elapsed: Duration) -> bool {
    last.is_none_or(|(last_state, at)| last_state != state || elapsed >= *at + WAIT_LINE_EVERY)
}

/// `lab-nat pending 1m12s of ~2m`.
fn waiting_line(name: &str, state: &str, elapsed: Duration, typical: Duration) -> String {
    format!("{name} {state} {} of ~{}", short(elapsed), short(typical))
}

impl TermReporter {
    pub fn new(printer: &Printer) -> Self {
        let multi = printer
            .interactive
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        TermReporter {
            printer: printer.clone(),
            multi,
            bars: Mutex::new(BTreeMap::new()),
            waits: Mutex::new(BTreeMap::new()),
        }
    }

    fn mark(&self, verb: Verb) -> String {
        match verb {
            Verb::Delete => self.printer.red("-"),
            Verb::Keep => self.printer.dim("="),
            Verb::Update => "~".to_owned(),
            Verb::Create => self.printer.green("+"),
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl Reporter for TermReporter {
    fn event(&self, event: Event) {
        if self.printer.quiet {
            if let Event::Failed { name, error, .. } = &event {
                eprintln!("failed: {name}: {error}");
            }
            return;
        }
        match (&self.multi, event) {
            (
                Some(multi),
                Event::Started {
                    name,
                    kind,
                    verb,
                    typical,
                },
            ) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                let typical = typical
                    .map(|t| format!(" (usually {t})"))
                    .unwrap_or_default();
                bar.set_message(format!(
                    "{} {name} ({kind}){}",
                    verb.progressive(),
                    self.printer.dim(&typical)
                ));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut bars) = self.bars.lock() {
                    bars.insert(name, bar);
                }
            }
            (
                Some(_),
                Event::Waiting {
                    name,
                    state,
                    elapsed,
                    typical,
                },
            ) => {
                if let Ok(bars) = self.bars.lock()
                    && let Some(bar) = bars.get(&name)
                {
                    bar.set_message(waiting_line(&name, &state, elapsed, typical));
                }
            }
            (
                None,
                Event::Waiting {
                    name,
                    state,
                    elapsed,
                    typical,
                },
            ) => {
                // A line when the state changes, else every WAIT_LINE_EVERY: CI logs stay short.
                let due = self.waits.lock().is_ok_and(|mut w| {
                    let due = wait_line_due(w.get(&name), &state, elapsed);
                    if due {
                        w.insert(name.clone(), (state.clone(), elapsed));
                    }
                    due
                });
                if due {
                    eprintln!("    {}", waiting_line(&name, &state, elapsed, typical));
                }
            }
            (Some(_), Event::Progress { name, message }) => {
                if let Ok(bars) = self.bars.lock()
                    && let Some(bar) = bars.get(&name)
                {
                    bar.set_message(format!("{name}: {message}"));
                }
            }
            (
                Some(_),
                Event::Finished {
                    name,
                    kind,
                    id,
                    verb,
                    elapsed,
                },
            ) => {
                let line = format!(
                    "{} {} {name} ({kind}) {id} {}",
                    self.mark(verb),
                    verb.past(),
                    self.printer.dim(&secs(elapsed))
                );
                let bar = self.bars.lock().ok().and_then(|mut b| b.remove(&name));
                match bar {
                    Some(bar) => bar.finish_with_message(line),
                    None => eprintln!("{line}"),
                }
            }
            (Some(_), Event::Failed { name, kind, error }) => {
                let line = format!("{} {name} ({kind}): {error}", self.printer.red("✗ failed"));
                match self.bars.lock().ok().and_then(|mut b| b.remove(&name)) {
                    Some(bar) => bar.abandon_with_message(line),
                    None => eprintln!("{line}"),
                }
            }
            (Some(multi), Event::Skipped { name, reason }) => {
                let _ = multi.println(format!("  skipped {name}: {reason}"));
            }
            (Some(multi), Event::Note(n)) => {
                let _ = multi.println(self.printer.dim(&n));
            }
            (
                None,
                Event::Started {
                    name,
                    kind,
                    verb,
                    typical,
                },
            ) => {
                let typical = typical
                    .map(|t| format!(" (usually {t})"))
                    .unwrap_or_default();
                eprintln!("  {} {name} ({kind}){typical}", verb.progressive());
            }
            (None, Event::Progress { name, message }) => eprintln!("    {name}: {message}"),
            (
                None,
                Event::Finished {
                    name,
                    kind,
                    id,
                    verb,
                    elapsed,
                },
            ) => {
                eprintln!(
                    "{} {} {name} ({kind}) {id} {}",
                    self.mark(verb),
                    verb.past(),
                    secs(elapsed)
                );
            }
            (None, Event::Failed { name, kind, error }) => {
                eprintln!("✗ failed {name} ({kind}): {error}")
            }
            (None, Event::Skipped { name, reason }) => eprintln!("  skipped {name}: {reason}"),
            (None, Event::Note(n)) => eprintln!("{n}"),
        }
    }
}

/// A byte progress bar for uploads (a terminal only; nothing in CI or pipes).
pub struct BytesBar(Option<ProgressBar>);

pub fn bytes_bar(printer: &Printer) -> BytesBar {
    BytesBar((printer.interactive && !printer.quiet).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }))
}

impl BytesBar {
    pub fn update(&self, sent: u64, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
            b.set_position(sent);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{wait_line_due, waiting_line};

    #[test]
    fn a_wait_reads_as_state_elapsed_and_typical() {
        assert_eq!(
            waiting_line(
                "lab-nat",
                "pending",
                Duration::from_secs(72),
                Duration::from_secs(120)
            ),
            "lab-nat pending 1m12s of ~2m"
        );
    }

    #[test]
    fn plain_output_repeats_a_wait_only_on_a_new_state_or_every_15_seconds() {
        let s = |n| Duration::from_secs(n);
        let last = ("pending".to_owned(), s(30));
        assert!(wait_line_due(None, "pending", s(0)));
        assert!(!wait_line_due(Some(&last), "pending", s(31)));
        assert!(!wait_line_due(Some(&last), "pending", s(44)));
        assert!(wait_line_due(Some(&last), "pending", s(45)));
        assert!(wait_line_due(Some(&last), "available", s(31)));
    }
}
