//! A public registry for tests, answering as Docker Hub and ECR Public do: manifests and blobs
//! only with a Bearer token, got anonymously from the realm its 401 challenge names (with
//! public.ecr.aws's one `aws` scope for `docker/library/*`, Docker Hub's repository scope for
//! the others); a tag that
//! names an index (linux/amd64, linux/arm64/v8 and an attestation entry); blobs redirected to
//! another host (`localhost` for `127.0.0.1`), which refuses a request carrying the token, as a
//! blob store signed by URL does. It holds a small nginx-like base at
//! `docker/library/nginx:1.27-alpine`, an arm64-only image at `only/arm:v1`, and at
//! `bad/layer:v1` an image whose layer comes back with other bytes than its digest names, and
//! at `flaky/app:v1` one whose manifest first answers 503 and whose layer first answers 429
//! (with `Retry-After: 1`), then 502, then comes cut off halfway, as a registry under load does.
//!
//! Every awslab the tests start pulls its bases here (`AWSLAB_REGISTRY_MIRROR`), so a lab with
//! `base = "public.ecr.aws/docker/library/nginx:1.27-alpine"` runs offline.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};

use awslab::image::sha256;

use super::ecr_store::respond;
use serde_json::{Value, json};

const TOKEN: &str = "anonymous-pull-token";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The base the labs name, as the mirror serves it.
pub const NGINX: &str = "docker/library/nginx:1.27-alpine";

#[derive(Debug, Default)]
struct State {
    blobs: HashMap<String, Vec<u8>>,
    /// Blobs served with other bytes than their digest names.
    tampered: HashMap<String, Vec<u8>>,
    /// (repository, tag or digest) -> (media type, bytes).
    manifests: HashMap<(String, String), (&'static str, Vec<u8>)>,
    /// Blobs whose next download is cut off halfway (the connection closes mid-body).
    cut: Vec<String>,
    /// Answers still to refuse before serving, by request path: (status, `Retry-After`).
    refusals: HashMap<String, Vec<(u16, Option<u64>)>>,
    /// What was asked: `token <scope>`, `manifest <repo> <ref>`, `blob <digest>`, and
    /// `leak <digest>` for a blob request that carried the token to the blob store.
    log: Vec<String>,
}

pub struct Upstream {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    port: u16,
    state: Mutex<State>,
}

/// The registry of this test process, started on first use.
pub fn upstream() -> &'static Arc<Upstream> {
    static UPSTREAM: OnceLock<Arc<Upstream>> = OnceLock::new();
    UPSTREAM.get_or_init(Upstream::start)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

fn tar(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(0);
        b.append_data(&mut h, path, content.as_bytes())
            .expect("tar");
    }
    b.into_inner().expect("tar")
}

fn descriptor(media: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media, "digest": sha256(bytes), "size": bytes.len()})
}

impl State {
    fn blob(&mut self, bytes: Vec<u8>) -> String {
        let d = sha256(&bytes);
        self.blobs.insert(d.clone(), bytes);
        d
    }

    /// An image of `layers` (tars) for `arch`: its manifest's bytes.
    fn image(&mut self, arch: &str, layers: &[Vec<u8>]) -> Vec<u8> {
        let gz: Vec<Vec<u8>> = layers.iter().map(|t| gzip(t)).collect();
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.5"],
                "Entrypoint": ["/docker-entrypoint.sh"],
                "Cmd": ["nginx", "-g", "daemon off;"],
                "ExposedPorts": {"80/tcp": {}},
                "StopSignal": "SIGQUIT",
            },
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|t| sha256(t)).collect::<Vec<_>>()},
            "history": layers.iter().enumerate().map(|(i, _)| json!({"created_by": format!("layer {i}")}))
                .chain(std::iter::once(json!({"created_by": "CMD [\"nginx\"]", "empty_layer": true})))
                .collect::<Vec<_>>(),
        })
        .to_string()
        .into_bytes();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor(DOCKER_CONFIG, &config),
            "layers": gz.iter().map(|g| descriptor(DOCKER_LAYER, g)).collect::<Vec<_>>(),
        })
        .to_string()
        .into_bytes();
        self.blob(config);
        for g in gz {
            self.blob(g);
        }
        manifest
    }

    /// Serves `index` entries under `repo:tag`, each manifest also by its digest.
    fn publish(&mut self, repo: &str, tag: &str, entries: Vec<(Value, Vec<u8>)>) {
        let mut list = Vec::new();
        for (platform, manifest) in entries {
            let mut d = descriptor(DOCKER_MANIFEST, &manifest);
            d["platform"] = platform;
            self.manifests.insert(
                (repo.to_owned(), sha256(&manifest)),
                (DOCKER_MANIFEST, manifest),
            );
            list.push(d);
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list})
            .to_string()
            .into_bytes();
        self.manifests.insert(
            (repo.to_owned(), sha256(&index)),
            (OCI_INDEX, index.clone()),
        );
        self.manifests
            .insert((repo.to_owned(), tag.to_owned()), (OCI_INDEX, index));
    }
}

/// The files of the nginx-like base: its server, its default page, its entrypoint.
pub fn nginx_layers() -> Vec<Vec<u8>> {
    vec![
        tar(&[
            (
                "etc/nginx/conf.d/default.conf",
                "server { listen 80; location / { root /usr/share/nginx/html; index index.html; } }",
                0o644,
            ),
            (
                "usr/sbin/nginx",
                "#!/bin/sh\n# stands in for nginx\n",
                0o755,
            ),
            (
                "usr/share/nginx/html/50x.html",
                "<h1>An error occurred.</h1>",
                0o644,
            ),
            (
                "usr/share/nginx/html/index.html",
                "<h1>Welcome to nginx!</h1>",
                0o644,
            ),
        ]),
        tar(&[("docker-entrypoint.sh", "#!/bin/sh\nexec \"$@\"\n", 0o755)]),
    ]
}

impl Upstream {
    fn start() -> Arc<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut s = State::default();
        let amd = s.image("amd64", &nginx_layers());
        let arm = s.image("arm64", &[tar(&[("arm", "arm", 0o644)])]);
        let attestation = s.image("unknown", &[tar(&[("in-toto", "{}", 0o644)])]);
        s.publish(
            "docker/library/nginx",
            "1.27-alpine",
            vec![
                (json!({"os": "linux", "architecture": "amd64"}), amd),
                (
                    json!({"os": "linux", "architecture": "arm64", "variant": "v8"}),
                    arm.clone(),
                ),
                (
                    json!({"os": "unknown", "architecture": "unknown"}),
                    attestation,
                ),
            ],
        );
        s.publish(
            "only/arm",
            "v1",
            vec![(
                json!({"os": "linux", "architecture": "arm64", "variant": "v8"}),
                arm,
            )],
        );
        let layer = tar(&[("etc/motd", "hello", 0o644)]);
        let bad = s.image("amd64", std::slice::from_ref(&layer));
        s.publish(
            "bad/layer",
            "v1",
            vec![(json!({"os": "linux", "architecture": "amd64"}), bad)],
        );
        let flaky_layer = tar(&[("etc/flaky", "up at last", 0o644)]);
        let flaky = s.image("amd64", std::slice::from_ref(&flaky_layer));
        s.publish(
            "flaky/app",
            "v1",
            vec![(json!({"os": "linux", "architecture": "amd64"}), flaky)],
        );
        s.refusals
            .insert("/v2/flaky/app/manifests/v1".to_owned(), vec![(503, None)]);
        s.refusals.insert(
            format!("/v2/flaky/app/blobs/{}", sha256(&gzip(&flaky_layer))),
            vec![(429, Some(1)), (502, None)],
        );
        s.cut.push(sha256(&gzip(&flaky_layer)));
        // Its bytes as sent: the same length, one byte changed on the way.
        let mut sent = gzip(&layer);
        let middle = sent.len() / 2;
        sent[middle] ^= 0x20;
        s.tampered.insert(sha256(&gzip(&layer)), sent);

        let up = Arc::new(Upstream {
            url: format!("http://127.0.0.1:{port}"),
            port,
            state: Mutex::new(s),
        });
        let server = up.clone();
        std::thread::Builder::new()
            .name("upstream-registry".to_owned())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let server = server.clone();
                    std::thread::spawn(move || server.serve(conn));
                }
            })
            .expect("start the registry");
        up
    }

    /// What was asked so far.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().map(|s| s.log.clone()).unwrap_or_default()
    }

    /// The bytes of a blob the registry holds.
    pub fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.blobs.get(digest).cloned())
    }

    fn serve(&self, mut conn: TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match conn.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_owned();
        let authorized = head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("authorization:") && l.ends_with(TOKEN));
        let answer = self.answer(&target, authorized);
        let _ = conn.write_all(&answer);
    }

    fn answer(&self, target: &str, authorized: bool) -> Vec<u8> {
        let Ok(mut s) = self.state.lock() else {
            return respond(500, &[], b"");
        };
        let error = |status: u16, code: &str, message: &str| {
            respond(
                status,
                &[("Content-Type", "application/json".to_owned())],
                json!({"errors": [{"code": code, "message": message}]})
                    .to_string()
                    .as_bytes(),
            )
        };
        if let Some(query) = target
            .strip_prefix("/token?")
            .or_else(|| target.strip_prefix("/token/?"))
        {
            let scope = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("scope="))
                .unwrap_or_default()
                .replace("%3A", ":")
                .replace("%2F", "/");
            s.log.push(format!("token {scope}"));
            return respond(
                200,
                &[("Content-Type", "application/json".to_owned())],
                json!({"token": TOKEN}).to_string().as_bytes(),
            );
        }
        if let Some(digest) = target.strip_prefix("/store/") {
            if authorized {
                s.log.push(format!("leak {digest}"));
                return error(400, "InvalidArgument", "only one auth mechanism allowed");
            }
            let body = s
                .tampered
                .get(digest)
                .or_else(|| s.blobs.get(digest))
                .cloned();
            if let Some(i) = s.cut.iter().position(|d| d == digest) {
                s.cut.remove(i);
                s.log.push(format!("cut {digest}"));
                let whole = respond(200, &[], &body.unwrap_or_default());
                let head = whole.len() - s.blobs.get(digest).map_or(0, Vec::len);
                let half = head + (whole.len() - head) / 2;
                return whole[..half].to_vec();
            }
            return match body {
                Some(b) => respond(200, &[], &b),
                None => error(404, "NoSuchKey", "no such key"),
            };
        }
        let Some(path) = target.strip_prefix("/v2/") else {
            return error(404, "NOT_FOUND", "not a registry path");
        };
        if !authorized {
            let repo = path.split("/manifests/").next().unwrap_or_default();
            let repo = repo.split("/blobs/").next().unwrap_or_default();
            // public.ecr.aws (which mirrors Docker's official images under docker/library)
            // names one scope for every public pull; Docker Hub names the repository's.
            let challenge = if repo.starts_with("docker/library/") {
                format!(
                    "Bearer realm=\"http://127.0.0.1:{}/token/\",service=\"public.ecr.aws\",scope=\"aws\"",
                    self.port
                )
            } else {
                format!(
                    "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"registry.docker.io\",scope=\"repository:{repo}:pull\"",
                    self.port
                )
            };
            return respond(
                401,
                &[
                    ("Www-Authenticate", challenge),
                    ("Content-Type", "application/json".to_owned()),
                ],
                json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
                    .to_string()
                    .as_bytes(),
            );
        }
        if let Some(queue) = s.refusals.get_mut(target)
            && !queue.is_empty()
        {
            let (status, retry_after) = queue.remove(0);
            s.log.push(format!("refused {status} {target}"));
            let mut headers = vec![("Content-Type", "application/json".to_owned())];
            if let Some(secs) = retry_after {
                headers.push(("Retry-After", secs.to_string()));
            }
            let code = if status == 429 {
                "TOOMANYREQUESTS"
            } else {
                "UNAVAILABLE"
            };
            return respond(
                status,
                &headers,
                json!({"errors": [{"code": code, "message": "try again"}]})
                    .to_string()
                    .as_bytes(),
            );
        }
        if let Some((repo, reference)) = path.rsplit_once("/manifests/") {
            s.log.push(format!("manifest {repo} {reference}"));
            return match s.manifests.get(&(repo.to_owned(), reference.to_owned())) {
                Some((media, bytes)) => {
                    respond(200, &[("Content-Type", (*media).to_owned())], bytes)
                }
                None => error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
            };
        }
        if let Some((_, digest)) = path.rsplit_once("/blobs/") {
            s.log.push(format!("blob {digest}"));
            if !s.blobs.contains_key(digest) {
                return error(404, "BLOB_UNKNOWN", "blob unknown to registry");
            }
            // The blob store: another host name for this machine, so the token must not follow.
            let location = format!("http://localhost:{}/store/{digest}", self.port);
            return respond(307, &[("Location", location)], b"");
        }
        error(404, "NOT_FOUND", "not a registry path")
    }
}
