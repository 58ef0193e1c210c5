//! Where `up` and `down` find the kinds' handlers, and the one read they make of AWS outside
//! any handler (the region's availability zones). [`Registry`] is the kinds awslab ships; unit tests put an in-memory cloud in its
//! place.

use async_trait::async_trait;

use crate::aws::{Aws, AwsError};
use crate::lab::Kind;
use crate::resources::ResourceKind;

/// The handlers the engine works through ([`super::EngineOptions::handlers`]).
#[async_trait]
pub trait Handlers: std::fmt::Debug + Send + Sync {
    /// The handler of a kind.
    fn handler(&self, kind: Kind) -> &dyn ResourceKind;

    /// The region's availability zones, sorted by name.
    async fn availability_zones(&self, aws: &Aws) -> Result<Vec<String>, AwsError> {
        super::discover::availability_zones(aws).await
    }
}

/// The kinds as awslab ships them: [`Kind::handler`], and AWS itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Registry;

impl Handlers for Registry {
    fn handler(&self, kind: Kind) -> &dyn ResourceKind {
        kind.handler()
    }
}
