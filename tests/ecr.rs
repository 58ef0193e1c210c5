//! `awslab push` against the emulators' ECR API, through a registry that keeps what ECR keeps
//! (`common/ecr_store.rs`): every input form, re-push, resume, an immutable tag, several images
//! in one archive, a folder packed like a build context, a large image with bounded memory;
//! and every pushed image pulled back whole (blobs against their digests and sizes, layers
//! against the config's diff ids) and compared with what was pushed. Each test has its own
//! repositories and its own proxy.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use awslab::image;
use common::ecr_store::EcrStore;
use common::proxy::{FaultProxy, Faults};
use common::upstream;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn ecr() -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&common::sdk_config("us-east-1").await)
}

async fn repository(name: &str, immutable: bool) {
    let mutability = if immutable {
        aws_sdk_ecr::types::ImageTagMutability::Immutable
    } else {
        aws_sdk_ecr::types::ImageTagMutability::Mutable
    };
    ecr()
        .await
        .create_repository()
        .repository_name(name)
        .image_tag_mutability(mutability)
        .send()
        .await
        .expect("repository");
}

async fn remove(name: &str) {
    let _ = ecr()
        .await
        .delete_repository()
        .repository_name(name)
        .force(true)
        .send()
        .await;
}

/// (tag, digest) of every tagged image.
async fn images(name: &str) -> Vec<(String, String)> {
    let out = ecr()
        .await
        .describe_images()
        .repository_name(name)
        .send()
        .await
        .expect("images");
    let mut v: Vec<(String, String)> = out
        .image_details()
        .iter()
        .flat_map(|d| {
            let digest = d.image_digest().unwrap_or_default().to_owned();
            d.image_tags()
                .iter()
                .map(move |t| (t.clone(), digest.clone()))
        })
        .collect();
    v.sort();
    v
}

/// An image pulled back through the registry API, checked whole.
struct Pulled {
    manifest: Vec<u8>,
    config: Vec<u8>,
    /// As stored (compressed or not).
    layers: Vec<Vec<u8>>,
    /// Uncompressed tars.
    tars: Vec<Vec<u8>>,
}

impl Pulled {
    /// (path, content) of every file in the image's layers.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for t in &self.tars {
            let mut archive = tar::Archive::new(t.as_slice());
            for e in archive.entries().expect("entries") {
                let mut e = e.expect("entry");
                if !e.header().entry_type().is_file() {
                    continue;
                }
                let mut data = Vec::new();
                e.read_to_end(&mut data).expect("read");
                out.push((e.path().expect("path").display().to_string(), data));
            }
        }
        out
    }
}

/// The emulator behind a proxy whose store keeps layers as ECR does and serves them back.
struct Registry {
    proxy: FaultProxy,
    store: Arc<EcrStore>,
}

impl Registry {
    async fn start() -> Registry {
        let store = EcrStore::new();
        let faults = Faults {
            store: Some(store.clone()),
            ..Faults::default()
        };
        let proxy = FaultProxy::start(&common::endpoint(), faults).await;
        Registry { proxy, store }
    }

    /// `awslab --format json ARGS` through the proxy, in a region.
    async fn awslab(&self, region: &str, args: &[&str]) -> std::process::Output {
        let home = tempfile::tempdir().expect("home");
        common::awslab_via(home.path(), &self.proxy.url)
            .env("AWS_REGION", region)
            .args(args)
            .output()
            .await
            .expect("awslab")
    }

    async fn push(&self, image: &str, repo: &str, tag: &str) -> std::process::Output {
        self.awslab(
            "us-east-1",
            &[
                "--format",
                "json",
                "push",
                image,
                "--repository",
                repo,
                "--tag",
                tag,
            ],
        )
        .await
    }

    async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let host = self.proxy.url.trim_start_matches("http://").to_owned();
        let mut s = tokio::net::TcpStream::connect(&host)
            .await
            .expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("read");
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
        let status = String::from_utf8_lossy(&raw[9..12]).parse().unwrap_or(0);
        (status, raw[split + 4..].to_vec())
    }

    /// Pulls `repo:reference` and checks it is whole: the manifest, the config and every layer
    /// against their digests and sizes, each layer's content against the config's diff id.
    async fn pull(&self, repo: &str, reference: &str) -> Pulled {
        let (status, manifest) = self.get(&format!("/v2/{repo}/manifests/{reference}")).await;
        assert_eq!(
            status,
            200,
            "{repo}:{reference}: {}",
            String::from_utf8_lossy(&manifest)
        );
        let parsed: Value = serde_json::from_slice(&manifest).expect("manifest");
        let blob = |d: &Value| {
            let digest = d["digest"].as_str().expect("digest").to_owned();
            let size = d["size"].as_u64().expect("size");
            (digest, size)
        };
        let mut fetch = Vec::new();
        for d in
            std::iter::once(&parsed["config"]).chain(parsed["layers"].as_array().expect("layers"))
        {
            let (digest, size) = blob(d);
            let (status, body) = self.get(&format!("/v2/{repo}/blobs/{digest}")).await;
            assert_eq!(status, 200, "{repo}: blob {digest} is not there");
            assert_eq!(
                image::sha256(&body),
                digest,
                "{repo}: blob {digest} came back changed"
            );
            assert_eq!(
                body.len() as u64,
                size,
                "{repo}: blob {digest} has another size"
            );
            fetch.push((d["mediaType"].as_str().unwrap_or_default().to_owned(), body));
        }
        let config = fetch.remove(0).1;
        let config_json: Value = serde_json::from_slice(&config).expect("config");
        let diff_ids: Vec<&str> = config_json["rootfs"]["diff_ids"]
            .as_array()
            .expect("diff ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(diff_ids.len(), fetch.len(), "one diff id per layer");
        let mut tars = Vec::new();
        for ((media, layer), diff_id) in fetch.iter().zip(&diff_ids) {
            let tar = if media.ends_with("gzip") {
                let mut t = Vec::new();
                flate2::read::MultiGzDecoder::new(layer.as_slice())
                    .read_to_end(&mut t)
                    .expect("gunzip");
                t
            } else {
                layer.clone()
            };
            assert_eq!(
                image::sha256(&tar),
                *diff_id,
                "{repo}: a layer does not match its diff id"
            );
            tars.push(tar);
        }
        Pulled {
            manifest,
            config,
            layers: fetch.into_iter().map(|(_, b)| b).collect(),
            tars,
        }
    }

    /// Pulls `repo:reference` and asserts it is byte for byte the local image.
    async fn pull_same(&self, repo: &str, reference: &str, local: &image::Image) -> Pulled {
        let pulled = self.pull(repo, reference).await;
        assert_eq!(
            image::sha256(&pulled.manifest),
            local.digest().to_string(),
            "{repo}:{reference}: another manifest"
        );
        assert_eq!(pulled.config, local.config.to_vec().expect("config"));
        let local_layers: Vec<Vec<u8>> = local
            .layers
            .iter()
            .map(|l| l.to_vec().expect("layer"))
            .collect();
        assert!(
            pulled.layers == local_layers,
            "{repo}:{reference}: other layers"
        );
        pulled
    }
}

/// `pulled` is the test registry's nginx base, layer for layer, with one layer on top holding
/// exactly `top` (paths); the base's command, entrypoint and port are kept, the config's diff
/// ids and history have one entry more, and the manifest names the base.
fn assert_on_nginx(pulled: &Pulled, base_name: &str, top: &[&str]) {
    let manifest: Value = serde_json::from_slice(&pulled.manifest).expect("manifest");
    let base_layers = upstream::nginx_layers();
    assert_eq!(pulled.tars.len(), base_layers.len() + 1, "{manifest:#}");
    assert!(
        pulled.tars[..base_layers.len()] == base_layers[..],
        "the base's layers came through changed"
    );
    for (stored, d) in pulled
        .layers
        .iter()
        .zip(manifest["layers"].as_array().expect("layers"))
    {
        let digest = d["digest"].as_str().expect("digest");
        if let Some(original) = upstream::upstream().blob(digest) {
            assert!(
                *stored == original,
                "{digest}: other bytes than the registry's"
            );
        }
    }
    let mut names: Vec<String> = tar::Archive::new(pulled.tars[base_layers.len()].as_slice())
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, top);
    let config: Value = serde_json::from_slice(&pulled.config).expect("config");
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["nginx", "-g", "daemon off;"])
    );
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/docker-entrypoint.sh"])
    );
    assert!(
        config["config"]["ExposedPorts"]["80/tcp"].is_object(),
        "{config:#}"
    );
    assert_eq!(
        (config["os"].as_str(), config["architecture"].as_str()),
        (Some("linux"), Some("amd64"))
    );
    let history = config["history"].as_array().expect("history");
    assert!(
        history
            .last()
            .and_then(|h| h["created_by"].as_str())
            .is_some_and(|c| c.starts_with("awslab: COPY")),
        "{history:?}"
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.name"],
        base_name
    );
    assert!(
        manifest["annotations"]["org.opencontainers.image.base.digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{manifest:#}"
    );
}

fn pushed(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = common::json(out);
    assert_eq!(json["schema_version"], 1, "{json}");
    json
}

fn site() -> std::path::PathBuf {
    common::root().join("labs/assets/hello-web")
}

fn arg(p: &Path) -> String {
    p.display().to_string()
}

fn tar_of(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).expect("tar");
    b.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// A classic `docker save` directory of images (tag, a file's content).
fn docker_save(images: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let mut manifest = Vec::new();
    for (i, (tag, content)) in images.iter().enumerate() {
        let files = tempfile::tempdir().expect("dir");
        std::fs::write(files.path().join("file.txt"), content).expect("write");
        let layer = tar_of(files.path());
        let config = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [image::sha256(&layer)]}}).to_string();
        std::fs::create_dir(dir.path().join(format!("l{i}"))).expect("dir");
        std::fs::write(dir.path().join(format!("l{i}/layer.tar")), &layer).expect("write");
        std::fs::write(dir.path().join(format!("c{i}.json")), &config).expect("write");
        manifest.push(serde_json::json!({"Config": format!("c{i}.json"), "RepoTags": [tag], "Layers": [format!("l{i}/layer.tar")]}));
    }
    std::fs::write(
        dir.path().join("manifest.json"),
        Value::Array(manifest).to_string(),
    )
    .expect("write");
    dir
}

fn uploaded(v: &Value) -> usize {
    v["uploaded"].as_array().map_or(usize::MAX, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_input_form_pushes_whole_and_a_repush_uploads_nothing() {
    let reg = Registry::start().await;
    let repo = format!("t-push-{}", std::process::id());
    repository(&repo, false).await;
    let local = image::load(&site(), None).expect("image");

    // A directory, packed.
    let first = pushed(&reg.push(&arg(&site()), &repo, "v1").await);
    assert_eq!(uploaded(&first), 2, "{first}");
    assert_eq!(first["unchanged"], false);
    assert_eq!(first["input"]["kind"], "directory", "{first}");
    reg.pull_same(&repo, "v1", &local).await;
    // Again: nothing uploaded.
    let again = pushed(&reg.push(&arg(&site()), &repo, "v1").await);
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(uploaded(&again), 0);

    // An OCI layout directory, and the same as a tar: the blobs are there, only the tag is new.
    let layout = tempfile::tempdir().expect("dir");
    image::write_oci_layout(&local, layout.path()).expect("layout");
    let v2 = pushed(&reg.push(&arg(layout.path()), &repo, "v2").await);
    assert_eq!(uploaded(&v2), 0, "{v2}");
    assert_eq!(v2["skipped"].as_array().map(Vec::len), Some(2), "{v2}");
    reg.pull_same(&repo, "v2", &local).await;
    let archive = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(archive.path(), tar_of(layout.path())).expect("write");
    let v3 = pushed(&reg.push(&arg(archive.path()), &repo, "v3").await);
    assert_eq!(v3["input"]["kind"], "oci-layout-tar", "{v3}");
    reg.pull_same(&repo, "v3", &local).await;

    // A classic `docker save` archive (uncompressed layer, checked against the diff id), and
    // the same gzipped (`docker save | gzip`).
    let saved = docker_save(&[("web:v4", b"<h1>v4</h1>")]);
    let docker = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(docker.path(), tar_of(saved.path())).expect("write");
    let v4 = pushed(&reg.push(&arg(docker.path()), &repo, "v4").await);
    assert_eq!(uploaded(&v4), 2, "{v4}");
    assert_eq!(v4["input"]["reference"], "web:v4", "{v4}");
    let docker_local = image::load(docker.path(), None).expect("docker save");
    let pulled = reg.pull_same(&repo, "v4", &docker_local).await;
    assert_eq!(
        pulled.files(),
        [("file.txt".to_owned(), b"<h1>v4</h1>".to_vec())]
    );
    let gz = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(gz.path(), gzip(&tar_of(saved.path()))).expect("write");
    let v5 = pushed(&reg.push(&arg(gz.path()), &repo, "v5").await);
    assert_eq!(v5["input"]["gzipped"], true, "{v5}");
    assert_eq!(uploaded(&v5), 0, "the same layers: {v5}");
    reg.pull_same(&repo, "v5", &docker_local).await;

    let tags: Vec<String> = images(&repo).await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(tags, vec!["v1", "v2", "v3", "v4", "v5"]);
    remove(&repo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_push_resumes_by_skipping_what_arrived() {
    let reg = Registry::start().await;
    let repo = format!("t-resume-{}", std::process::id());
    repository(&repo, false).await;
    let local = image::load(&site(), None).expect("image");
    // The layer arrived before the interruption; the config and the manifest did not.
    let conf = aws_sdk_ecr::config::Builder::from(&common::sdk_config("us-east-1").await)
        .endpoint_url(&reg.proxy.url)
        .build();
    let client = aws_sdk_ecr::Client::from_conf(conf);
    let layer = &local.layers[0];
    let data = layer.to_vec().expect("layer");
    let up = client
        .initiate_layer_upload()
        .repository_name(&repo)
        .send()
        .await
        .expect("initiate");
    let id = up.upload_id().expect("id").to_owned();
    client
        .upload_layer_part()
        .repository_name(&repo)
        .upload_id(&id)
        .part_first_byte(0)
        .part_last_byte(data.len() as i64 - 1)
        .layer_part_blob(aws_sdk_ecr::primitives::Blob::new(data))
        .send()
        .await
        .expect("part");
    client
        .complete_layer_upload()
        .repository_name(&repo)
        .upload_id(&id)
        .layer_digests(layer.digest.to_string())
        .send()
        .await
        .expect("complete");
    let resumed = pushed(&reg.push(&arg(&site()), &repo, "v1").await);
    assert_eq!(
        resumed["skipped"],
        serde_json::json!([layer.digest]),
        "{resumed}"
    );
    assert_eq!(
        resumed["uploaded"],
        serde_json::json!([local.config.digest])
    );
    assert_eq!(images(&repo).await.len(), 1);
    reg.pull_same(&repo, "v1", &local).await;
    remove(&repo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_tag_and_bad_inputs_are_refused_and_change_nothing() {
    let reg = Registry::start().await;
    let repo = format!("t-imm-{}", std::process::id());
    repository(&repo, true).await;
    pushed(&reg.push(&arg(&site()), &repo, "v1").await);
    let before = images(&repo).await;
    let calls = |action: &str| reg.proxy.counts.action(action).0;
    let (initiated, put) = (calls("InitiateLayerUpload"), calls("PutImage"));

    // Another image under the same tag: refused by awslab before any upload, in its own words
    // (PutImage is never called), and as JSON on stdout.
    let other = tempfile::tempdir().expect("dir");
    std::fs::write(other.path().join("index.html"), b"<h1>v2</h1>").expect("write");
    let out = reg.push(&arg(other.path()), &repo, "v1").await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("refused: {repo}:v1 already names sha256:"))
            && err.contains("IMMUTABLE; nothing was uploaded"),
        "{err}"
    );
    assert!(!err.contains("PutImage"), "{err}");
    let json = common::json(&out);
    assert_eq!(json["exit_code"], 1, "{json}");
    assert_eq!(
        json["error"]["code"], "awslab::push::immutable_tag",
        "{json}"
    );
    assert_eq!(
        (calls("InitiateLayerUpload"), calls("PutImage")),
        (initiated, put),
        "nothing was uploaded, PutImage was not called"
    );

    // An allow-list that does not name this account: the push is refused before any ECR call.
    let home = tempfile::tempdir().expect("home");
    let ecr_calls = || {
        ["DescribeRepositories", "InitiateLayerUpload", "PutImage"]
            .iter()
            .map(|a| calls(a))
            .sum::<u64>()
    };
    let before_calls = ecr_calls();
    let out = common::awslab_via(home.path(), &reg.proxy.url)
        .env("AWSLAB_ALLOWED_ACCOUNTS", "999999999999")
        .args(["push", &arg(&site()), "--repository", &repo, "--tag", "v2"])
        .output()
        .await
        .expect("awslab");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not in the allow-list"), "{err}");
    assert_eq!(ecr_calls(), before_calls, "no ECR call: {err}");
    assert_eq!(images(&repo).await, before);

    // A tampered OCI layout: refused before any call (exit 2), naming the blob.
    let local = image::load(&site(), None).expect("image");
    let layout = tempfile::tempdir().expect("dir");
    image::write_oci_layout(&local, layout.path()).expect("layout");
    let hex = local.config.digest.hex().to_owned();
    let config = layout.path().join("blobs/sha256").join(&hex);
    let mut tampered = std::fs::read(&config).expect("read");
    tampered[0] = b'[';
    std::fs::write(&config, tampered).expect("tamper");
    let out = reg.push(&arg(layout.path()), &repo, "v9").await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "the config (blobs/sha256/{hex}) does not match its digest"
        )),
        "{err}"
    );
    assert_eq!(
        common::json(&out)["error"]["code"],
        "awslab::image::digest_mismatch"
    );
    // A missing file, and a truncated archive.
    let out = reg.push("/no/such/image.tar", &repo, "v9").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/image.tar"));
    let bytes = tar_of(layout.path());
    let cut = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(cut.path(), &bytes[..bytes.len() / 2]).expect("write");
    let out = reg.push(&arg(cut.path()), &repo, "v9").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt or truncated"));

    assert_eq!(images(&repo).await, before, "the repository is as it was");
    reg.pull_same(&repo, "v1", &local).await;
    remove(&repo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_larger_than_a_part_goes_up_in_parts() {
    let reg = Registry::start().await;
    let repo = format!("t-parts-{}", std::process::id());
    repository(&repo, false).await;
    // 12 MiB that gzip cannot shrink: more than one part.
    let dir = tempfile::tempdir().expect("dir");
    let mut rng = fastrand::Rng::with_seed(7);
    let data: Vec<u8> = (0..12 * 1024 * 1024).map(|_| rng.u8(..)).collect();
    std::fs::write(dir.path().join("blob.bin"), &data).expect("write");
    let out = pushed(&reg.push(&arg(dir.path()), &repo, "big").await);
    assert!(
        out["bytes_uploaded"].as_u64().unwrap_or(0) > 12 * 1024 * 1024,
        "{out}"
    );
    assert_eq!(reg.store.largest_part(), 5 * 1024 * 1024, "parts of 5 MiB");
    assert_eq!(images(&repo).await.len(), 1);
    let local = image::load(dir.path(), None).expect("image");
    let pulled = reg.pull_same(&repo, "big", &local).await;
    assert_eq!(pulled.files(), [("blob.bin".to_owned(), data)]);
    remove(&repo).await;
}

/// A folder is packed as a `docker build` context: `.git` and what `.dockerignore` excludes are
/// left out, links inside the folder are followed; what comes back is exactly that.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_is_packed_like_a_build_context_and_comes_back_so() {
    use std::os::unix::fs::symlink;
    let reg = Registry::start().await;
    let repo = format!("t-context-{}", std::process::id());
    repository(&repo, false).await;
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::create_dir_all(d.join(".git/refs")).expect("dir");
    std::fs::write(d.join(".git/config"), b"[remote]").expect("write");
    std::fs::create_dir_all(d.join("app/static")).expect("dir");
    std::fs::write(d.join("app/main.py"), b"print('hi')").expect("write");
    std::fs::write(d.join("app/static/logo.svg"), b"<svg/>").expect("write");
    std::fs::write(d.join("debug.log"), b"noise").expect("write");
    std::fs::write(d.join(".env"), b"SECRET=1").expect("write");
    std::fs::write(d.join(".dockerignore"), "*.log\n.env\n.dockerignore\n").expect("write");
    symlink("app/main.py", d.join("main.py")).expect("link");
    symlink("app/static", d.join("static")).expect("link");
    let out = pushed(&reg.push(&arg(d), &repo, "ctx").await);
    assert_eq!(out["input"]["links_followed"], 2, "{out}");
    assert_eq!(
        out["input"]["left_out"],
        serde_json::json!([".dockerignore", ".env", ".git", "debug.log"]),
        "{out}"
    );
    let local = image::load(d, None).expect("image");
    let pulled = reg.pull_same(&repo, "ctx", &local).await;
    let files: Vec<(String, String)> = pulled
        .files()
        .into_iter()
        .map(|(p, c)| (p, String::from_utf8_lossy(&c).into_owned()))
        .collect();
    let want = [
        ("app/main.py", "print('hi')"),
        ("app/static/logo.svg", "<svg/>"),
        ("main.py", "print('hi')"),
        ("static/logo.svg", "<svg/>"),
    ];
    assert_eq!(files, want.map(|(p, c)| (p.to_owned(), c.to_owned())));
    remove(&repo).await;
}

/// An archive or layout of several images is never pushed as "the first one": without a
/// reference it is an error listing them (exit 2, nothing called); with one, that image goes.
#[tokio::test(flavor = "multi_thread")]
async fn of_several_images_the_one_named_is_pushed() {
    let reg = Registry::start().await;
    let repo = format!("t-several-{}", std::process::id());
    repository(&repo, false).await;
    let saved = docker_save(&[("web:v1", b"web"), ("api:v2", b"api")]);
    let gz = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(gz.path(), gzip(&tar_of(saved.path()))).expect("write");
    let out = reg.push(&arg(gz.path()), &repo, "x").await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds 2 images: web:v1, api:v2"), "{err}");
    let json = common::json(&out);
    assert_eq!(
        json["error"]["code"], "awslab::image::several_images",
        "{json}"
    );
    assert!(images(&repo).await.is_empty());

    let chosen = pushed(
        &reg.push(&format!("{}:api:v2", arg(gz.path())), &repo, "api")
            .await,
    );
    assert_eq!(chosen["input"]["reference"], "api:v2", "{chosen}");
    let local = image::load(gz.path(), Some("api:v2")).expect("api");
    let pulled = reg.pull_same(&repo, "api", &local).await;
    assert_eq!(pulled.files(), [("file.txt".to_owned(), b"api".to_vec())]);
    // A reference it does not hold: the error lists what it holds.
    let out = reg
        .push(&format!("{}:db:v3", arg(gz.path())), &repo, "db")
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("holds no image \"db:v3\"; it holds web:v1, api:v2")
    );
    assert_eq!(images(&repo).await.len(), 1);
    remove(&repo).await;
}

/// The peak resident memory of a child process, sampled from `/proc` until it exits.
#[cfg(target_os = "linux")]
async fn peak_kib(mut child: tokio::process::Child) -> (std::process::Output, u64) {
    let pid = child.id().expect("pid");
    let mut peak = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0);
            peak = peak.max(hwm);
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    (child.wait_with_output().await.expect("output"), peak)
}

/// Pushing an image several times larger than the memory budget: blobs are hashed and sent
/// from disk a part at a time, so the peak stays far below the image's size.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_large_image_is_pushed_with_bounded_memory() {
    let reg = Registry::start().await;
    let repo = format!("t-large-{}", std::process::id());
    repository(&repo, false).await;
    // A 160 MiB layer of random bytes, as a tar of an OCI layout.
    let files = tempfile::tempdir().expect("dir");
    let mut rng = fastrand::Rng::with_seed(11);
    let mut f = std::fs::File::create(files.path().join("data.bin")).expect("file");
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..160 {
        rng.fill(&mut chunk);
        f.write_all(&chunk).expect("write");
    }
    drop(f);
    let mut layer = tar::Builder::new(Vec::new());
    layer.append_dir_all(".", files.path()).expect("tar");
    let layer = layer.into_inner().expect("tar");
    drop(files);
    let layout = tempfile::tempdir().expect("dir");
    let blobs = layout.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("dir");
    let put = |data: &[u8]| {
        let digest = image::sha256(data);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), data).expect("write");
        serde_json::json!({"digest": digest, "size": data.len()})
    };
    let mut layer_d = put(&layer);
    layer_d["mediaType"] = image::OCI_LAYER_TAR.into();
    let mut config_d = put(serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [image::sha256(&layer)]}}).to_string().as_bytes());
    config_d["mediaType"] = image::OCI_CONFIG.into();
    let mut manifest_d = put(serde_json::json!({"schemaVersion": 2, "mediaType": image::OCI_MANIFEST, "config": config_d, "layers": [layer_d]}).to_string().as_bytes());
    manifest_d["mediaType"] = image::OCI_MANIFEST.into();
    drop(layer);
    std::fs::write(
        layout.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("write");
    std::fs::write(
        layout.path().join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [manifest_d]}).to_string(),
    )
    .expect("write");
    let archive = tempfile::NamedTempFile::new().expect("file");
    let mut b = tar::Builder::new(std::fs::File::create(archive.path()).expect("file"));
    b.append_dir_all(".", layout.path()).expect("tar");
    b.into_inner().expect("tar");

    let home = tempfile::tempdir().expect("home");
    let child = common::awslab_via(home.path(), &reg.proxy.url)
        .args([
            "--format",
            "json",
            "push",
            &arg(archive.path()),
            "--repository",
            &repo,
            "--tag",
            "large",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let (out, peak) = peak_kib(child).await;
    let json = pushed(&out);
    assert!(
        json["bytes_uploaded"].as_u64().unwrap_or(0) > 160 << 20,
        "{json}"
    );
    assert!(peak > 0, "no sample");
    assert!(
        peak < 100 * 1024,
        "peak resident memory {peak} KiB for a 160 MiB image"
    );
    let local = image::load(archive.path(), None).expect("image");
    reg.pull_same(&repo, "large", &local).await;
    remove(&repo).await;
}

fn lab_cmd(home: &Path, region: &str, env: &str, args: &[&str]) -> std::process::Output {
    common::run_in(home, region, env, args)
}

async fn repo_exists(region: &str, name: &str) -> bool {
    aws_sdk_ecr::Client::new(&common::sdk_config(region).await)
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ecr_lab_up_check_and_down() {
    let region = "us-west-2";
    let env = common::env_name("ecr");
    let home = tempfile::tempdir().expect("home");
    // `up` pushes through the registry, which gives the image back whole.
    let reg = Registry::start().await;
    let up = reg
        .awslab(region, &["--env", &env, "up", "ecr-push", "--yes"])
        .await;
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    // The image is the base nginx (pulled from the test's mirror of public.ecr.aws) with the
    // lab's page on top, where nginx serves it.
    let pulled = reg.pull("lab/web", "v1").await;
    assert_on_nginx(
        &pulled,
        "public.ecr.aws/docker/library/nginx:1.27-alpine",
        &["usr/share/nginx/html/index.html"],
    );
    let page = pulled
        .files()
        .into_iter()
        .filter(|(p, _)| p == "usr/share/nginx/html/index.html")
        .map(|(_, c)| String::from_utf8_lossy(&c).into_owned())
        .next_back()
        .expect("the page");
    assert!(page.contains("Hello from an image pushed to ECR"), "{page}");
    let (code, report) = common::check_in(home.path(), region, &env, "ecr-push");
    assert_eq!(common::failed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    let evidence = common::results(&report)
        .into_iter()
        .find(|(id, _, _, _)| id == "image-v1")
        .expect("image check");
    assert!(evidence.2.contains("lab/web:v1 = sha256:"), "{evidence:?}");
    // Scan findings: reported when the service has them; neither emulator scans (skip).
    let scan = common::results(&report)
        .into_iter()
        .find(|(id, _, _, _)| id == "image-v1.scan")
        .expect("scan item");
    assert_eq!(scan.1, "skip", "{scan:?}");
    assert!(scan.2.starts_with("not reported: "), "{scan:?}");
    // Again: nothing changes.
    let again = common::json(&lab_cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "up", "ecr-push", "--yes"],
    ));
    let changed: Vec<&Value> = again["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] != "keep")
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    // `show` names the registry of this account and region.
    let show = lab_cmd(home.path(), region, &env, &["show", "ecr-push"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains(&format!(".dkr.ecr.{region}.amazonaws.com/lab/web:v1")),
        "{text}"
    );
    let down = lab_cmd(home.path(), region, &env, &["down", "ecr-push", "--yes"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(
        !repo_exists(region, "lab/web").await,
        "the repository is left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_student_repository_with_mutable_tags_fails_the_right_checks() {
    let region = "eu-central-1";
    let env = common::env_name("ecrstudent");
    let home = tempfile::tempdir().expect("home");
    let client = aws_sdk_ecr::Client::new(&common::sdk_config(region).await);
    client
        .create_repository()
        .repository_name("lab/web")
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
        .image_scanning_configuration(
            aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                .scan_on_push(true)
                .build(),
        )
        .send()
        .await
        .expect("repository");
    // Only tagged images are trimmed: untagged ones would pile up.
    client
        .put_lifecycle_policy()
        .repository_name("lab/web")
        .lifecycle_policy_text(r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}"#)
        .send()
        .await
        .expect("lifecycle");
    let reg = Registry::start().await;
    let out = reg
        .awslab(
            region,
            &[
                "push",
                &arg(&site()),
                "--repository",
                "lab/web",
                "--tag",
                "v1",
            ],
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = image::load(&site(), None).expect("image");
    reg.pull_same("lab/web", "v1", &local).await;
    let (code, report) = common::check_in(home.path(), region, &env, "ecr-push");
    client
        .delete_repository()
        .repository_name("lab/web")
        .force(true)
        .send()
        .await
        .expect("cleanup");
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(
        common::failed(&report),
        vec!["web-repo.lifecycle", "web-repo.tag_mutability"],
        "{report:#}"
    );
    let lifecycle = common::results(&report)
        .into_iter()
        .find(|(id, _, _, _)| id == "web-repo.lifecycle")
        .expect("lifecycle");
    assert!(
        lifecycle.2.contains("found keep last 10 tagged v*"),
        "{lifecycle:?}"
    );
}

/// The test registry's nginx, named by its own address (no mirror).
fn nginx_at_upstream(repo_tag: &str) -> String {
    format!(
        "{}/{repo_tag}",
        upstream::upstream().url.trim_start_matches("http://")
    )
}

/// `push --base`: the folder's files go at `--dest` on top of a base pulled from a registry
/// that wants a token and sends its blobs from another host: the base's layers arrive byte
/// for byte, its command and port are kept, the token never leaves the registry, and a second
/// push reads every base layer from the cache.
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_goes_on_top_of_a_base_pulled_from_its_registry() {
    let reg = Registry::start().await;
    let repo = format!("t-base-{}", std::process::id());
    repository(&repo, false).await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("index.html"), "<h1>mine</h1>").expect("write");
    let base = nginx_at_upstream(upstream::NGINX);
    let home = tempfile::tempdir().expect("home");
    let push = |tag: &'static str| {
        let mut cmd = common::awslab_via(home.path(), &reg.proxy.url);
        cmd.env_remove("AWSLAB_REGISTRY_MIRROR").args([
            "--format",
            "json",
            "push",
            &arg(dir.path()),
            "--repository",
            &repo,
            "--tag",
            tag,
            "--base",
            &base,
            "--dest",
            "/usr/share/nginx/html/",
        ]);
        cmd
    };
    let first = pushed(&push("v1").output().await.expect("awslab"));
    let input = &first["input"];
    assert!(
        input["base"]
            .as_str()
            .is_some_and(|b| b.starts_with(&format!("{base}@sha256:"))),
        "{first:#}"
    );
    assert_eq!(input["dest"], "/usr/share/nginx/html", "{first:#}");
    assert_eq!(input["base_layers_cached"], 0, "{first:#}");
    let pulled = reg.pull(&repo, "v1").await;
    assert_on_nginx(&pulled, &base, &["usr/share/nginx/html/index.html"]);
    let log = upstream::upstream().log();
    assert!(log.contains(&"token aws".to_owned()), "{log:?}");
    assert!(
        !log.iter().any(|l| l.starts_with("leak ")),
        "the token was sent to the blob store: {log:?}"
    );
    // Again under another tag: the base comes from the cache, the image is the same.
    let second = pushed(&push("v2").output().await.expect("awslab"));
    assert_eq!(second["input"]["base_downloaded_bytes"], 0, "{second:#}");
    assert_eq!(
        second["input"]["base_layers_cached"],
        upstream::nginx_layers().len(),
        "{second:#}"
    );
    assert_eq!(second["digest"], first["digest"]);
    assert_eq!(uploaded(&second), 0, "{second:#}");
    remove(&repo).await;
}

/// A base that cannot be had stops the push before anything is uploaded, and says why: no
/// linux/amd64 image (the platforms it has are listed), a tag the registry does not have, a
/// layer whose bytes are not its digest's, a registry nobody answers on; and bad arguments.
#[tokio::test(flavor = "multi_thread")]
async fn a_base_that_cannot_be_had_pushes_nothing_and_says_why() {
    let reg = Registry::start().await;
    let repo = format!("t-nobase-{}", std::process::id());
    repository(&repo, false).await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("index.html"), "x").expect("write");
    let cases: [(String, &str, i32, &[&str]); 4] = [
        (
            nginx_at_upstream("only/arm:v1"),
            "/",
            2,
            &["no linux/amd64 image", "linux/arm64/v8"],
        ),
        (
            nginx_at_upstream("docker/library/nginx:9.9"),
            "/",
            2,
            &[
                "HTTP 404",
                "MANIFEST_UNKNOWN",
                "check the repository and the tag",
            ],
        ),
        (
            nginx_at_upstream("bad/layer:v1"),
            "/",
            1,
            &["layer 1 of 1 does not match its digest"],
        ),
        (
            "127.0.0.1:1/app:v1".to_owned(),
            "/",
            3,
            &["pulling 127.0.0.1:1/app:v1: http://127.0.0.1:1/v2/app/manifests/v1"],
        ),
    ];
    for (base, dest, code, says) in cases {
        let home = tempfile::tempdir().expect("home");
        let out = common::awslab_via(home.path(), &reg.proxy.url)
            .env_remove("AWSLAB_REGISTRY_MIRROR")
            .args([
                "push",
                &arg(dir.path()),
                "--repository",
                &repo,
                "--tag",
                "v1",
            ])
            .args(["--base", &base, "--dest", dest])
            .output()
            .await
            .expect("awslab");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{base}: {err}");
        for s in says {
            assert!(err.contains(s), "{base}: no {s:?} in {err}");
        }
    }
    assert_eq!(images(&repo).await, Vec::<(String, String)>::new());
    // Arguments: a destination that climbs out, one without a base, a base for a file.
    let base = nginx_at_upstream(upstream::NGINX);
    let home = tempfile::tempdir().expect("home");
    for (args, says) in [
        (
            vec![
                arg(dir.path()),
                "--base".into(),
                base.clone(),
                "--dest".into(),
                "/usr/../etc".into(),
            ],
            "--dest",
        ),
        (
            vec![arg(dir.path()), "--dest".into(), "/srv".into()],
            "--base",
        ),
        (
            vec![
                arg(&dir.path().join("index.html")),
                "--base".into(),
                base.clone(),
            ],
            "--base packs a directory",
        ),
    ] {
        let out = common::awslab(home.path())
            .arg("push")
            .args(&args)
            .args(["--repository", &repo, "--tag", "v1"])
            .output()
            .expect("awslab");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: no {says:?} in {err}");
    }
    remove(&repo).await;
}

/// A registry under load (503 on the manifest, then 429 with `Retry-After`, a 502 and a body
/// cut off halfway on a layer) is asked again, after the wait it asks for, and the push goes
/// through.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_that_refuses_for_a_while_is_asked_again() {
    let reg = Registry::start().await;
    let repo = format!("t-flaky-{}", std::process::id());
    repository(&repo, false).await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("index.html"), "x").expect("write");
    let home = tempfile::tempdir().expect("home");
    let started = std::time::Instant::now();
    let out = common::awslab_via(home.path(), &reg.proxy.url)
        .env_remove("AWSLAB_REGISTRY_MIRROR")
        .args([
            "--format",
            "json",
            "push",
            &arg(dir.path()),
            "--repository",
            &repo,
        ])
        .args(["--tag", "v1", "--base", &nginx_at_upstream("flaky/app:v1")])
        .output()
        .await
        .expect("awslab");
    let v = pushed(&out);
    assert!(
        v["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{v:#}"
    );
    let refused: Vec<String> = upstream::upstream()
        .log()
        .into_iter()
        .filter(|l| l.starts_with("refused ") && l.contains("flaky/app"))
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    let cut = upstream::upstream()
        .log()
        .into_iter()
        .filter(|l| l.starts_with("cut "))
        .count();
    assert_eq!(
        cut, 1,
        "the layer was cut off once, and fetched whole again"
    );
    assert!(
        upstream::upstream()
            .log()
            .contains(&"token repository:flaky/app:pull".to_owned()),
        "Docker Hub's challenge names the repository's scope"
    );
    // The 429's `Retry-After: 1` was waited out.
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let pulled = reg.pull(&repo, "v1").await;
    let names: Vec<String> = pulled.files().into_iter().map(|(p, _)| p).collect();
    assert_eq!(names, ["etc/flaky", "index.html"]);
    remove(&repo).await;
}

/// `up` of the ECR lab where the base cannot be pulled: the image fails with the registry's
/// error, the call and the way out (a mirror), the repository stays for the next `up`, and
/// `down` removes it.
#[tokio::test(flavor = "multi_thread")]
async fn an_up_whose_base_cannot_be_pulled_says_so_and_resumes() {
    let region = "mx-central-1";
    let env = common::env_name("ecr-offline");
    let home = tempfile::tempdir().expect("home");
    let up = common::awslab(home.path())
        .env("AWS_REGION", region)
        .env("AWSLAB_REGISTRY_MIRROR", "http://127.0.0.1:1")
        .args(["--env", &env, "up", "ecr-push", "--yes"])
        .output()
        .expect("awslab");
    let err = String::from_utf8_lossy(&up.stderr);
    assert_eq!(up.status.code(), Some(1), "{err}");
    for says in [
        "registry:pull on public.ecr.aws/docker/library/nginx:1.27-alpine",
        "RegistryUnreachable",
        "point AWSLAB_REGISTRY_MIRROR at a registry that holds it",
        "1 resource(s) could not be created",
    ] {
        assert!(err.contains(says), "no {says:?} in {err}");
    }
    assert!(
        repo_exists(region, "lab/web").await,
        "the repository is kept"
    );
    // With the registry back, the next `up` makes only the image.
    let again = common::json(&lab_cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "up", "ecr-push", "--yes"],
    ));
    let made: Vec<(&str, &str)> = again["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] != "keep")
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default(),
                r["action"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(made, [("web-v1", "create")], "{again:#}");
    let down = lab_cmd(home.path(), region, &env, &["down", "ecr-push", "--yes"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(
        !repo_exists(region, "lab/web").await,
        "the repository is left"
    );
}
