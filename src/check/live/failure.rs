//! What the live part of a check finds wrong, and why it could not ask: a connection refused, a
//! page that answered otherwise, an HTTP GET or a command through SSM that got no answer. The
//! display is the sentence the report prints.

use std::fmt;
use std::io;
use std::time::Duration;

use thiserror::Error;

use super::CONNECT_TIMEOUT;
use crate::check::mounts::NotMounted;

/// What a live check finds wrong.
#[derive(Debug, Error)]
pub enum LiveFailure {
    /// The website's index or a missing page answered otherwise than 200 and 404 (each answer
    /// shown as the status or the error).
    #[error(
        "http://{host}/ answered {}; a missing page {} (want 200 and 404)",
        answer_text(.index),
        answer_text(.missing)
    )]
    Website {
        host: String,
        index: Result<u16, HttpError>,
        missing: Result<u16, HttpError>,
    },
    #[error("`{name}` was not found")]
    NotFound { name: String },
    /// Not a load balancer with a DNS name and an Auto Scaling group.
    #[error("{load_balancer} has no DNS name")]
    NoDnsName { load_balancer: String },
    #[error("no listener of {load_balancer} forwards to {group}'s target group")]
    NotForwarded {
        load_balancer: String,
        group: String,
    },
    /// AWS refused a describe the check needs.
    #[error("{code}: {message}")]
    Aws { code: String, message: String },
    /// Fewer healthy targets than wanted; `states` is each target with its state.
    #[error(
        "{healthy} healthy target(s) in {target_group}, want at least {want} ({})",
        states_text(.states)
    )]
    Unhealthy {
        healthy: usize,
        target_group: String,
        want: usize,
        states: Vec<String>,
    },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("GET http://{dns}/ answered {status}, not 200")]
    Status { dns: String, status: u16 },
    /// A service running another number of tasks than it wants (`last_event`: ECS's newest
    /// event, which says why).
    #[error("{service} runs {running} task(s), wants {desired}{}", if .last_event.is_empty() { String::new() } else { format!(" (ECS: {})", .last_event) })]
    NotRunning {
        service: String,
        running: i32,
        desired: i32,
        last_event: String,
    },
    /// A page other than the one the lab's image serves.
    #[error(
        "GET http://{dns}/ answered 200, but not with the lab image's index.html: it begins {begins:?}"
    )]
    WrongPage { dns: String, begins: String },
    /// Instances without the file system mounted.
    #[error("{}", join(.0))]
    Unmounted(Vec<Unmounted>),
    /// Connections that went otherwise than the check expects.
    #[error("{}", join(.0))]
    Connections(Vec<Connection>),
}

/// An answer as the report shows it: `Ok(200)`, or `Err("…")` with the reason.
fn answer_text(answer: &Result<u16, HttpError>) -> String {
    match answer {
        Ok(status) => format!("Ok({status})"),
        Err(e) => format!("Err({:?})", e.to_string()),
    }
}

fn states_text(states: &[String]) -> String {
    if states.is_empty() {
        "no targets registered".to_owned()
    } else {
        states.join(", ")
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why `GET` got no status code.
#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        host: String,
        port: u16,
        source: io::Error,
    },
    #[error("sending to {host}: {source}")]
    Send { host: String, source: io::Error },
    #[error("reading from {host}: {source}")]
    Read { host: String, source: io::Error },
    /// The first line was not an HTTP status line.
    #[error("{host} did not answer HTTP")]
    NotHttp { host: String },
    #[error("no answer from {host}:{port} within {} s", .waited.as_secs())]
    Timeout {
        host: String,
        port: u16,
        waited: Duration,
    },
}

/// Why a command through SSM gave no output.
#[derive(Debug, Error)]
pub enum ShellError {
    /// SendCommand refused, most often because the instance is not managed by SSM.
    #[error(
        "{code} ({message}): is the instance managed by Session Manager (instance profile with AmazonSSMManagedInstanceCore, outbound HTTPS)?"
    )]
    NotSent { code: String, message: String },
    #[error("SendCommand returned no command id")]
    NoCommandId,
    /// The command ended otherwise than `Success`; `stderr` is what it wrote there.
    #[error("the command ended {status}: {stderr}")]
    Ended { status: String, stderr: String },
    /// GetCommandInvocation refused.
    #[error("{code}: {message}")]
    Aws { code: String, message: String },
    #[error("no answer through SSM within {} s", .waited.as_secs())]
    Timeout { waited: Duration },
}

/// An instance without the file system mounted, and why.
#[derive(Debug, Error)]
#[error("{instance}: {why}")]
pub struct Unmounted {
    pub instance: String,
    pub why: MountFault,
}

/// Why an instance does not have the file system mounted.
#[derive(Debug, Error)]
pub enum MountFault {
    /// The instance the check names is not bound.
    #[error("not found")]
    NotFound,
    /// Its mount table shows no mount of the file system.
    #[error(transparent)]
    NotMounted(#[from] NotMounted),
    /// Its mount table could not be read.
    #[error(transparent)]
    Shell(#[from] ShellError),
}

/// A TCP connection from this machine to a host's public address, and whether it was
/// accepted (within the connect timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub host: String,
    pub addr: String,
    pub accepted: bool,
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.accepted {
            write!(f, "{} ({}) accepted a connection", self.host, self.addr)
        } else {
            write!(
                f,
                "{} ({}) did not accept a connection within {} s",
                self.host,
                self.addr,
                CONNECT_TIMEOUT.as_secs()
            )
        }
    }
}

/// Why the live check has no address to connect to (it is skipped).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoTarget {
    #[error("the internet has no address to connect to")]
    Internet,
    #[error("`{name}` was not found")]
    NotFound { name: String },
    #[error("`{name}` is not an instance or a security group")]
    NotAHost { name: String },
    #[error("`{name}` has no public address")]
    NoPublicAddress { name: String },
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use super::{HttpError, LiveFailure, MountFault, ShellError, Unmounted};
    use crate::check::mounts::NotMounted;

    #[test]
    fn each_instance_without_the_mount_is_named_with_its_reason() {
        let f = LiveFailure::Unmounted(vec![
            Unmounted {
                instance: "a".into(),
                why: MountFault::NotFound,
            },
            Unmounted {
                instance: "b".into(),
                why: NotMounted::Absent {
                    fs_id: "fs-1".into(),
                    mounts: Vec::new(),
                }
                .into(),
            },
            Unmounted {
                instance: "c".into(),
                why: ShellError::Timeout {
                    waited: Duration::from_secs(90),
                }
                .into(),
            },
        ]);
        assert_eq!(
            f.to_string(),
            "a: not found; b: fs-1 is not mounted (no NFS4 mount at all); c: no answer through SSM within 90 s"
        );
    }

    #[test]
    fn website_answers_read_as_status_or_error() {
        let refused = HttpError::Connect {
            host: "b.s3-website".into(),
            port: 80,
            source: io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
        };
        let f = LiveFailure::Website {
            host: "b.s3-website".into(),
            index: Ok(403),
            missing: Err(refused),
        };
        assert_eq!(
            f.to_string(),
            r#"http://b.s3-website/ answered Ok(403); a missing page Err("cannot connect to b.s3-website:80: refused") (want 200 and 404)"#
        );
        // The same text as `{:?}` of the answers as string results.
        let as_strings: (Result<u16, String>, Result<u16, String>) = (
            Ok(403),
            Err("cannot connect to b.s3-website:80: refused".into()),
        );
        assert_eq!(
            f.to_string(),
            format!(
                "http://b.s3-website/ answered {:?}; a missing page {:?} (want 200 and 404)",
                as_strings.0, as_strings.1
            )
        );
    }
}
