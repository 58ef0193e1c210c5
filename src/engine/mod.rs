//! The engine: discovery by tags ([`discover`]), apply along the DAG ([`apply`]), teardown along
//! the reverse of what blocks what ([`destroy`]), and the plan ([`plan`]). It emits [`Event`]s and
//! never prints.

pub mod apply;
pub mod destroy;
pub mod discover;
pub mod events;
pub mod fleet;
pub mod global_iam;
pub mod handlers;
pub mod plan;
pub mod report;
pub mod resolve;
pub mod schedule;
pub mod teardown;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use events::{Event, Prefixed, Reporter, Verb};
pub use handlers::{Handlers, Registry};

use std::sync::Arc;
use std::time::Duration;

/// Knobs shared by apply and destroy.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How many resources are worked on at once.
    pub concurrency: usize,
    /// How long one wait (NAT available, instance terminated) or dependency retry may last.
    pub wait_timeout: Duration,
    /// Where private keys are saved.
    pub keys_dir: std::path::PathBuf,
    /// The handlers `up` and `down` work through: [`Registry`] unless a test says otherwise.
    pub handlers: Arc<dyn Handlers>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            concurrency: 8,
            wait_timeout: Duration::from_secs(900),
            keys_dir: crate::settings::keys_dir(),
            handlers: Arc::new(Registry),
        }
    }
}
