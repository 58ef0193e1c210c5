//! A registry that keeps what ECR keeps, for tests: behind the fault proxy (`Faults::store`) it
//! answers ECR's layer calls itself, as ECR does (parts in order, the digest checked on
//! `CompleteLayerUpload`, `LayerAlreadyExistsException`, availability by what it holds), checks
//! that a `PutImage` manifest names only blobs it holds before passing the call on to the
//! emulator (which keeps tags, mutability and image lists), and serves what it holds through
//! the registry API (`GET /v2/<name>/manifests/<ref>`, `/v2/<name>/blobs/<digest>`), so a test
//! pulls every pushed image back whole. Neither emulator keeps layer bytes that way: MiniStack
//! discards them and reports every layer UNAVAILABLE; moto serves no registry API.
//!
//! A `PutImage` the emulator then refuses is still recorded; tests pull back only images whose
//! push succeeded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use awslab::image::sha256;
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct State {
    next_upload: u64,
    /// Upload id -> (repository, bytes so far).
    uploads: HashMap<String, (String, Vec<u8>)>,
    /// (repository, digest) -> content.
    blobs: HashMap<(String, String), Arc<Vec<u8>>>,
    /// (repository, tag or digest) -> (media type, manifest).
    manifests: HashMap<(String, String), (String, Vec<u8>)>,
    /// Sizes of the parts received, in order.
    parts: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct EcrStore {
    state: Mutex<State>,
}

/// An HTTP/1.1 answer that closes its connection.
pub fn respond(status: u16, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} Store\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn ok(value: &Value) -> Vec<u8> {
    respond(
        200,
        &[("Content-Type", "application/x-amz-json-1.1".to_owned())],
        value.to_string().as_bytes(),
    )
}

/// An ECR error as the JSON protocol carries it.
fn error(code: &str, message: &str) -> Vec<u8> {
    respond(
        400,
        &[
            ("Content-Type", "application/x-amz-json-1.1".to_owned()),
            ("x-amzn-ErrorType", code.to_owned()),
        ],
        json!({"__type": code, "message": message})
            .to_string()
            .as_bytes(),
    )
}

impl EcrStore {
    pub fn new() -> Arc<EcrStore> {
        Arc::new(EcrStore::default())
    }

    /// The largest part received so far.
    pub fn largest_part(&self) -> usize {
        self.state
            .lock()
            .map(|s| s.parts.iter().copied().max().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The proxy's hook: an answer for calls the store handles, `None` to forward the call.
    pub fn answer(&self, head: &[u8], action: &str, body: &[u8]) -> Option<Vec<u8>> {
        let head = String::from_utf8_lossy(head);
        let first = head.lines().next().unwrap_or_default();
        if let Some(path) = first.strip_prefix("GET /v2/") {
            let path = path.split_whitespace().next().unwrap_or_default();
            return Some(self.registry_get(path));
        }
        let ecr = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("x-amz-target:")
                && l.contains("AmazonEC2ContainerRegistry")
        });
        if !ecr {
            return None;
        }
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let repo = req["repositoryName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut s = self.state.lock().ok()?;
        match action {
            "InitiateLayerUpload" => {
                s.next_upload += 1;
                let id = format!("store-upload-{}", s.next_upload);
                s.uploads.insert(id.clone(), (repo.clone(), Vec::new()));
                Some(ok(&json!({"uploadId": id, "partSize": 10_485_760})))
            }
            "UploadLayerPart" => {
                let id = req["uploadId"].as_str().unwrap_or_default().to_owned();
                let first = req["partFirstByte"].as_u64().unwrap_or(u64::MAX);
                let last = req["partLastByte"].as_u64().unwrap_or(0);
                let Ok(part) = aws_smithy_types::base64::decode(
                    req["layerPartBlob"].as_str().unwrap_or_default(),
                ) else {
                    return Some(error(
                        "InvalidParameterException",
                        "layerPartBlob is not base64",
                    ));
                };
                s.parts.push(part.len());
                let Some((_, data)) = s.uploads.get_mut(&id) else {
                    return Some(error("UploadNotFoundException", "no such upload"));
                };
                if first != data.len() as u64 || last + 1 != first + part.len() as u64 {
                    let msg = format!(
                        "part {first}-{last} of {} bytes does not follow the {} bytes received",
                        part.len(),
                        data.len()
                    );
                    return Some(error("InvalidLayerPartException", &msg));
                }
                data.extend_from_slice(&part);
                Some(ok(
                    &json!({"repositoryName": repo, "uploadId": id, "lastByteReceived": last}),
                ))
            }
            "CompleteLayerUpload" => {
                let id = req["uploadId"].as_str().unwrap_or_default().to_owned();
                let digest = req["layerDigests"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let Some((_, data)) = s.uploads.remove(&id) else {
                    return Some(error("UploadNotFoundException", "no such upload"));
                };
                if data.is_empty() {
                    return Some(error("EmptyUploadException", "no part was uploaded"));
                }
                if sha256(&data) != digest {
                    let msg = format!("the upload's digest is {}, not {digest}", sha256(&data));
                    return Some(error("InvalidLayerException", &msg));
                }
                let key = (repo.clone(), digest.clone());
                if s.blobs.contains_key(&key) {
                    return Some(error("LayerAlreadyExistsException", "the layer exists"));
                }
                s.blobs.insert(key, Arc::new(data));
                Some(ok(
                    &json!({"repositoryName": repo, "uploadId": id, "layerDigest": digest}),
                ))
            }
            "BatchCheckLayerAvailability" => {
                let mut layers = Vec::new();
                let mut failures = Vec::new();
                for d in req["layerDigests"].as_array().into_iter().flatten() {
                    let d = d.as_str().unwrap_or_default();
                    match s.blobs.get(&(repo.clone(), d.to_owned())) {
                        Some(b) => layers.push(json!({"layerDigest": d, "layerAvailability": "AVAILABLE", "layerSize": b.len()})),
                        None => failures.push(json!({"layerDigest": d, "failureCode": "MissingLayerDigest", "failureReason": "not in the repository"})),
                    }
                }
                Some(ok(&json!({"layers": layers, "failures": failures})))
            }
            "PutImage" => {
                let manifest = req["imageManifest"].as_str().unwrap_or_default();
                let Ok(parsed) = serde_json::from_str::<Value>(manifest) else {
                    return Some(error(
                        "InvalidParameterException",
                        "the manifest is not JSON",
                    ));
                };
                let missing: Vec<String> = std::iter::once(&parsed["config"])
                    .chain(parsed["layers"].as_array().into_iter().flatten())
                    .filter_map(|d| d["digest"].as_str())
                    .filter(|d| !s.blobs.contains_key(&(repo.clone(), (*d).to_owned())))
                    .map(str::to_owned)
                    .collect();
                if !missing.is_empty() {
                    return Some(error(
                        "LayersNotFoundException",
                        &format!("blobs not in the repository: {}", missing.join(", ")),
                    ));
                }
                let media = req["imageManifestMediaType"]
                    .as_str()
                    .or(parsed["mediaType"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let stored = (media, manifest.as_bytes().to_vec());
                s.manifests
                    .insert((repo.clone(), sha256(manifest.as_bytes())), stored.clone());
                if let Some(tag) = req["imageTag"].as_str() {
                    s.manifests.insert((repo, tag.to_owned()), stored);
                }
                // The emulator keeps the tag, the image list and the repository's rules.
                None
            }
            _ => None,
        }
    }

    fn registry_get(&self, path: &str) -> Vec<u8> {
        let not_found = |what: &str| {
            respond(
                404,
                &[("Content-Type", "application/json".to_owned())],
                json!({"errors": [{"code": what}]}).to_string().as_bytes(),
            )
        };
        let Ok(s) = self.state.lock() else {
            return not_found("UNAVAILABLE");
        };
        if let Some((name, reference)) = path.rsplit_once("/manifests/") {
            return match s.manifests.get(&(name.to_owned(), reference.to_owned())) {
                Some((media, bytes)) => respond(
                    200,
                    &[
                        ("Content-Type", media.clone()),
                        ("Docker-Content-Digest", sha256(bytes)),
                    ],
                    bytes,
                ),
                None => not_found("MANIFEST_UNKNOWN"),
            };
        }
        if let Some((name, digest)) = path.rsplit_once("/blobs/") {
            return match s.blobs.get(&(name.to_owned(), digest.to_owned())) {
                Some(b) => respond(
                    200,
                    &[
                        ("Content-Type", "application/octet-stream".to_owned()),
                        ("Docker-Content-Digest", digest.to_owned()),
                    ],
                    b,
                ),
                None => not_found("BLOB_UNKNOWN"),
            };
        }
        not_found("NAME_UNKNOWN")
    }
}
