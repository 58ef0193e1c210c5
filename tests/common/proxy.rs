//! A fault-injecting HTTP proxy in front of the emulator: what real AWS does and the emulators do
//! not. Per API action it adds latency, answers a share of calls with throttling or 5xx errors,
//! plays scripted sequences (`DeleteSubnet` -> `DependencyViolation` x3, then pass), and can stop
//! answering at the n-th mutating call (after forwarding it, so the resource exists but the client
//! never learns its id) to let a test SIGKILL the client at that point.
//!
//! One request per connection (`Connection: close`), so requests and faults map one to one.
//! Errors are rendered in each protocol's own shape (EC2 query, other query, JSON), so the SDK
//! parses them as it parses AWS's.
//!
//! `Faults::realistic(scale, seed)` adds the realistic AWS profile (`aws_model.rs`): eventual
//! consistency, state timelines, dependencies, EC2's token buckets, with durations scaled.
//! `Faults::store` answers ECR's layer calls and the registry API (`ecr_store.rs`);
//! `Faults::shim` adds the network ACL associations MiniStack lacks (`ministack_shim.rs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::aws_model::{AwsModel, Model, ModelReport, Req, Verdict};

/// An error the proxy answers instead of the emulator.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Fault {
    pub fn new(status: u16, code: &str, message: &str) -> Fault {
        Fault {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    /// What EC2 says while something still uses the resource.
    pub fn dependency() -> Fault {
        Fault::new(
            400,
            "DependencyViolation",
            "The resource has a dependent object (injected)",
        )
    }

    /// What EC2 says when an EIP is released right after its NAT gateway's delete.
    pub fn auth_failure() -> Fault {
        Fault::new(
            401,
            "AuthFailure",
            "You do not have permission to access the specified resource (injected)",
        )
    }
}

/// What to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every call.
    pub latency: Duration,
    /// Share (0..1) of calls answered with the service's throttling error.
    pub throttle: f64,
    /// Share (0..1) of calls answered with a 5xx.
    pub server_error: f64,
    /// (action, times, fault): the first `times` calls of `action` get `fault`.
    pub scripts: Vec<(String, u32, Fault)>,
    /// Stop answering at this mutating call (1-based), after forwarding it.
    pub hang_at_mutation: Option<u32>,
    /// Seed of the shares above, so a failing run can be replayed.
    pub seed: u64,
    /// The realistic AWS profile (after the faults above, which keep their meaning).
    pub aws: Option<AwsModel>,
    /// Answers ECR's layer calls and the registry API itself (`ecr_store.rs`).
    pub store: Option<Arc<super::ecr_store::EcrStore>>,
    /// Actions whose request bodies are kept ([`Counts::bodies`]).
    pub record: Vec<String>,
    /// Network ACL associations as AWS keeps them, in front of MiniStack (`ministack_shim.rs`).
    pub shim: Option<Arc<super::ministack_shim::MinistackShim>>,
    /// `CreateImage` as AWS does it, in front of moto (`image_shim.rs`).
    pub images: Option<Arc<super::image_shim::ImageShim>>,
    /// ECS services as AWS runs them, in front of moto (`ecs_shim.rs`).
    pub ecs: Option<Arc<super::ecs_shim::EcsShim>>,
}

impl Faults {
    /// Only the realistic AWS profile, its durations times `scale` (1.0 = real AWS).
    pub fn realistic(scale: f64, seed: u64) -> Faults {
        Faults {
            aws: Some(AwsModel::new(scale, seed)),
            seed,
            ..Faults::default()
        }
    }
}

/// Counts of what went through.
#[derive(Debug, Default)]
pub struct Counts {
    pub calls: AtomicU64,
    /// Mutating calls forwarded to the emulator.
    pub mutations: AtomicU64,
    pub injected: AtomicU64,
    pub by_action: Mutex<BTreeMap<String, (u64, u64)>>,
    /// The bodies of the requests of the actions in [`Faults::record`], in order, and whether
    /// the proxy failed each.
    pub recorded: Mutex<Vec<(String, String, bool)>>,
}

impl Counts {
    /// The recorded request bodies of `action`.
    pub fn bodies(&self, action: &str) -> Vec<String> {
        self.recorded
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|(a, _, _)| a == action)
                    .map(|(_, b, _)| b.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The recorded request bodies of `action` that the proxy answered with a fault.
    pub fn failed_bodies(&self, action: &str) -> Vec<String> {
        self.recorded
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|(a, _, failed)| a == action && *failed)
                    .map(|(_, b, _)| b.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// (calls, injected faults) of one action.
    pub fn action(&self, action: &str) -> (u64, u64) {
        self.by_action
            .lock()
            .map(|m| m.get(action).copied().unwrap_or_default())
            .unwrap_or_default()
    }
}

struct State {
    faults: Faults,
    upstream: String,
    rng: Mutex<fastrand::Rng>,
    scripted: Mutex<BTreeMap<String, u32>>,
    mutations: AtomicU32,
    counts: Arc<Counts>,
    hung: Arc<Notify>,
    model: Option<Arc<Model>>,
}

pub struct FaultProxy {
    pub url: String,
    pub counts: Arc<Counts>,
    hung: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
    model: Option<Arc<Model>>,
    upstream: String,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free local port in front of `upstream` (`http://127.0.0.1:4566`).
    pub async fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let counts = Arc::new(Counts::default());
        let hung = Arc::new(Notify::new());
        let model = faults.aws.clone().map(|m| Arc::new(Model::new(m)));
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let state = Arc::new(State {
            rng: Mutex::new(fastrand::Rng::with_seed(faults.seed)),
            faults,
            upstream: upstream.clone(),
            scripted: Mutex::new(BTreeMap::new()),
            mutations: AtomicU32::new(0),
            counts: counts.clone(),
            hung: hung.clone(),
            model: model.clone(),
        });
        // Deferred deletes reach the emulator when due even if no request comes.
        let ticker = model.clone().map(|m| {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    m.flush(&upstream, false).await;
                }
            })
        });
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, &state).await;
                });
            }
        });
        FaultProxy {
            url: format!("http://{addr}"),
            counts,
            hung,
            task,
            model,
            upstream,
            ticker,
        }
    }

    /// Resolves when the proxy has stopped answering (`hang_at_mutation`).
    pub async fn hung(&self) {
        self.hung.notified().await;
    }

    /// What the realistic profile recorded so far (`None` without it).
    pub fn model_report(&self) -> Option<ModelReport> {
        self.model.as_ref().map(|m| m.report())
    }

    /// The realistic profile's scale (`None` without it).
    pub fn scale(&self) -> Option<f64> {
        self.model.as_ref().map(|m| m.scale())
    }

    /// Forwards every delete the realistic profile is still holding back, at once.
    pub async fn settle(&self) {
        if let Some(m) = &self.model {
            m.flush(&self.upstream, true).await;
        }
    }

    /// Deletes the realistic profile is still holding back.
    pub fn pending_deletes(&self) -> usize {
        self.model.as_ref().map_or(0, |m| m.pending_deferred())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(t) = &self.ticker {
            t.abort();
        }
    }
}

/// A request as the proxy sees it.
pub(super) struct Call {
    pub(super) head: Vec<u8>,
    pub(super) body: Vec<u8>,
    pub(super) service: String,
    /// The operation (`DescribeVpcs`), or `METHOD /path` for REST protocols (EFS).
    pub(super) action: String,
    /// JSON protocols (awsJson by `X-Amz-Target`, restJson): errors as JSON.
    pub(super) json: bool,
    /// A read (`Describe*`, `Get*`, `List*`, or a REST `GET`).
    pub(super) read: bool,
    pub(super) method: String,
    /// The request target: path and query.
    pub(super) target: String,
}

async fn read_request(sock: &mut TcpStream) -> std::io::Result<Option<Call>> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(&buf[..head_end])
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let target = header("x-amz-target");
    // Credential=AKID/20261123/us-east-1/ec2/aws4_request
    let service = header("authorization")
        .and_then(|a| {
            let scope = a.split("Credential=").nth(1)?.split(',').next()?.to_owned();
            scope.split('/').nth(3).map(str::to_owned)
        })
        .unwrap_or_default();
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let form = String::from_utf8_lossy(&body)
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action=").map(str::to_owned));
    let (action, json, read) = match (target, form) {
        (Some(t), _) => {
            let a = t.rsplit('.').next().unwrap_or_default().to_owned();
            let read = is_read(&a);
            (a, true, read)
        }
        (None, Some(a)) => {
            let read = is_read(&a);
            (a, false, read)
        }
        // REST JSON (EFS): the method and the path without ids.
        (None, None) => {
            let method = req.method.unwrap_or("GET").to_owned();
            let path: Vec<&str> = req
                .path
                .unwrap_or("/")
                .split('?')
                .next()
                .unwrap_or("/")
                .split('/')
                .filter(|p| !p.is_empty())
                .take(2)
                .collect();
            // REST XML (S3) answers errors in XML; REST JSON (EFS) in JSON.
            (
                format!("{method} /{}", path.join("/")),
                service != "s3",
                method == "GET" || method == "HEAD",
            )
        }
    };
    // Keep the head but ask the emulator to close after answering, so its response ends at EOF.
    let mut head = Vec::new();
    let text = String::from_utf8_lossy(&buf[..head_end]);
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok(Some(Call {
        head,
        body,
        service,
        action,
        json,
        read,
        method: req.method.unwrap_or("GET").to_owned(),
        target: req.path.unwrap_or("/").to_owned(),
    }))
}

fn is_read(action: &str) -> bool {
    ["Describe", "Get", "List"]
        .iter()
        .any(|p| action.starts_with(p))
}

impl State {
    /// The fault for this call, if any.
    fn decide(&self, call: &Call) -> Option<Fault> {
        if let Ok(mut used) = self.scripted.lock() {
            for (action, times, fault) in &self.faults.scripts {
                if *action == call.action {
                    let n = used.entry(action.clone()).or_insert(0);
                    if *n < *times {
                        *n += 1;
                        return Some(fault.clone());
                    }
                }
            }
        }
        let roll = self.rng.lock().map(|mut r| r.f64()).unwrap_or(1.0);
        if roll < self.faults.throttle {
            return Some(match (call.service.as_str(), call.json) {
                ("ec2", _) => Fault::new(
                    503,
                    "RequestLimitExceeded",
                    "Request limit exceeded. (injected)",
                ),
                ("s3", _) => Fault::new(
                    503,
                    "SlowDown",
                    "Please reduce your request rate. (injected)",
                ),
                (_, true) => Fault::new(400, "ThrottlingException", "Rate exceeded (injected)"),
                _ => Fault::new(400, "Throttling", "Rate exceeded (injected)"),
            });
        }
        if roll < self.faults.throttle + self.faults.server_error {
            return Some(Fault::new(
                503,
                "ServiceUnavailable",
                "Service unavailable (injected)",
            ));
        }
        None
    }
}

pub(super) fn error_response(call: &Call, fault: &Fault) -> Vec<u8> {
    let (content_type, mut body, extra) = if call.json {
        (
            "application/json",
            format!(
                "{{\"__type\":\"{}\",\"message\":\"{}\"}}",
                fault.code, fault.message
            ),
            format!("x-amzn-ErrorType: {}\r\n", fault.code),
        )
    } else if call.service == "s3" {
        (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>fault-proxy</RequestId></Error>",
                fault.code, fault.message
            ),
            String::new(),
        )
    } else if call.service == "ec2" {
        (
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>",
                fault.code, fault.message
            ),
            String::new(),
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>",
                fault.code, fault.message
            ),
            String::new(),
        )
    };
    // An answer to HEAD has no body (S3 `HeadBucket`: the status is the error).
    if call.method == "HEAD" {
        body.clear();
    }
    format!(
        "HTTP/1.1 {} Injected\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        fault.status,
        body.len()
    )
    .into_bytes()
}

async fn forward(state: &State, call: &Call) -> std::io::Result<Vec<u8>> {
    if let Some(shim) = &state.faults.shim
        && let Some(answer) = shim.answer(&state.upstream, call).await?
    {
        return Ok(answer);
    }
    if let Some(images) = &state.faults.images
        && let Some(answer) = images.answer(&state.upstream, call).await?
    {
        return Ok(answer);
    }
    if let Some(ecs) = &state.faults.ecs
        && let Some(answer) = ecs.answer(&state.upstream, call).await?
    {
        return Ok(answer);
    }
    forward_raw(&state.upstream, &call.head, &call.body).await
}

/// Sends one request (a head that asks to close, and its body) to `upstream` and returns the
/// whole response.
pub(super) async fn forward_raw(
    upstream: &str,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(head).await?;
    up.write_all(body).await?;
    let mut response = Vec::new();
    up.read_to_end(&mut response).await?;
    Ok(closing(response))
}

/// The response with `Connection: close`, so the client does not reuse a connection the proxy
/// closes.
fn closing(response: Vec<u8>) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response;
    };
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let mut out = Vec::with_capacity(response.len() + 20);
    for line in head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
    {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&response[end + 4..]);
    out
}

async fn serve(mut sock: TcpStream, state: &State) -> std::io::Result<()> {
    let Some(call) = read_request(&mut sock).await? else {
        return Ok(());
    };
    state.counts.calls.fetch_add(1, Ordering::SeqCst);
    if !state.faults.latency.is_zero() {
        tokio::time::sleep(state.faults.latency).await;
    }
    // The realistic profile: what it decides once the faults above let the call through.
    let mut modeled: Option<(Req, std::time::Duration, bool)> = None;
    let mut answer: Option<Vec<u8>> = None;
    let mut fault = state.decide(&call);
    if let (None, Some(m)) = (&fault, &state.model) {
        // When the call reached "AWS": before the model's own questions to the emulator,
        // whose time varies with the emulator's load (a token bucket judged after them sees
        // calls that arrived a second apart arrive together).
        let arrived = m.now();
        m.flush_due(&state.upstream, false, arrived).await;
        let req = Req::parse(&call);
        m.prepare(&state.upstream, &call, &req).await;
        match m.before(&call, &req, arrived) {
            Verdict::Forward => modeled = Some((req, arrived, false)),
            Verdict::ForwardEmptied => modeled = Some((req, arrived, true)),
            Verdict::Fail(f) => fault = Some(f),
            Verdict::Answer(a) => answer = Some(a),
        }
    }
    if let Ok(mut m) = state.counts.by_action.lock() {
        let e = m.entry(call.action.clone()).or_default();
        e.0 += 1;
        e.1 += u64::from(fault.is_some());
    }
    if state.faults.record.contains(&call.action)
        && let Ok(mut r) = state.counts.recorded.lock()
    {
        r.push((
            call.action.clone(),
            String::from_utf8_lossy(&call.body).into_owned(),
            fault.is_some(),
        ));
    }
    let response = match (&fault, answer) {
        (Some(f), _) => {
            state.counts.injected.fetch_add(1, Ordering::SeqCst);
            error_response(&call, f)
        }
        (None, Some(answer)) => answer,
        (None, None) => {
            let stored = state.faults.store.as_ref();
            let mut response =
                match stored.and_then(|s| s.answer(&call.head, &call.action, &call.body)) {
                    Some(answer) => answer,
                    None => forward(state, &call).await?,
                };
            if let (Some(m), Some((req, arrived, emptied))) = (&state.model, &modeled) {
                response = m.after(req, *arrived, *emptied, response);
            }
            if !call.read {
                state.counts.mutations.fetch_add(1, Ordering::SeqCst);
                let n = state.mutations.fetch_add(1, Ordering::SeqCst) + 1;
                if state.faults.hang_at_mutation == Some(n) {
                    // The emulator did it; the client never hears back.
                    state.hung.notify_one();
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    return Ok(());
                }
            }
            response
        }
    };
    sock.write_all(&response).await?;
    sock.shutdown().await
}

/// Starts a proxy with `faults` (a shim) in front of `upstream` on a thread of its own, serving
/// until the test process exits; its URL. `name` names the thread.
pub(super) fn start_serving(name: &str, upstream: &str, faults: Faults) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let upstream = upstream.to_owned();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("shim runtime");
            rt.block_on(async move {
                let proxy = FaultProxy::start(&upstream, faults).await;
                let _ = tx.send(proxy.url.clone());
                // The proxy serves as long as it lives: until the test process exits.
                std::future::pending::<()>().await;
                drop(proxy);
            });
        })
        .expect("start the shim thread");
    rx.recv().expect("the shim's URL")
}
