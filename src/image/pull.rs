//! A base image pulled from a registry through the OCI distribution API, without Docker: the
//! manifest by tag or digest (an index narrowed to linux/amd64, the platform Fargate and EC2
//! run by default), then the config and the layers. Anonymous pulls only: a registry that
//! answers 401 with a Bearer challenge gives a token for `repository:<name>:pull`. Redirects
//! are followed (blob stores) and the token is not sent to another host. Every blob is checked
//! against its digest and size as it streams to disk, and each layer against the config's diff
//! id; a blob takes its name (its digest) in the cache only once verified, with its diff id
//! beside it, so a second pull downloads no layer again.
//!
//! `AWSLAB_REGISTRY_MIRROR` (a URL) sends every pull to that registry instead, with the same
//! repository names: a pull-through mirror, or a local registry for a classroom offline.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, tls};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use miette::Diagnostic;
use serde_json::{Value, json};

use super::blob::{self, Backing, Blob};
use super::digest::{Digest, HashWriter};
use super::limits::{MAX_BLOB, MAX_JSON};
use super::reference::{Reference, is_loopback};
use super::{OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST};
use crate::caller_ip::error_chain;

/// The environment variable naming a registry every base is pulled from instead.
pub const MIRROR_VAR: &str = "AWSLAB_REGISTRY_MIRROR";

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The platform pulled from an index: what ECS tasks and the labs' instances run.
const OS: &str = "linux";
const ARCH: &str = "amd64";

/// How long one request may wait for its answer, and for each part of a body.
const WAIT: Duration = Duration::from_secs(30);
/// Redirects followed for one request.
const MAX_HOPS: usize = 5;
/// Layers a base may have (Docker's own limit is 127).
const MAX_LAYERS: usize = 127;

/// A pulled base: its manifest's digest, its config and its layers (OCI media types), on disk.
#[derive(Debug, Clone)]
pub struct Base {
    pub reference: Reference,
    /// The digest the reference resolved to (of the index, if the registry has one): what
    /// `docker pull` prints, and what pins the base.
    pub digest: Digest,
    pub config: Value,
    pub layers: Vec<Blob>,
    /// Bytes downloaded, and layers found in the cache.
    pub downloaded: u64,
    pub cached: usize,
}

/// Why a base could not be pulled.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum PullError {
    #[error("pulling {reference}: {url}: {message}")]
    #[diagnostic(
        code(awslab::pull::unreachable),
        help(
            "awslab pulls the base image over the network; without it, point {MIRROR_VAR} at a registry that holds it"
        )
    )]
    Unreachable {
        reference: String,
        url: String,
        message: String,
    },

    #[error("pulling {reference}: {url}: cut off while sending: {message}")]
    #[diagnostic(
        code(awslab::pull::interrupted),
        help(
            "the connection to the registry broke off; run the command again (what arrived whole is kept)"
        )
    )]
    Interrupted {
        reference: String,
        url: String,
        message: String,
    },

    #[error("pulling {reference}: {url} answered HTTP {status}{}", detail(.code, .message))]
    #[diagnostic(code(awslab::pull::refused))]
    Refused {
        reference: String,
        url: String,
        status: u16,
        code: String,
        message: String,
        #[help]
        hint: &'static str,
        /// How long the registry asked to wait (429, 503).
        retry_after: Option<Duration>,
    },

    #[error("pulling {reference}: the registry asks for a login ({challenge})")]
    #[diagnostic(
        code(awslab::pull::login),
        help(
            "awslab pulls public bases anonymously: choose a public image, or push the base to your ECR first"
        )
    )]
    Login {
        reference: String,
        challenge: String,
    },

    #[error("pulling {reference}: no {OS}/{ARCH} image; it has {}", .platforms.join(", "))]
    #[diagnostic(
        code(awslab::pull::platform),
        help("Fargate and the labs' instances run linux/amd64: choose a base built for it")
    )]
    NoPlatform {
        reference: String,
        platforms: Vec<String>,
    },

    #[error("pulling {reference}: {what}")]
    #[diagnostic(code(awslab::pull::unsupported))]
    Unsupported { reference: String, what: String },

    #[error(
        "pulling {reference}: {what} does not match its digest (expected {expected}, found {found})"
    )]
    #[diagnostic(
        code(awslab::pull::digest_mismatch),
        help("the registry sent other bytes than it named: nothing was pushed")
    )]
    DigestMismatch {
        reference: String,
        what: String,
        expected: String,
        found: String,
    },

    #[error("pulling {reference}: {what} is not what a registry sends: {why}")]
    #[diagnostic(code(awslab::pull::corrupt))]
    Corrupt {
        reference: String,
        what: String,
        why: String,
    },

    #[error("pulling {reference}: {}: {source}", .path.display())]
    #[diagnostic(code(awslab::pull::io))]
    Io {
        reference: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn detail(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({code})"),
        (true, false) => format!(": {message}"),
        (false, false) => format!(" ({code}): {message}"),
    }
}

fn status_help(status: u16) -> &'static str {
    match status {
        404 => "check the repository and the tag: the registry has no such image",
        429 => {
            "the registry limits anonymous pulls (Docker Hub: 100 per 6 hours per address): wait, or use the same image from public.ecr.aws/docker/library/"
        }
        _ => "the registry refused the pull",
    }
}

impl PullError {
    /// A short code, as AWS errors have one.
    pub fn short_code(&self) -> &'static str {
        match self {
            PullError::Unreachable { .. } => "RegistryUnreachable",
            PullError::Interrupted { .. } => "RegistryInterrupted",
            PullError::Refused { .. } => "RegistryRefused",
            PullError::Login { .. } => "RegistryLogin",
            PullError::NoPlatform { .. } => "NoPlatform",
            PullError::Unsupported { .. } => "UnsupportedImage",
            PullError::DigestMismatch { .. } => "DigestMismatch",
            PullError::Corrupt { .. } => "CorruptImage",
            PullError::Io { .. } => "Io",
        }
    }
}

impl PullError {
    /// Worth asking again later: no connection, one broken off, a registry that limits the
    /// rate or fails.
    pub fn transient(&self) -> bool {
        match self {
            PullError::Unreachable { .. } | PullError::Interrupted { .. } => true,
            PullError::Refused { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Attempts of one request (and of one layer's download) before a transient failure is final.
const ATTEMPTS: u32 = 4;

/// The wait before attempt `n + 1`: 0.5 s, 1 s, 2 s.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(500 << (n - 1).min(4))
}

/// Why one request failed, and whether to ask again: after the registry's own wait, after
/// [`backoff`], or not at all.
struct Retry {
    error: PullError,
    wait: Option<Duration>,
    again: bool,
}

impl From<PullError> for Retry {
    /// A request is asked again when nothing was had (no connection) or the registry limits or
    /// fails; a body cut off midway is the caller's to ask again.
    fn from(error: PullError) -> Retry {
        let (again, wait) = match &error {
            PullError::Unreachable { .. } => (true, None),
            PullError::Refused {
                status,
                retry_after,
                ..
            } if *status == 429 || *status >= 500 => (true, *retry_after),
            _ => (false, None),
        };
        Retry { error, wait, again }
    }
}

/// A URL as errors show it: without its query (blob stores sign their URLs there).
fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Where a redirect from `from` to `location` goes: an absolute URL, one of the same scheme
/// (`//host/path`) or a path on the same host; `None` for anything else.
fn resolve(from: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        Some(location.to_owned())
    } else if let Some(rest) = location.strip_prefix("//") {
        let scheme = from.split("://").next()?;
        Some(format!("{scheme}://{rest}"))
    } else if location.starts_with('/') {
        Some(format!("{}{location}", origin(from)))
    } else {
        None
    }
}

/// Reports bytes downloaded so far of the total to download.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// The registry a reference is pulled from: the mirror if one is set.
pub fn api_base(reference: &Reference) -> String {
    std::env::var(MIRROR_VAR)
        .ok()
        .map(|m| m.trim().trim_end_matches('/').to_owned())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| reference.api_base())
}

/// Where verified blobs are kept: `$AWSLAB_HOME/cache/blobs/sha256`, else the platform's cache
/// directory.
pub fn cache_dir() -> PathBuf {
    let root = match std::env::var_os("AWSLAB_HOME") {
        Some(h) => PathBuf::from(h).join("cache"),
        None => dirs::cache_dir()
            .map(|d| d.join("awslab"))
            .unwrap_or_else(|| std::env::temp_dir().join("awslab-cache")),
    };
    root.join("blobs/sha256")
}

/// Pulls `reference` for linux/amd64.
pub async fn pull(reference: &Reference, progress: Progress<'_>) -> Result<Base, PullError> {
    let mut client = Client::new(reference);
    let (top, doc) = client.image_manifest(reference).await?;
    let config_digest = client.digest_of(&doc["config"], "the manifest's config")?;
    let config_bytes = client.small_blob(&config_digest, "the config").await?;
    let config = client.json("the config", &config_bytes)?;
    let layers = client.wanted_layers(&doc, &config)?;
    let total: u64 = layers.iter().map(|l| l.size).sum();
    let mut base = Base {
        reference: reference.clone(),
        digest: top,
        config,
        layers: Vec::new(),
        downloaded: 0,
        cached: 0,
    };
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).map_err(|source| client.io(&cache, source))?;
    let mut done = 0;
    for l in &layers {
        let path = cache.join(l.digest.hex());
        if !client.cached(&path, l)? {
            let before = done;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match client
                    .download(l, &cache, &path, &|n| progress(before + n, total))
                    .await
                {
                    // The request itself was asked again already; a body cut off midway is
                    // fetched whole again.
                    Err(PullError::Interrupted { .. }) if attempt < ATTEMPTS => {
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                    other => break other?,
                }
            }
            base.downloaded += l.size;
        } else {
            base.cached += 1;
        }
        done += l.size;
        progress(done, total);
        let media = if l.gzip {
            OCI_LAYER_GZIP
        } else {
            OCI_LAYER_TAR
        };
        base.layers.push(Blob::in_file(
            media,
            l.digest.clone(),
            Backing::file(&path),
            0,
            l.size,
        ));
    }
    Ok(base)
}

/// A layer to fetch.
struct Wanted {
    what: String,
    digest: Digest,
    size: u64,
    gzip: bool,
    diff_id: String,
}

fn is_index(media_type: &str, doc: &Value) -> bool {
    let declared = doc["mediaType"].as_str().unwrap_or(media_type);
    declared == OCI_INDEX || declared == DOCKER_LIST || doc.get("manifests").is_some()
}

/// The index's linux/amd64 entry, or the platforms it has.
fn choose_platform(index: &Value) -> Result<Value, Vec<String>> {
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let platform = |e: &Value| {
        let p = &e["platform"];
        let mut s = format!(
            "{}/{}",
            p["os"].as_str().unwrap_or("?"),
            p["architecture"].as_str().unwrap_or("?")
        );
        if let Some(v) = p["variant"].as_str() {
            s.push('/');
            s.push_str(v);
        }
        s
    };
    let ours = |e: &&Value| e["platform"]["os"] == OS && e["platform"]["architecture"] == ARCH;
    let plain = |e: &&Value| e["platform"]["variant"].as_str().is_none_or(|v| v == "v1");
    entries
        .iter()
        .filter(ours)
        .find(plain)
        .or_else(|| entries.iter().find(ours))
        .cloned()
        .ok_or_else(|| {
            let mut all: Vec<String> = entries
                .iter()
                .map(platform)
                .filter(|p| p != "unknown/unknown")
                .collect();
            all.dedup();
            if all.is_empty() {
                all.push("no platform".to_owned());
            }
            all
        })
}

/// The value of `key` in a `WWW-Authenticate` challenge's parameters.
fn challenge_param(challenge: &str, key: &str) -> Option<String> {
    let params = challenge.split_once(' ')?.1;
    let mut rest = params;
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=')?;
        let k = k.trim().trim_start_matches(',').trim();
        let (v, next) = match after.strip_prefix('"') {
            Some(q) => {
                let end = q.find('"')?;
                (&q[..end], &q[end + 1..])
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        if k.eq_ignore_ascii_case(key) {
            return Some(v.to_owned());
        }
        rest = next.trim_start_matches(',').trim_start();
    }
    None
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    &url[..end]
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct Client {
    reference: String,
    repository: String,
    base: String,
    connector: Connector,
    token: Option<String>,
}

impl Client {
    fn new(reference: &Reference) -> Client {
        let mut builder = Connector::builder().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        Client {
            reference: reference.to_string(),
            repository: reference.repository.clone(),
            base: api_base(reference),
            connector: builder.build(),
            token: None,
        }
    }

    /// The image manifest `reference` names (through its index's linux/amd64 entry, checked
    /// against its digest), and the digest the reference resolved to.
    async fn image_manifest(
        &mut self,
        reference: &Reference,
    ) -> Result<(Digest, Value), PullError> {
        let (mut media_type, mut bytes) = self.manifest(&reference.manifest_ref()).await?;
        let top = Digest::of(&bytes);
        if let Some(want) = &reference.digest
            && top != *want
        {
            return Err(self.mismatch("the manifest", want, &top));
        }
        let mut doc = self.json("the manifest", &bytes)?;
        if is_index(&media_type, &doc) {
            let chosen = choose_platform(&doc).map_err(|platforms| PullError::NoPlatform {
                reference: self.reference.clone(),
                platforms,
            })?;
            let want = self.digest_of(&chosen, "the index's linux/amd64 entry")?;
            (media_type, bytes) = self.manifest(want.as_str()).await?;
            let found = Digest::of(&bytes);
            if found != want {
                return Err(self.mismatch("the linux/amd64 manifest", &want, &found));
            }
            doc = self.json("the linux/amd64 manifest", &bytes)?;
        }
        let manifest_type = doc["mediaType"].as_str().unwrap_or(&media_type).to_owned();
        if manifest_type != OCI_MANIFEST && manifest_type != super::DOCKER_MANIFEST {
            return Err(PullError::Unsupported {
                reference: self.reference.clone(),
                what: format!(
                    "its manifest is {manifest_type}, not an OCI or Docker v2 image manifest"
                ),
            });
        }
        Ok((top, doc))
    }

    /// The layers a manifest names, each with the diff id its config gives: a linux/amd64
    /// config of layers, one diff id per layer, gzip or plain tar, within the limits.
    fn wanted_layers(&self, doc: &Value, config: &Value) -> Result<Vec<Wanted>, PullError> {
        let (os, arch) = (
            config["os"].as_str().unwrap_or_default(),
            config["architecture"].as_str().unwrap_or_default(),
        );
        if (os, arch) != (OS, ARCH) {
            return Err(PullError::NoPlatform {
                reference: self.reference.clone(),
                platforms: vec![format!("{os}/{arch}")],
            });
        }
        if config["rootfs"]["type"] != "layers"
            || config
                .get("config")
                .is_some_and(|c| !c.is_object() && !c.is_null())
        {
            return Err(self.corrupt(
                "the config",
                "no `rootfs` of type `layers`, or a `config` that is not an object".to_owned(),
            ));
        }
        let mut diff_ids = Vec::new();
        for d in config["rootfs"]["diff_ids"]
            .as_array()
            .into_iter()
            .flatten()
        {
            diff_ids.push(self.digest_of(&json!({ "digest": d }), "a diff id of the config")?);
        }
        let descriptors = doc["layers"].as_array().cloned().unwrap_or_default();
        // One layer more goes on top: the base may have one fewer than the limit.
        if descriptors.is_empty()
            || descriptors.len() >= MAX_LAYERS
            || descriptors.len() != diff_ids.len()
        {
            return Err(self.corrupt(
                "the manifest",
                format!(
                    "{} layer(s), and the config names {} (1 to {} for a base)",
                    descriptors.len(),
                    diff_ids.len(),
                    MAX_LAYERS - 1
                ),
            ));
        }
        let mut layers = Vec::new();
        for (i, (d, diff_id)) in descriptors.iter().zip(&diff_ids).enumerate() {
            let what = format!("layer {} of {}", i + 1, descriptors.len());
            let digest = self.digest_of(d, &what)?;
            let size = d["size"].as_u64().unwrap_or(0);
            if size > MAX_BLOB {
                return Err(self.corrupt(&what, format!("{size} bytes, over {MAX_BLOB}")));
            }
            let gzip = match d["mediaType"].as_str().unwrap_or_default() {
                OCI_LAYER_GZIP | DOCKER_LAYER_GZIP => true,
                OCI_LAYER_TAR | DOCKER_LAYER_TAR => false,
                other => {
                    return Err(PullError::Unsupported {
                        reference: self.reference.clone(),
                        what: format!(
                            "{what} is {other}: awslab reads gzip or plain tar layers (choose a tag published with gzip layers)"
                        ),
                    });
                }
            };
            layers.push(Wanted {
                what,
                digest,
                size,
                gzip,
                diff_id: diff_id.to_string(),
            });
        }
        Ok(layers)
    }

    fn corrupt(&self, what: &str, why: String) -> PullError {
        PullError::Corrupt {
            reference: self.reference.clone(),
            what: what.to_owned(),
            why,
        }
    }

    fn mismatch(&self, what: &str, expected: &Digest, found: &Digest) -> PullError {
        PullError::DigestMismatch {
            reference: self.reference.clone(),
            what: what.to_owned(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    fn io(&self, path: &Path, source: std::io::Error) -> PullError {
        PullError::Io {
            reference: self.reference.clone(),
            path: path.to_path_buf(),
            source,
        }
    }

    fn json(&self, what: &str, bytes: &[u8]) -> Result<Value, PullError> {
        serde_json::from_slice(bytes).map_err(|e| self.corrupt(what, format!("not JSON: {e}")))
    }

    fn digest_of(&self, descriptor: &Value, what: &str) -> Result<Digest, PullError> {
        let text = descriptor["digest"].as_str().unwrap_or_default();
        Digest::parse(text).ok_or_else(|| {
            self.corrupt(
                what,
                format!("the digest {text:?} is not sha256: and 64 hex digits"),
            )
        })
    }

    async fn manifest(&mut self, reference: &str) -> Result<(String, Vec<u8>), PullError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let response = self.get(&url, Some(ACCEPT)).await?;
        let media_type = response
            .headers()
            .get("content-type")
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let bytes = self
            .read_all(&url, response.into_body(), MAX_JSON, "the manifest")
            .await?;
        Ok((media_type, bytes))
    }

    async fn small_blob(&mut self, digest: &Digest, what: &str) -> Result<Vec<u8>, PullError> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let response = self.get(&url, None).await?;
        let bytes = self
            .read_all(&url, response.into_body(), MAX_JSON, what)
            .await?;
        let found = Digest::of(&bytes);
        if found != *digest {
            return Err(self.mismatch(what, digest, &found));
        }
        Ok(bytes)
    }

    /// A cached layer at `path`: a file takes its name (the digest) there only once verified,
    /// beside `<digest>.diffid` holding the diff id it expands to, so its size and that diff id
    /// are checked against what this config names (a file cut short by a full disk is removed
    /// and fetched again); ECR checks each uploaded layer's digest again.
    fn cached(&self, path: &Path, l: &Wanted) -> Result<bool, PullError> {
        let diff_id = std::fs::read_to_string(diff_id_path(path)).unwrap_or_default();
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() && m.len() == l.size && diff_id.trim() == l.diff_id => Ok(true),
            Ok(_) => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io(path, e)),
                _ => Ok(false),
            },
            Err(_) => Ok(false),
        }
    }

    /// Checks a downloaded layer (its digest and size checked as it streamed) against the
    /// config's diff id: a plain tar's diff id is its digest; gzip is expanded and hashed off
    /// the async threads, within the gzip limits.
    async fn check_diff_id(&self, path: &Path, l: &Wanted) -> Result<(), PullError> {
        let plain = if l.gzip {
            let (p, size) = (path.to_path_buf(), l.size);
            tokio::task::spawn_blocking(move || {
                let file = std::io::BufReader::new(std::fs::File::open(&p)?);
                blob::hash_gzip(file, size)
                    .map(|(_, plain)| plain)
                    .map_err(|e| match e {
                        blob::StreamError::Io(e) | blob::StreamError::Gzip(e) => e,
                        blob::StreamError::Expands { limit } => std::io::Error::other(format!(
                            "expands past {limit} bytes: refused as a likely gzip bomb"
                        )),
                    })
            })
            .await
            .map_err(|e| self.io(path, std::io::Error::other(e)))?
            .map_err(|e| self.corrupt(&l.what, e.to_string()))?
        } else {
            l.digest.clone()
        };
        if plain.as_str() != l.diff_id {
            return Err(PullError::DigestMismatch {
                reference: self.reference.clone(),
                what: format!("{} (uncompressed, the config's diff id)", l.what),
                expected: l.diff_id.clone(),
                found: plain.to_string(),
            });
        }
        Ok(())
    }

    /// Streams a layer into the cache, checked before it takes its name there.
    async fn download(
        &mut self,
        l: &Wanted,
        dir: &Path,
        path: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), PullError> {
        let url = format!("{}/v2/{}/blobs/{}", self.base, self.repository, l.digest);
        let response = self.get(&url, None).await?;
        let temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.io(dir, e))?;
        let (file, temp_path) = temp.into_parts();
        let mut out = HashWriter::new(BufWriter::new(file));
        let mut body = ByteStream::new(response.into_body());
        let mut got = 0u64;
        while let Some(chunk) = self.next_chunk(&url, &mut body).await? {
            got += chunk.len() as u64;
            if got > l.size {
                return Err(self.corrupt(
                    &l.what,
                    format!("more than the {} bytes its descriptor gives", l.size),
                ));
            }
            out.write_all(&chunk).map_err(|e| self.io(&temp_path, e))?;
            progress(got);
        }
        let (writer, digest, size) = out.finish();
        writer
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .and_then(|f| f.sync_all())
            .map_err(|e| self.io(&temp_path, e))?;
        if size != l.size {
            return Err(self.corrupt(
                &l.what,
                format!("{size} bytes, its descriptor gives {}", l.size),
            ));
        }
        if digest != l.digest {
            return Err(self.mismatch(&l.what, &l.digest, &digest));
        }
        self.check_diff_id(&temp_path, l).await?;
        let sidecar = diff_id_path(path);
        let mut note = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.io(dir, e))?;
        note.write_all(l.diff_id.as_bytes())
            .map_err(|e| self.io(&sidecar, e))?;
        note.persist(&sidecar)
            .map_err(|e| self.io(&sidecar, e.error))?;
        match temp_path.persist(path) {
            Ok(()) => Ok(()),
            // Another awslab put the same layer there first (a file in use cannot be replaced
            // everywhere): it took that name verified, as this one would have.
            Err(_) if std::fs::metadata(path).is_ok_and(|m| m.len() == l.size) => Ok(()),
            Err(e) => Err(self.io(path, e.error)),
        }
    }

    async fn next_chunk(
        &self,
        url: &str,
        body: &mut ByteStream,
    ) -> Result<Option<Vec<u8>>, PullError> {
        match tokio::time::timeout(WAIT, body.next()).await {
            Err(_) => Err(self.interrupted(url, format!("no data for {} s", WAIT.as_secs()))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk.to_vec())),
            Ok(Some(Err(e))) => Err(self.interrupted(url, error_chain(&e))),
        }
    }

    async fn read_all(
        &self,
        url: &str,
        body: SdkBody,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, PullError> {
        let mut body = ByteStream::new(body);
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk(url, &mut body).await? {
            out.extend_from_slice(&chunk);
            if out.len() as u64 > limit {
                return Err(self.corrupt(what, format!("over {limit} bytes")));
            }
        }
        Ok(out)
    }

    fn interrupted(&self, url: &str, message: String) -> PullError {
        PullError::Interrupted {
            reference: self.reference.clone(),
            url: shown(url).to_owned(),
            message,
        }
    }

    /// A request awslab does not make (plain HTTP elsewhere, a user name, not a URL).
    fn not_asked(&self, url: &str, why: &str) -> PullError {
        PullError::Unsupported {
            reference: self.reference.clone(),
            what: format!("{}: {why}", shown(url)),
        }
    }

    fn unreachable(&self, url: &str, message: String) -> PullError {
        PullError::Unreachable {
            reference: self.reference.clone(),
            url: shown(url).to_owned(),
            message,
        }
    }

    /// One GET, with the token for the registry's own host, within [`WAIT`].
    async fn send(
        &self,
        url: &str,
        accept: Option<&str>,
        token: Option<&str>,
    ) -> Result<HttpResponse, PullError> {
        if host(url).contains('@') {
            return Err(self.not_asked(
                url,
                "a URL with a user name is not asked (awslab pulls anonymously)",
            ));
        }
        let plain_ok = url.starts_with("http://")
            && (is_loopback(host(url)) || origin(url) == origin(&self.base));
        if !url.starts_with("https://") && !plain_ok {
            return Err(self.not_asked(
                url,
                "awslab asks registries over HTTPS (plain HTTP only on this machine, or to the mirror given)",
            ));
        }
        let mut request =
            HttpRequest::get(url).map_err(|e| self.not_asked(url, &format!("not a URL: {e}")))?;
        if let Some(a) = accept {
            request.headers_mut().insert("accept", a.to_owned());
        }
        if let Some(t) = token {
            request
                .headers_mut()
                .try_insert("authorization", format!("Bearer {t}"))
                .map_err(|_| self.corrupt("the token", "not a header value".to_owned()))?;
        }
        match tokio::time::timeout(WAIT, self.connector.call(request)).await {
            Err(_) => Err(self.unreachable(url, format!("no answer in {} s", WAIT.as_secs()))),
            Ok(Err(e)) => Err(self.unreachable(url, error_chain(&e))),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// A GET that logs in when challenged, follows redirects, asks again after a dropped
    /// connection, 429 or a 5xx (after `Retry-After` when given), and fails on any other answer
    /// than 200 with the registry's own error code.
    async fn get(&mut self, url: &str, accept: Option<&str>) -> Result<HttpResponse, PullError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.get_once(url, accept).await {
                Ok(r) => return Ok(r),
                Err(r) if r.again && attempt < ATTEMPTS => {
                    tokio::time::sleep(r.wait.unwrap_or_else(|| backoff(attempt))).await;
                }
                Err(r) => return Err(r.error),
            }
        }
    }

    async fn get_once(&mut self, url: &str, accept: Option<&str>) -> Result<HttpResponse, Retry> {
        let mut url = url.to_owned();
        let mut logged_in = false;
        for _ in 0..=MAX_HOPS {
            let ours = origin(&url) == origin(&self.base);
            let token = self.token.clone().filter(|_| ours);
            let response = self.send(&url, accept, token.as_deref()).await?;
            let status = response.status().as_u16();
            match status {
                200 => return Ok(response),
                401 if ours && !logged_in => {
                    let challenge = response
                        .headers()
                        .get("www-authenticate")
                        .unwrap_or_default()
                        .to_owned();
                    self.token = Some(self.login(&challenge).await?);
                    logged_in = true;
                }
                301 | 302 | 303 | 307 | 308 => {
                    let location = response.headers().get("location").unwrap_or_default();
                    url = resolve(&url, location).ok_or_else(|| {
                        self.corrupt(
                            "a redirect",
                            format!("HTTP {status} to {:?}", shown(location)),
                        )
                    })?;
                }
                _ => return Err(self.refused(&url, response).await.into()),
            }
        }
        Err(self
            .corrupt("its redirects", format!("more than {MAX_HOPS} in a row"))
            .into())
    }

    /// A refusal with the registry's own error code and message.
    async fn refused(&self, url: &str, response: HttpResponse) -> PullError {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(30)));
        let body = self
            .read_all(url, response.into_body(), 64 * 1024, "an error")
            .await
            .unwrap_or_default();
        let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let first = &doc["errors"][0];
        PullError::Refused {
            reference: self.reference.clone(),
            url: shown(url).to_owned(),
            status,
            code: first["code"].as_str().unwrap_or_default().to_owned(),
            message: first["message"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
            hint: status_help(status),
            retry_after,
        }
    }

    /// An anonymous pull token from the challenge's realm.
    async fn login(&self, challenge: &str) -> Result<String, PullError> {
        let login = || PullError::Login {
            reference: self.reference.clone(),
            challenge: challenge.chars().take(200).collect(),
        };
        if !challenge
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer "))
        {
            return Err(login());
        }
        let realm = challenge_param(challenge, "realm").ok_or_else(login)?;
        let scope = challenge_param(challenge, "scope")
            .unwrap_or_else(|| format!("repository:{}:pull", self.repository));
        let join = if realm.contains('?') { '&' } else { '?' };
        let mut url = format!("{realm}{join}scope={}", encode(&scope));
        if let Some(service) = challenge_param(challenge, "service") {
            url.push_str(&format!("&service={}", encode(&service)));
        }
        let response = self.send(&url, None, None).await?;
        match response.status().as_u16() {
            200 => {}
            401 | 403 => return Err(login()),
            _ => return Err(self.refused(&url, response).await),
        }
        let body = self
            .read_all(&url, response.into_body(), 64 * 1024, "the token")
            .await?;
        let doc = self.json("the token", &body)?;
        doc["token"]
            .as_str()
            .or_else(|| doc["access_token"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| self.corrupt("the token", "no `token` in the answer".to_owned()))
    }
}

/// Where a cached layer's diff id is kept: `<digest>.diffid` beside it.
fn diff_id_path(layer: &Path) -> PathBuf {
    layer.with_extension("diffid")
}

/// The host (with port) of a URL.
fn host(url: &str) -> &str {
    let o = origin(url);
    o.find("://").map_or(o, |i| &o[i + 3..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_with_quotes_and_commas() {
        let c = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#;
        assert_eq!(
            challenge_param(c, "realm").as_deref(),
            Some("https://auth.docker.io/token")
        );
        assert_eq!(
            challenge_param(c, "scope").as_deref(),
            Some("repository:library/nginx:pull")
        );
        assert_eq!(
            challenge_param(c, "service").as_deref(),
            Some("registry.docker.io")
        );
        assert_eq!(
            challenge_param("Bearer realm=x", "realm").as_deref(),
            Some("x")
        );
        assert_eq!(challenge_param(c, "error"), None);
    }

    #[test]
    fn an_index_gives_its_amd64_entry_or_lists_what_it_has() {
        let index = json!({"manifests": [
            {"digest": "a", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "b", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "c", "platform": {"os": "unknown", "architecture": "unknown"}},
        ]});
        assert_eq!(choose_platform(&index).expect("amd64")["digest"], "b");
        let arm = json!({"manifests": [
            {"digest": "a", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "c", "platform": {"os": "unknown", "architecture": "unknown"}},
        ]});
        assert_eq!(
            choose_platform(&arm).expect_err("no amd64"),
            vec!["linux/arm64/v8".to_owned()]
        );
    }

    #[test]
    fn an_amd64_entry_with_a_variant_is_taken_when_there_is_no_other() {
        let index = json!({"manifests": [
            {"digest": "a", "platform": {"os": "linux", "architecture": "amd64", "variant": "v3"}},
            {"digest": "b", "platform": {"os": "linux", "architecture": "amd64"}},
        ]});
        assert_eq!(choose_platform(&index).expect("amd64")["digest"], "b");
        let only = json!({"manifests": [
            {"digest": "a", "platform": {"os": "linux", "architecture": "amd64", "variant": "v3"}},
        ]});
        assert_eq!(choose_platform(&only).expect("amd64")["digest"], "a");
    }

    #[test]
    fn redirects_resolve_and_errors_hide_signatures() {
        let from = "https://reg.io/v2/a/blobs/sha256:1";
        assert_eq!(
            resolve(from, "//cdn.io/x?sig=1").as_deref(),
            Some("https://cdn.io/x?sig=1")
        );
        assert_eq!(resolve(from, "/b").as_deref(), Some("https://reg.io/b"));
        assert_eq!(
            resolve(from, "http://s3.io/b").as_deref(),
            Some("http://s3.io/b")
        );
        assert_eq!(resolve(from, "b"), None);
        assert_eq!(
            shown("https://s3.io/b?X-Amz-Signature=abc"),
            "https://s3.io/b"
        );
        assert_eq!(
            host("http://localhost:1@evil.example/v2/"),
            "localhost:1@evil.example"
        );
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(2));
    }

    #[test]
    fn urls_are_split_and_encoded() {
        assert_eq!(origin("https://a.io:5000/v2/x"), "https://a.io:5000");
        assert_eq!(host("http://127.0.0.1:9/v2/"), "127.0.0.1:9");
        assert_eq!(origin("https://a.io"), "https://a.io");
        assert_eq!(
            encode("repository:library/nginx:pull"),
            "repository%3Alibrary%2Fnginx%3Apull"
        );
    }
}
