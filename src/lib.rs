//! awslab: spin up, grade and tear down AWS hands-on labs.
//!
//! A lab is a TOML file ([`lab`]); the [`engine`] applies and destroys it through the AWS SDK
//! ([`aws`], [`resources`]), finding everything by tags; [`check`] grades a setup; [`ui`] is the
//! only module that prints.

// AwsError carries the call, resource, AWS code and message by value so that it renders without
// lookups; it sits on cold paths only.
#![allow(clippy::result_large_err)]

pub mod aws;
pub mod caller_ip;
pub mod check;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod diagram;
pub mod engine;
pub mod error;
pub mod gradebook;
pub mod graph;
pub mod guard;
pub mod image;
pub mod lab;
pub mod push;
pub mod quota;
pub mod reach;
pub mod resources;
pub mod roster;
pub mod settings;
pub mod tree;
pub mod ui;

pub use error::Error;
