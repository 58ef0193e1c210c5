//! Live checks: what only a running account can prove, tried from this machine. A `reachable`
//! check from the internet marked `live = true` also opens a TCP connection to the instance's
//! public address. They run on AWS with `check --live` and report `skip` with the reason
//! elsewhere: an emulator runs no instances, so a connection there would prove nothing.

use std::time::Duration;

use tokio::net::TcpStream;

use super::report::CheckResult;
use crate::lab::{Check, CheckKind, Endpoint, Kind};
use crate::resources::{Bindings, Facts, World};

/// Whether live checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// Not asked for (`--live` absent).
    Off,
    /// Asked for, but the endpoint is an emulator.
    Emulator,
    /// On AWS, asked for.
    On,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The live result of `check`, or `None` when the check has no live part.
pub async fn run(
    check: &Check,
    bound: &Bindings,
    world: &World,
    live: Live,
) -> Option<CheckResult> {
    let CheckKind::Reach {
        expect,
        from: Endpoint::Internet,
        to,
        port: Some(port),
        live: true,
        ..
    } = &check.kind
    else {
        return None;
    };
    let id = format!("{}.live", check.id);
    let title = format!("{} (live: TCP connect from this machine)", check.title);
    match live {
        Live::Off => {
            return Some(CheckResult::skip(
                id,
                title,
                "not run: add --live to also connect from this machine".to_owned(),
            ));
        }
        Live::Emulator => {
            return Some(CheckResult::skip(
                id,
                title,
                "not run: an emulator runs no instances, so there is nothing to connect to"
                    .to_owned(),
            ));
        }
        Live::On => {}
    }
    let targets = match public_addresses(to, bound, world) {
        Ok(t) => t,
        Err(why) => return Some(CheckResult::skip(id, title, format!("not run: {why}"))),
    };
    let mut evidence = Vec::new();
    let mut wrong = Vec::new();
    for (name, ip) in targets {
        let addr = format!("{ip}:{port}");
        let connected = matches!(
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await,
            Ok(Ok(_))
        );
        let what = if connected {
            format!("{name} ({addr}) accepted a connection")
        } else {
            format!(
                "{name} ({addr}) did not accept a connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            )
        };
        if connected == *expect {
            evidence.push(what);
        } else {
            wrong.push(what);
        }
    }
    Some(if wrong.is_empty() {
        CheckResult::pass(id, title, check.points, evidence.join("; "))
    } else {
        let hint = if *expect {
            "the analysis may pass while the instance is not listening yet, or while its security group admits another address than this machine's; check the service and the rule's source"
        } else {
            "something on the internet can connect: close the port in the security group or move the instance to a private subnet"
        };
        CheckResult::fail(id, title, check.points, wrong.join("; "), hint.to_owned())
    })
}

/// The public addresses an endpoint stands for: an instance, or each instance of a group.
fn public_addresses(
    to: &Endpoint,
    bound: &Bindings,
    world: &World,
) -> Result<Vec<(String, String)>, String> {
    let Endpoint::Resource(name) = to else {
        return Err("the internet has no address to connect to".to_owned());
    };
    let target = bound
        .get(name)
        .ok_or_else(|| format!("`{name}` was not found"))?;
    let instances: Vec<_> = match target.kind {
        Kind::Instance => vec![target],
        Kind::SecurityGroup => world
            .of_kind(Kind::Instance)
            .filter(|i| matches!(&i.facts, Facts::Instance { security_groups, .. } if security_groups.contains(&target.id)))
            .collect(),
        _ => return Err(format!("`{name}` is not an instance or a security group")),
    };
    let out: Vec<(String, String)> = instances
        .into_iter()
        .filter_map(|i| match &i.facts {
            Facts::Instance {
                public_ip: Some(ip),
                ..
            } => Some((bound.label(&i.id), ip.clone())),
            _ => None,
        })
        .collect();
    if out.is_empty() {
        return Err(format!("`{name}` has no public address"));
    }
    Ok(out)
}
