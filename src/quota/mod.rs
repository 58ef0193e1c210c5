//! The quota preflight: before `up` creates anything, what the envs to bring up need of each
//! AWS quota per account and Region ([`needs`], asked of the kinds), what already exists
//! ([`usage`]), the quotas in force ([`applied`]), and the refusal when they do not fit.

pub mod applied;
mod catalog;
pub mod existing;
pub mod needs;
mod preflight;
mod refusal;
pub mod usage;

pub use applied::{Limit, Source};
pub use catalog::{Quota, Scope};
pub use needs::{Needs, needs, sum};
pub use preflight::{ALL_REGIONS, Preflight, Row, SCHEMA_VERSION, Target, preflight, row_of};
pub use refusal::QuotaShortfall;
