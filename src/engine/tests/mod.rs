//! `up` and `down` against the in-memory cloud ([`super::fake`]): order, resuming and partial
//! failure, without an emulator. Tokio's clock is paused, so waits and retries cost no time.

mod down;
mod teardown;
mod up;

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::apply::{ApplyOutcome, apply};
use super::destroy::{DestroyOutcome, destroy};
use super::fake::unreachable_aws;
use super::{EngineOptions, Event, Reporter};
use crate::aws::tags::Owner;
use crate::lab::catalog::{LabSource, load_text};
use crate::lab::{Lab, StageSel};

/// A VPC with two subnets, an internet gateway, a route table over both subnets, a security
/// group and an instance in the first subnet.
const LAB: &str = r#"
id = "fake"
title = "Fake"

[resources.lab-vpc]
type = "vpc"
cidr = "10.0.0.0/16"
dns_hostnames = true

[resources.public-a]
type = "subnet"
vpc = "lab-vpc"
cidr = "10.0.1.0/24"
az = 0

[resources.public-b]
type = "subnet"
vpc = "lab-vpc"
cidr = "10.0.2.0/24"
az = 1

[resources.lab-igw]
type = "internet_gateway"
vpc = "lab-vpc"

[resources.public-rt]
type = "route_table"
vpc = "lab-vpc"
subnets = ["public-a", "public-b"]
routes = [{ cidr = "0.0.0.0/0", to = "lab-igw" }]

[resources.web-sg]
type = "security_group"
vpc = "lab-vpc"
description = "SSH to the web server"
ingress = [{ proto = "tcp", port = 22, cidr = "0.0.0.0/0" }]

[resources.web]
type = "instance"
subnet = "public-a"
ami = "ami-0123456789abcdef0"
instance_type = "t3.micro"
security_groups = ["web-sg"]
"#;

/// Every resource of [`LAB`], sorted.
const ALL: [&str; 7] = [
    "lab-igw",
    "lab-vpc",
    "public-a",
    "public-b",
    "public-rt",
    "web",
    "web-sg",
];

fn lab() -> Lab {
    load_text(&LabSource::File("fake.toml".into()), LAB, &BTreeMap::new())
        .expect("the test lab validates")
        .lab
}

fn owner() -> Owner {
    Owner::new("fake", "test")
}

/// Every engine event, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Reporter for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().expect("lock").push(event);
    }
}

impl Recorder {
    /// (name, reason) of every resource reported skipped.
    fn skipped(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .0
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|e| match e {
                Event::Skipped { name, reason } => Some((name.clone(), reason.clone())),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }
}

async fn up(opts: &EngineOptions) -> ApplyOutcome {
    up_reporting(opts, &Recorder::default()).await
}

async fn up_reporting(opts: &EngineOptions, reporter: &Recorder) -> ApplyOutcome {
    apply(
        &unreachable_aws(),
        &lab(),
        StageSel::Full,
        &owner(),
        opts,
        reporter,
    )
    .await
    .expect("up runs")
}

async fn down(opts: &EngineOptions) -> DestroyOutcome {
    destroy(&unreachable_aws(), &owner(), opts, &Recorder::default())
        .await
        .expect("down runs")
}

/// Where `(op, what)` is in `log`.
fn at(log: &[(&str, String)], op: &str, what: &str) -> usize {
    log.iter()
        .position(|(o, w)| *o == op && w == what)
        .unwrap_or_else(|| panic!("no {op} of {what} in {log:?}"))
}

fn sorted<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut v: Vec<&str> = names.map(String::as_str).collect();
    v.sort_unstable();
    v
}
