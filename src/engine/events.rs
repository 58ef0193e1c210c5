//! What the engine tells the user interface.

use std::time::Duration;

use crate::lab::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Create,
    Update,
    Keep,
    Delete,
}

impl Verb {
    pub fn past(self) -> &'static str {
        match self {
            Verb::Create => "created",
            Verb::Update => "updated",
            Verb::Keep => "unchanged",
            Verb::Delete => "deleted",
        }
    }

    pub fn progressive(self) -> &'static str {
        match self {
            Verb::Create => "creating",
            Verb::Update => "updating",
            Verb::Keep => "checking",
            Verb::Delete => "deleting",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    /// Work on one resource begins.
    Started {
        name: String,
        kind: Kind,
        verb: Verb,
        /// How long this usually takes on real AWS.
        typical: Option<&'static str>,
    },
    /// A retry or phase inside that work.
    Progress { name: String, message: String },
    /// Waiting for a transition: the state now, how long so far, how long it usually takes.
    Waiting {
        name: String,
        state: String,
        elapsed: Duration,
        typical: Duration,
    },
    Finished {
        name: String,
        kind: Kind,
        id: String,
        verb: Verb,
        elapsed: Duration,
    },
    Failed {
        name: String,
        kind: Kind,
        error: String,
    },
    /// Not attempted because something it depends on failed.
    Skipped { name: String, reason: String },
    /// A phase message ("discovering 10 kinds").
    Note(String),
}

impl Event {
    /// The event of a kind's progress step on resource `name`.
    pub fn step(name: &str, step: crate::resources::Step) -> Event {
        match step {
            crate::resources::Step::Note(message) => Event::Progress {
                name: name.to_owned(),
                message,
            },
            crate::resources::Step::Waiting {
                state,
                elapsed,
                typical,
            } => Event::Waiting {
                name: name.to_owned(),
                state,
                elapsed,
                typical,
            },
        }
    }
}

/// Receives engine events; the `ui` module implements it.
pub trait Reporter: Send + Sync {
    fn event(&self, event: Event);
}

/// Events of one of several environments at work at once, told apart: each resource's name
/// (and each note) behind the environment's label (`alice/lab-vpc`).
pub struct Prefixed<'a> {
    pub inner: &'a dyn Reporter,
    pub label: String,
}

impl Reporter for Prefixed<'_> {
    fn event(&self, event: Event) {
        let at = |name: String| format!("{}/{name}", self.label);
        self.inner.event(match event {
            Event::Started {
                name,
                kind,
                verb,
                typical,
            } => Event::Started {
                name: at(name),
                kind,
                verb,
                typical,
            },
            Event::Progress { name, message } => Event::Progress {
                name: at(name),
                message,
            },
            Event::Waiting {
                name,
                state,
                elapsed,
                typical,
            } => Event::Waiting {
                name: at(name),
                state,
                elapsed,
                typical,
            },
            Event::Finished {
                name,
                kind,
                id,
                verb,
                elapsed,
            } => Event::Finished {
                name: at(name),
                kind,
                id,
                verb,
                elapsed,
            },
            Event::Failed { name, kind, error } => Event::Failed {
                name: at(name),
                kind,
                error,
            },
            Event::Skipped { name, reason } => Event::Skipped {
                name: at(name),
                reason,
            },
            Event::Note(note) => Event::Note(format!("{}: {note}", self.label)),
        });
    }
}

/// Drops every event (tests, benchmarks).
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _event: Event) {}
}
