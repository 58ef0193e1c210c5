//! This machine's public IPv4 address, for lab parameters that default to it
//! (`default_from = "caller-ip"`, as the bastion's `ssh_cidr`): one GET of
//! https://checkip.amazonaws.com (or `AWSLAB_CHECKIP_URL`), bounded in time and size, whose
//! answer must be an IPv4 address. When it cannot be found, the parameter keeps the lab's
//! `default`, with a warning; a value given with `--set` is never looked up.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, tls};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::byte_stream::ByteStream;
use thiserror::Error;

use crate::lab::{DefaultFrom, Lab};

/// The environment variable that names the lookup URL (tests point it at a local server).
pub const URL_VAR: &str = "AWSLAB_CHECKIP_URL";

/// AWS's own "what is my address" service.
pub const DEFAULT_URL: &str = "https://checkip.amazonaws.com";

/// How long the lookup may take in all.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The most of an answer that is read (an address is at most 15 characters and a newline).
const MAX_ANSWER: usize = 256;

/// The URL the address is asked of.
pub fn url() -> String {
    std::env::var(URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// Why the address was not found.
#[derive(Debug, Clone, Error)]
pub enum LookupError {
    #[error("{url} is not a URL awslab can ask")]
    BadUrl { url: String },
    #[error("{url}: no answer within {:.1} s", after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    #[error("{url}: {message}")]
    Request { url: String, message: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered `{answer}`, not an IPv4 address")]
    NotAnAddress { url: String, answer: String },
}

/// The address `url` answers, within `timeout`.
pub async fn lookup(url: &str, timeout: Duration) -> Result<Ipv4Addr, LookupError> {
    tokio::time::timeout(timeout, ask(url))
        .await
        .unwrap_or_else(|_| {
            Err(LookupError::Timeout {
                url: url.to_owned(),
                after: timeout,
            })
        })
}

async fn ask(url: &str) -> Result<Ipv4Addr, LookupError> {
    let request = HttpRequest::get(url).map_err(|_| LookupError::BadUrl {
        url: url.to_owned(),
    })?;
    let mut connector = Connector::builder().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    connector.set_proxy_config(Some(ProxyConfig::from_env()));
    let response = connector
        .build()
        .call(request)
        .await
        .map_err(|e| LookupError::Request {
            url: url.to_owned(),
            message: error_chain(&e),
        })?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Err(LookupError::Status {
            url: url.to_owned(),
            status,
        });
    }
    let mut body = ByteStream::new(response.into_body());
    let mut answer = Vec::new();
    while answer.len() <= MAX_ANSWER {
        match body.next().await {
            Some(Ok(chunk)) => answer.extend_from_slice(&chunk),
            Some(Err(e)) => {
                return Err(LookupError::Request {
                    url: url.to_owned(),
                    message: error_chain(&e),
                });
            }
            None => break,
        }
    }
    answer.truncate(MAX_ANSWER);
    let text = String::from_utf8_lossy(&answer).trim().to_owned();
    text.parse().map_err(|_| LookupError::NotAnAddress {
        url: url.to_owned(),
        answer: text.chars().take(40).collect(),
    })
}

/// An error and its sources, each once: `a: b: c`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        parts.push(s.to_string());
        next = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// What a parameter that defaults to the caller's address was given.
#[derive(Debug)]
pub enum Given {
    /// The address was found: `value` is it as a /32.
    Found {
        name: String,
        value: String,
        url: String,
    },
    /// It was not: the parameter keeps the lab's default.
    Default {
        name: String,
        value: String,
        why: LookupError,
    },
}

impl Given {
    pub fn is_warning(&self) -> bool {
        matches!(self, Given::Default { .. })
    }

    /// The parameter given a value.
    pub fn name(&self) -> &str {
        match self {
            Given::Found { name, .. } | Given::Default { name, .. } => name,
        }
    }
}

impl fmt::Display for Given {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Given::Found { name, value, url } => write!(
                f,
                "{name} = {value}: this machine's public address (from {url}); another with --set {name}=CIDR"
            ),
            Given::Default { name, value, why } => write!(
                f,
                "{name} = {value}, the lab's default: this machine's public address was not found ({why}); narrow it with --set {name}=YOUR.ADDRESS/32"
            ),
        }
    }
}

/// The lab's parameters that default to the caller's address and were not set with `--set`:
/// `sets` with them set to the address when it is found (one lookup for all), and what each
/// was given. `None`: the lab has no such parameter left to set.
pub async fn resolve(
    lab: &Lab,
    sets: &BTreeMap<String, String>,
) -> Option<(BTreeMap<String, String>, Vec<Given>)> {
    let wanted: Vec<(&String, &String)> = lab
        .params
        .iter()
        .filter(|(name, p)| {
            p.default_from == Some(DefaultFrom::CallerIp) && !sets.contains_key(*name)
        })
        .map(|(name, p)| (name, &p.default))
        .collect();
    if wanted.is_empty() {
        return None;
    }
    let url = url();
    let found = lookup(&url, TIMEOUT).await;
    let mut sets = sets.clone();
    let mut given = Vec::new();
    for (name, default) in wanted {
        match &found {
            Ok(ip) => {
                let value = format!("{ip}/32");
                sets.insert(name.clone(), value.clone());
                given.push(Given::Found {
                    name: name.clone(),
                    value,
                    url: url.clone(),
                });
            }
            Err(e) => given.push(Given::Default {
                name: name.clone(),
                value: default.clone(),
                why: e.clone(),
            }),
        }
    }
    Some((sets, given))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{LookupError, lookup};

    /// A server that answers every request with `status` and `body`.
    async fn serve(status: &'static str, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        url
    }

    #[tokio::test]
    async fn the_address_is_what_the_service_answers() {
        let url = serve("200 OK", "203.0.113.7\n").await;
        let ip = lookup(&url, Duration::from_secs(5)).await.expect("found");
        assert_eq!(ip.to_string(), "203.0.113.7");
    }

    #[tokio::test]
    async fn anything_else_is_not_an_address() {
        let url = serve("200 OK", "<html>captive portal</html>").await;
        let e = lookup(&url, Duration::from_secs(5))
            .await
            .expect_err("html");
        assert!(matches!(e, LookupError::NotAnAddress { .. }), "{e}");
        let url = serve("200 OK", "2001:db8::7\n").await;
        let e = lookup(&url, Duration::from_secs(5)).await.expect_err("v6");
        assert!(matches!(e, LookupError::NotAnAddress { .. }), "{e}");
        let url = serve("503 Service Unavailable", "").await;
        let e = lookup(&url, Duration::from_secs(5)).await.expect_err("503");
        assert!(matches!(e, LookupError::Status { status: 503, .. }), "{e}");
    }

    #[tokio::test]
    async fn nothing_listening_and_no_answer_fail_in_time() {
        // Connection refused.
        let e = lookup("http://127.0.0.1:9/", Duration::from_secs(5))
            .await
            .expect_err("refused");
        assert!(matches!(e, LookupError::Request { .. }), "{e}");
        // Accepted, never answered.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let started = std::time::Instant::now();
        let e = lookup(&url, Duration::from_millis(300))
            .await
            .expect_err("silent");
        assert!(matches!(e, LookupError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
        let e = lookup("not a url", Duration::from_secs(1))
            .await
            .expect_err("bad url");
        assert!(matches!(e, LookupError::BadUrl { .. }), "{e}");
    }
}
