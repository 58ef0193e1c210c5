//! Live checks: what only a running account can prove. A `reachable` check from the internet
//! marked `live = true` also opens a TCP connection from this machine to the instance's public
//! address; an `efs_mountable` check marked `live = true` reads each instance's mount table through
//! SSM for an NFS4 mount of the file system. They run on AWS with `check --live` and report `skip` with the reason elsewhere: an
//! emulator runs no instances, so nothing there could prove it.

mod failure;

use std::time::Duration;

use tokio::net::TcpStream;

pub use failure::{
    Connection, HttpError, LiveFailure, MountFault, NoTarget, ShellError, Unmounted,
};

use super::mounts;
use super::report::CheckResult;
use crate::aws::Aws;
use crate::lab::{Check, CheckKind, Endpoint, Kind, Lab};
use crate::resources::{
    AutoScalingGroupFacts, InstanceFacts, ListenerFacts, LoadBalancerFacts, MountTargetFacts,
};
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
    lab: &Lab,
    check: &Check,
    bound: &Bindings,
    world: &World,
    live: Live,
) -> Option<CheckResult> {
    if let CheckKind::EcrImage { repository, tag } = &check.kind {
        return Some(scan_findings(aws, check, repository, tag, bound).await);
    }
    if let CheckKind::S3Website { bucket, live: true } = &check.kind {
        let id = format!("{}.live", check.id);
        let title = format!("{} (live: GET the index and a missing page)", check.title);
        if let Some(s) = skipped(id.clone(), title.clone(), live) {
            return Some(s);
        }
        let Some(name) = bound.id(bucket) else {
            return Some(CheckResult::skip(
                id,
                title,
                format!("not run: `{bucket}` was not found"),
            ));
        };
        let host = crate::resources::s3::website_url(name, &aws.region)
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let index = http_get_path(&host, 80, "/").await;
        let missing = http_get_path(&host, 80, "/awslab-no-such-page.html").await;
        return Some(match (index, missing) {
            (Ok(200), Ok(404)) => CheckResult::pass(
                id,
                title,
                check.points,
                format!("http://{host}/ answered 200; a missing page 404 (the error document)"),
            ),
            (index, missing) => CheckResult::fail(
                id,
                title,
                check.points,
                LiveFailure::Website {
                    host,
                    index,
                    missing,
                }
                .to_string(),
                "a 403 means the policy or Block Public Access stops the public read; a 404 on the index means index.html is not uploaded".to_owned(),
            ),
        });
    }
    if let CheckKind::AlbServesAsg {
        load_balancer,
        group,
        live: true,
        tasks,
    } = &check.kind
    {
        let (proves, hint) = if *tasks {
            (
                "tasks running, healthy targets, the image's page",
                "new tasks need a minute or two: ECS pulls the image, starts it and waits for its health check, then the target group needs consecutive passing health checks on `/`; the tasks' security group must admit the container port from the load balancer's, and a task that stops says why in the service's events",
            )
        } else {
            (
                "healthy targets and an HTTP GET",
                "new instances need a few minutes: the user data installs the web server, then the target group needs consecutive passing health checks on `/`; web-sg must admit port 80 from alb-sg",
            )
        };
        let id = format!("{}.live", check.id);
        let title = format!("{} (live: {proves})", check.title);
        if let Some(s) = skipped(id.clone(), title.clone(), live) {
            return Some(s);
        }
        let page = tasks.then(|| service_page(lab, group)).flatten();
        return Some(
            match alb_serving(aws, load_balancer, group, page.as_deref(), bound, world).await {
                Ok(evidence) => CheckResult::pass(id, title, check.points, evidence),
                Err(why) => {
                    CheckResult::fail(id, title, check.points, why.to_string(), hint.to_owned())
                }
            },
        );
    }
    if let CheckKind::EfsMountable {
        file_system,
        instances,
        live: true,
    } = &check.kind
    {
        let id = format!("{}.live", check.id);
        let title = format!(
            "{} (live: NFS4 mount in the mount table, through SSM)",
            check.title
        );
        if let Some(s) = skipped(id.clone(), title.clone(), live) {
            return Some(s);
        }
        let Some(fs_id) = bound.id(file_system) else {
            return Some(CheckResult::skip(
                id,
                title,
                format!("not run: `{file_system}` was not found"),
            ));
        };
        return Some(match efs_mounted(aws, fs_id, instances, bound, world).await {
            Ok(evidence) => CheckResult::pass(id, title, check.points, evidence),
            Err(why) => CheckResult::fail(
                id,
                title,
                check.points,
                why.to_string(),
                "connect with Session Manager and mount it: yum install -y amazon-efs-utils; mount -t efs -o tls <file system id>:/ /data".to_owned(),
            ),
        });
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
        let connection = Connection {
            host: name,
            addr,
            accepted: connected,
        };
        if connected == *expect {
            evidence.push(connection);
        } else {
            wrong.push(connection);
        }
    }
    Some(if wrong.is_empty() {
        let evidence: Vec<String> = evidence.iter().map(Connection::to_string).collect();
        CheckResult::pass(id, title, check.points, evidence.join("; "))
    } else {
        let hint = if *expect {
            "the analysis may pass while the instance is not listening yet, or while its security group admits another address than this machine's; check the service and the rule's source"
        } else {
            "something on the internet can connect: close the port in the security group or move the instance to a private subnet"
        };
        CheckResult::fail(
            id,
            title,
            check.points,
            LiveFailure::Connections(wrong).to_string(),
            hint.to_owned(),
        )
    })
}

/// The public addresses an endpoint stands for: an instance, or each instance of a group.
fn public_addresses(
    to: &Endpoint,
    bound: &Bindings,
    world: &World,
) -> Result<Vec<(String, String)>, NoTarget> {
    let Endpoint::Resource(name) = to else {
        return Err(NoTarget::Internet);
    };
    let target = bound
        .get(name)
        .ok_or_else(|| NoTarget::NotFound { name: name.clone() })?;
    let instances: Vec<_> = match target.kind {
        Kind::Instance => vec![target],
        Kind::SecurityGroup => world
            .of_kind(Kind::Instance)
            .filter(|i| matches!(&i.facts, Facts::Instance(InstanceFacts { security_groups, .. }) if security_groups.contains(&target.id)))
            .collect(),
        _ => return Err(NoTarget::NotAHost { name: name.clone() }),
    };
    let out: Vec<(String, String)> = instances
        .into_iter()
        .filter_map(|i| match &i.facts {
            Facts::Instance(InstanceFacts {
                public_ip: Some(ip),
                ..
            }) => Some((bound.label(&i.id), ip.clone())),
            _ => None,
        })
        .collect();
    if out.is_empty() {
        return Err(NoTarget::NoPublicAddress { name: name.clone() });
    }
    Ok(out)
}

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The image's scan findings by severity, when the service has them (scan on push); `skip`
/// with the reason otherwise. Reported, not graded: no points. Not a live check: it reads what
/// ECR already knows, one call, with or without `--live`.
async fn scan_findings(
    aws: &Aws,
    check: &Check,
    repository: &str,
    tag: &str,
    bound: &Bindings,
) -> CheckResult {
    let id = format!("{}.scan", check.id);
    let title = format!("{} (scan findings)", check.title);
    let Some(repo) = bound.id(repository) else {
        return CheckResult::skip(id, title, format!("not run: `{repository}` was not found"));
    };
    let out = aws
        .ecr
        .describe_image_scan_findings()
        .repository_name(repo)
        .image_id(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(tag)
                .build(),
        )
        .send()
        .await;
    match out {
        Ok(o) => {
            let status = o
                .image_scan_status()
                .and_then(|s| s.status())
                .map_or("unknown", |s| s.as_str());
            let Some(findings) = o.image_scan_findings() else {
                return CheckResult::skip(id, title, format!("no findings yet (scan {status})"));
            };
            let mut counts: Vec<String> = findings
                .finding_severity_counts()
                .into_iter()
                .flatten()
                .map(|(severity, n)| format!("{n} {}", severity.as_str()))
                .collect();
            counts.sort();
            CheckResult::pass(
                id,
                title,
                0,
                format!(
                    "scan {status}: {}",
                    if counts.is_empty() {
                        "no findings".to_owned()
                    } else {
                        counts.join(", ")
                    }
                ),
            )
        }
        Err(e) => {
            let e = crate::aws::AwsError::from_sdk("ecr:DescribeImageScanFindings", repo, e);
            CheckResult::skip(
                id,
                title,
                format!("not reported: {} ({})", e.cause.code(), e.message()),
            )
        }
    }
}

/// The page a service's tasks serve at `/`: the `index.html` of the lab's image their task
/// definition runs, when the lab builds that image.
fn service_page(lab: &Lab, service: &str) -> Option<String> {
    use crate::resources::ecs::TaskImage;
    use crate::resources::{EcsServiceSpec, EcsTaskDefinitionSpec, ImageSpec, Spec};
    let Spec::EcsService(EcsServiceSpec {
        task_definition, ..
    }) = &lab.resource(service)?.spec
    else {
        return None;
    };
    let Spec::EcsTaskDefinition(EcsTaskDefinitionSpec {
        image: TaskImage::Lab(image),
        ..
    }) = &lab.resource(task_definition)?.spec
    else {
        return None;
    };
    let Spec::Image(ImageSpec { files, .. }) = &lab.resource(image)?.spec else {
        return None;
    };
    files
        .iter()
        .find(|f| f.key == "index.html")
        .map(|f| String::from_utf8_lossy(&f.content).trim().to_owned())
        .filter(|p| !p.is_empty())
}

/// Healthy targets in the target group the load balancer forwards to (at least the group's
/// minimum), then `GET /` on the load balancer's DNS name answers 200, with `page` when given.
async fn alb_serving(
    aws: &Aws,
    lb_name: &str,
    group_name: &str,
    page: Option<&str>,
    bound: &Bindings,
    world: &World,
) -> Result<String, LiveFailure> {
    let lb = bound.get(lb_name).ok_or_else(|| LiveFailure::NotFound {
        name: lb_name.to_owned(),
    })?;
    let group = bound.get(group_name).ok_or_else(|| LiveFailure::NotFound {
        name: group_name.to_owned(),
    })?;
    let Facts::LoadBalancer(LoadBalancerFacts {
        dns_name: Some(dns),
        ..
    }) = &lb.facts
    else {
        return Err(LiveFailure::NoDnsName {
            load_balancer: lb_name.to_owned(),
        });
    };
    // Healthy targets: at least the group's minimum, or the service's desired count.
    let (target_groups, min_size) = match &group.facts {
        Facts::AutoScalingGroup(AutoScalingGroupFacts {
            target_groups,
            min_size,
            ..
        }) => (target_groups, *min_size),
        Facts::EcsService(crate::resources::EcsServiceFacts {
            target_groups,
            desired,
            running,
            last_event,
            ..
        }) => {
            // During a rolling deployment the old and the new tasks run together: more is fine.
            if running < desired {
                return Err(LiveFailure::NotRunning {
                    service: group_name.to_owned(),
                    running: *running,
                    desired: *desired,
                    last_event: last_event.clone().unwrap_or_default(),
                });
            }
            (target_groups, *desired)
        }
        _ => {
            return Err(LiveFailure::NotForwarded {
                load_balancer: lb_name.to_owned(),
                group: group_name.to_owned(),
            });
        }
    };
    let (port, tg) = world
        .of_kind(Kind::Listener)
        .find_map(|l| match &l.facts {
            Facts::Listener(ListenerFacts {
                load_balancer,
                port,
                target_groups: forwards,
                ..
            }) if *load_balancer == lb.id => forwards
                .iter()
                .find(|t| target_groups.contains(t))
                .map(|t| (port.unwrap_or(80), t.clone())),
            _ => None,
        })
        .ok_or_else(|| LiveFailure::NotForwarded {
            load_balancer: lb_name.to_owned(),
            group: group_name.to_owned(),
        })?;
    let health = aws
        .known("elasticloadbalancing:DescribeTargetHealth", &tg, || {
            aws.elbv2
                .describe_target_health()
                .target_group_arn(&tg)
                .send()
        })
        .await
        .map_err(|e| LiveFailure::Aws {
            code: e.cause.code().to_owned(),
            message: e.message(),
        })?;
    let states: Vec<String> = health
        .target_health_descriptions()
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d.target().and_then(|t| t.id()).unwrap_or("?"),
                d.target_health()
                    .and_then(|h| h.state())
                    .map_or("unknown", |s| s.as_str())
            )
        })
        .collect();
    let healthy = states.iter().filter(|s| s.ends_with(" healthy")).count();
    let want = usize::try_from(min_size).unwrap_or(0).max(1);
    if healthy < want {
        return Err(LiveFailure::Unhealthy {
            healthy,
            target_group: bound.label(&tg),
            want,
            states,
        });
    }
    let (status, body) = http_get_page(dns, u16::try_from(port).unwrap_or(80), "/").await?;
    if status != 200 {
        return Err(LiveFailure::Status {
            dns: dns.clone(),
            status,
        });
    }
    let body = squeeze(&String::from_utf8_lossy(&body));
    let served = match page {
        Some(p) if !body.contains(&squeeze(p)) => {
            return Err(LiveFailure::WrongPage {
                dns: dns.clone(),
                begins: body.chars().take(80).collect(),
            });
        }
        Some(_) => " with the image's index.html",
        None => "",
    };
    let running = match &group.facts {
        Facts::EcsService(f) => format!("{} of {} task(s) running; ", f.running, f.desired),
        _ => String::new(),
    };
    Ok(format!(
        "{running}{healthy} healthy target(s) in {}; GET http://{dns}/ answered 200{served}",
        bound.label(&tg)
    ))
}

/// The status code of `GET path` over plain HTTP/1.1.
async fn http_get_path(host: &str, port: u16, path: &str) -> Result<u16, HttpError> {
    http_get(host, port, path, false)
        .await
        .map(|(status, _)| status)
}

/// The status code and the body of `GET path` over plain HTTP/1.1.
async fn http_get_page(host: &str, port: u16, path: &str) -> Result<(u16, Vec<u8>), HttpError> {
    http_get(host, port, path, true).await
}

/// The most of a page that is read.
const MAX_PAGE: usize = 64 * 1024;

/// `GET path`: the status code, and with `body` the body (its first [`MAX_PAGE`] bytes, chunked
/// transfer decoded) read to the end its `Content-Length` or last chunk gives, or to the end of
/// the connection.
async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    body: bool,
) -> Result<(u16, Vec<u8>), HttpError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream =
            TcpStream::connect((host, port))
                .await
                .map_err(|source| HttpError::Connect {
                    host: host.to_owned(),
                    port,
                    source,
                })?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: awslab\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|source| HttpError::Send {
                host: host.to_owned(),
                source,
            })?;
        let mut raw = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            if !body && raw.windows(2).any(|w| w == b"\r\n") {
                break;
            }
            if let Some(end) = head_end(&raw) {
                if complete(&raw[..end], &raw[end + 4..]) {
                    break;
                }
            } else if raw.len() > MAX_PAGE {
                break;
            }
            let n = match stream.read(&mut chunk).await {
                Ok(n) => n,
                // A connection reset after a whole head still answered: keep what came.
                Err(_) if head_end(&raw).is_some() => 0,
                Err(source) => {
                    return Err(HttpError::Read {
                        host: host.to_owned(),
                        source,
                    });
                }
            };
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
        let status = status_code(&raw).ok_or_else(|| HttpError::NotHttp {
            host: host.to_owned(),
        })?;
        let page = match head_end(&raw) {
            Some(end) if body => {
                let (head, rest) = (&raw[..end], &raw[end + 4..]);
                let mut page = if chunked(head) {
                    dechunk(rest).0
                } else {
                    rest.to_vec()
                };
                page.truncate(MAX_PAGE);
                page
            }
            _ => Vec::new(),
        };
        Ok((status, page))
    };
    tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .map_err(|_| HttpError::Timeout {
            host: host.to_owned(),
            port,
            waited: HTTP_TIMEOUT,
        })?
}

/// Where a response's head ends (the blank line).
fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n")
}

/// A header's value in a response head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn chunked(head: &[u8]) -> bool {
    header(&String::from_utf8_lossy(head), "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// Whether the body read so far is all of it (or all that is read).
fn complete(head: &[u8], body: &[u8]) -> bool {
    if body.len() >= MAX_PAGE {
        return true;
    }
    if chunked(head) {
        return dechunk(body).1;
    }
    header(&String::from_utf8_lossy(head), "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| body.len() >= len)
}

/// A chunked body's data: each chunk's size line, then its bytes, to the last (0) chunk; and
/// whether that last chunk was reached.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok());
        match size {
            Some(0) => return (out, true),
            None => break,
            Some(size) => {
                let data = &rest[eol + 2..];
                if data.len() < size {
                    out.extend_from_slice(data);
                    break;
                }
                out.extend_from_slice(&data[..size]);
                rest = data.get(size + 2..).unwrap_or_default();
            }
        }
    }
    (out, false)
}

/// Text with every run of white space made one space, trimmed: pages compared so, line endings
/// (a checkout with CRLF) and indentation do not count.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `HTTP/1.1 200 OK` -> 200 (from the first line; what follows may be any bytes).
fn status_code(head: &[u8]) -> Option<u16> {
    let end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

const SSM_TIMEOUT: Duration = Duration::from_secs(90);

/// Reads the mount table (and amazon-efs-utils' state files, since a TLS mount shows
/// `127.0.0.1:/`) on each instance through SSM; an NFS4 mount of the file system must be in it
/// ([`super::mounts`]). The evidence of each instance, or what is wrong on each that fails.
async fn efs_mounted(
    aws: &Aws,
    fs_id: &str,
    instances: &[String],
    bound: &Bindings,
    world: &World,
) -> Result<String, LiveFailure> {
    let mount_target_ips: Vec<String> = world
        .of_kind(Kind::MountTarget)
        .filter_map(|m| match &m.facts {
            Facts::MountTarget(MountTargetFacts {
                file_system_id,
                ip: Some(ip),
                ..
            }) if file_system_id == fs_id => Some(ip.clone()),
            _ => None,
        })
        .collect();
    let target = mounts::EfsTarget {
        fs_id,
        region: &aws.region,
        mount_target_ips: &mount_target_ips,
    };
    let mut evidence = Vec::new();
    let mut wrong = Vec::new();
    for name in instances {
        let Some(instance) = bound.id(name) else {
            wrong.push(Unmounted {
                instance: name.clone(),
                why: MountFault::NotFound,
            });
            continue;
        };
        let mounted = match run_shell(aws, instance, mounts::COMMAND).await {
            Ok(out) => mounts::efs_mounted(&out, &target).map_err(MountFault::from),
            Err(why) => Err(MountFault::from(why)),
        };
        match mounted {
            Ok(how) => evidence.push(format!("{name}: {how}")),
            Err(why) => wrong.push(Unmounted {
                instance: name.clone(),
                why,
            }),
        }
    }
    if wrong.is_empty() {
        Ok(evidence.join("; "))
    } else {
        Err(LiveFailure::Unmounted(wrong))
    }
}

/// One shell command through `AWS-RunShellScript`; its standard output.
async fn run_shell(aws: &Aws, instance: &str, command: &str) -> Result<String, ShellError> {
    let sent = aws
        .known("ssm:SendCommand", instance, || {
            aws.ssm
                .send_command()
                .document_name("AWS-RunShellScript")
                .instance_ids(instance)
                .parameters("commands", vec![command.to_owned()])
                .send()
        })
        .await
        .map_err(|e| ShellError::NotSent {
            code: e.cause.code().to_owned(),
            message: e.message(),
        })?;
    let command_id = sent
        .command()
        .and_then(|c| c.command_id())
        .ok_or(ShellError::NoCommandId)?
        .to_owned();
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        // A new command is not visible to GetCommandInvocation at once.
        let out = aws
            .known("ssm:GetCommandInvocation", instance, || {
                aws.ssm
                    .get_command_invocation()
                    .command_id(&command_id)
                    .instance_id(instance)
                    .send()
            })
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
                        return Err(ShellError::Ended {
                            status: other.to_owned(),
                            stderr: inv
                                .standard_error_content()
                                .unwrap_or_default()
                                .trim()
                                .to_owned(),
                        });
                    }
                }
            }
            Err(e) => {
                return Err(ShellError::Aws {
                    code: e.cause.code().to_owned(),
                    message: e.message(),
                });
            }
        }
        if started.elapsed() > SSM_TIMEOUT {
            return Err(ShellError::Timeout {
                waited: SSM_TIMEOUT,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HttpError, status_code};

    #[test]
    fn status_lines_are_parsed() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\nServer: x"), Some(200));
        assert_eq!(status_code(b"HTTP/1.1 502 Bad Gateway\r\n"), Some(502));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(status_code(b""), None);
    }

    /// A local server answering 200: the GET goes over a real socket.
    #[tokio::test]
    async fn get_reads_the_status_of_a_real_server() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0_u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let answer = super::http_get_path("127.0.0.1", port, "/").await;
        assert!(matches!(answer, Ok(200)), "{answer:?}");
    }

    /// A server that answers something else than HTTP, and a port nobody listens on: each
    /// failure says which step failed.
    #[tokio::test]
    async fn get_failures_say_what_went_wrong() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0_u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
            }
        });
        let answer = super::http_get_path("127.0.0.1", port, "/").await;
        assert!(
            matches!(&answer, Err(HttpError::NotHttp { host }) if host == "127.0.0.1"),
            "{answer:?}"
        );
        assert_eq!(
            answer.expect_err("not HTTP").to_string(),
            "127.0.0.1 did not answer HTTP"
        );
        // The port of a listener that is gone refuses the connection.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let answer = super::http_get_path("127.0.0.1", port, "/").await;
        assert!(
            matches!(&answer, Err(HttpError::Connect { port: p, .. }) if *p == port),
            "{answer:?}"
        );
        let text = answer.expect_err("refused").to_string();
        assert!(
            text.starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
            "{text}"
        );
    }

    /// The body is read to its `Content-Length`, even from a server that sends it in pieces
    /// and keeps the connection open.
    #[tokio::test]
    async fn a_page_is_read_to_its_length() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0_u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello")
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let _ = s.write_all(b" world").await;
                // Open until the client is done.
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
        });
        let (status, body) = super::http_get_page("127.0.0.1", port, "/")
            .await
            .expect("page");
        assert_eq!((status, body.as_slice()), (200, &b"hello world"[..]));
    }

    #[test]
    fn chunked_bodies_are_decoded_and_pages_compared_without_line_endings() {
        assert_eq!(
            super::dechunk(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"),
            (b"hello world".to_vec(), true)
        );
        // A chunk whose data holds "0\r\n\r\n" is not the end.
        assert_eq!(
            super::dechunk(b"8\r\na: 0\r\n\r\n\r\n"),
            (b"a: 0\r\n\r\n".to_vec(), false)
        );
        assert!(!super::complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
            b"8\r\na: 0\r\n\r\n\r\n"
        ));
        assert!(super::complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
            b"5\r\nhello\r\n0\r\n\r\n"
        ));
        assert!(!super::complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9",
            b"hello"
        ));
        assert_eq!(
            super::squeeze("<h1>\r\n  Hello\r\n</h1>\n"),
            super::squeeze("<h1>\n Hello\n</h1>")
        );
    }

    /// The page the ECS lab's tasks must serve is the index.html of the lab's image.
    #[test]
    fn the_ecs_lab_service_serves_its_image_page() {
        use std::collections::BTreeMap;

        use crate::lab::catalog::{BUNDLED, LabSource, load_text};
        let (id, text) = BUNDLED
            .iter()
            .find(|(b, _)| *b == "ecs-fargate-service")
            .expect("bundled lab");
        let lab = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
            .expect("loads")
            .lab;
        let page = super::service_page(&lab, "web-service").expect("a page");
        assert!(page.contains("Hello from an image pushed to ECR"), "{page}");
        assert_eq!(super::service_page(&lab, "web-alb"), None);
        let stopped = super::LiveFailure::NotRunning {
            service: "web-service".to_owned(),
            running: 0,
            desired: 2,
            last_event: "(service web-service) is unable to consistently start tasks successfully."
                .to_owned(),
        };
        assert_eq!(
            stopped.to_string(),
            "web-service runs 0 task(s), wants 2 (ECS: (service web-service) is unable to consistently start tasks successfully.)"
        );
        let wrong = super::LiveFailure::WrongPage {
            dns: "web-alb-1.elb.amazonaws.com".to_owned(),
            begins: "<!DOCTYPE html><title>Welcome to nginx!</title>".to_owned(),
        };
        assert_eq!(
            wrong.to_string(),
            "GET http://web-alb-1.elb.amazonaws.com/ answered 200, but not with the lab image's index.html: it begins \"<!DOCTYPE html><title>Welcome to nginx!</title>\""
        );
    }
}
