//! The quota preflight: before `up` creates anything, what the envs to bring up need of each
//! AWS quota per account and Region ([`needs`], asked of the kinds).

mod catalog;
pub mod needs;

pub use catalog::{Quota, Scope};
pub use needs::{Needs, needs, sum};
