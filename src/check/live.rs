//! Live checks: what only a running account can prove. A `reachable` check from the internet
//! marked `live = true` also opens a TCP connection from this machine to the instance's public
//! address; an `efs_mountable` check marked `live = true` runs `mount -t nfs4` through SSM on each
//! instance. They run on AWS with `check --live` and report `skip` with the reason elsewhere: an
//! emulator runs no instances, so nothing there could prove it.

use std::time::Duration;

use tokio::net::TcpStream;

use super::report::CheckResult;
use crate::aws::Aws;
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

fn skipped(id: String, title: String, live: Live) -> Option<CheckResult> {
    match live {
        Live::Off => Some(CheckResult::skip(
            id,
            title,
            "not run: add --live to run it against the live account".to_owned(),
        )),
        Live::Emulator => Some(CheckResult::skip(
            id,
            title,
            "not run: an emulator runs no instances, so nothing there could prove it".to_owned(),
        )),
        Live::On => None,
    }
}

/// The live result of `check`, or `None` when the check has no live part.
pub async fn run(
    aws: &Aws,
    check: &Check,
    bound: &Bindings,
    world: &World,
    live: Live,
) -> Option<CheckResult> {
    if let CheckKind::EfsMountable {
        file_system,
        instances,
        live: true,
    } = &check.kind
    {
        let id = format!("{}.live", check.id);
        let title = format!("{} (live: mount -t nfs4 through SSM)", check.title);
        if let Some(s) = skipped(id.clone(), title.clone(), live) {
            return Some(s);
        }
        return Some(efs_mounted(aws, check, id, title, file_system, instances, bound).await);
    }
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
    if let Some(s) = skipped(id.clone(), title.clone(), live) {
        return Some(s);
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

const SSM_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `mount -t nfs4` (and lists amazon-efs-utils' state files, since a TLS mount shows
/// `127.0.0.1:/`) on each instance through SSM; the file system's id must show up.
async fn efs_mounted(
    aws: &Aws,
    check: &Check,
    id: String,
    title: String,
    file_system: &str,
    instances: &[String],
    bound: &Bindings,
) -> CheckResult {
    let Some(fs_id) = bound.id(file_system) else {
        return CheckResult::skip(id, title, format!("not run: `{file_system}` was not found"));
    };
    let mut evidence = Vec::new();
    let mut wrong = Vec::new();
    for name in instances {
        let Some(instance) = bound.id(name) else {
            wrong.push(format!("{name}: not found"));
            continue;
        };
        match run_shell(aws, instance, "mount -t nfs4; ls /var/run/efs 2>/dev/null").await {
            Ok(out) if out.contains(fs_id) => evidence.push(format!("{name}: {fs_id} mounted")),
            Ok(out) => wrong.push(format!(
                "{name}: {fs_id} is not mounted (mount -t nfs4 shows: {})",
                if out.trim().is_empty() {
                    "nothing"
                } else {
                    out.trim()
                }
            )),
            Err(why) => wrong.push(format!("{name}: {why}")),
        }
    }
    if wrong.is_empty() {
        CheckResult::pass(id, title, check.points, evidence.join("; "))
    } else {
        CheckResult::fail(
            id,
            title,
            check.points,
            wrong.join("; "),
            "connect with Session Manager and mount it: yum install -y amazon-efs-utils; mount -t efs -o tls <file system id>:/ /data".to_owned(),
        )
    }
}

/// One shell command through `AWS-RunShellScript`; its standard output.
async fn run_shell(aws: &Aws, instance: &str, command: &str) -> Result<String, String> {
    let sent = aws
        .ssm
        .send_command()
        .document_name("AWS-RunShellScript")
        .instance_ids(instance)
        .parameters("commands", vec![command.to_owned()])
        .send()
        .await
        .map_err(|e| {
            let e = crate::aws::AwsError::from_sdk("ssm:SendCommand", instance, e);
            format!(
                "{} ({}): is the instance managed by Session Manager (instance profile with AmazonSSMManagedInstanceCore, outbound HTTPS)?",
                e.code, e.message
            )
        })?;
    let command_id = sent
        .command()
        .and_then(|c| c.command_id())
        .ok_or("SendCommand returned no command id")?
        .to_owned();
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let out = aws
            .ssm
            .get_command_invocation()
            .command_id(&command_id)
            .instance_id(instance)
            .send()
            .await;
        match out {
            Ok(inv) => {
                let status = inv
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                match status.as_str() {
                    "Success" => {
                        return Ok(inv.standard_output_content().unwrap_or_default().to_owned());
                    }
                    "Pending" | "InProgress" | "Delayed" => {}
                    other => {
                        return Err(format!(
                            "the command ended {other}: {}",
                            inv.standard_error_content().unwrap_or_default().trim()
                        ));
                    }
                }
            }
            // Not registered yet right after SendCommand.
            Err(_) if started.elapsed() < Duration::from_secs(10) => {}
            Err(e) => {
                let e = crate::aws::AwsError::from_sdk("ssm:GetCommandInvocation", instance, e);
                return Err(format!("{}: {}", e.code, e.message));
            }
        }
        if started.elapsed() > SSM_TIMEOUT {
            return Err(format!(
                "no answer through SSM within {} s",
                SSM_TIMEOUT.as_secs()
            ));
        }
    }
}
