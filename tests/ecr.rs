//! `awslab push` against the emulators' ECR API: every input form, re-push, resume, an
//! immutable tag, bad inputs; and, where the emulator serves the registry `/v2/` API, the
//! manifest pulled back by digest. Each test has its own repositories.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use awslab::image;
use serde_json::Value;

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

fn push(image: &Path, repo: &str, tag: &str) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    common::awslab(home.path())
        .args(["--format", "json", "push"])
        .arg(image)
        .args(["--repository", repo, "--tag", tag])
        .output()
        .expect("push")
}

fn pushed(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::json(out)
}

/// MiniStack 1.5.33 answers every `BatchCheckLayerAvailability` with UNAVAILABLE (even for a
/// layer it holds), so there a push uploads everything again: the skipping is asserted on moto.
fn reports_layers() -> bool {
    common::emulator() != "ministack"
}

fn site() -> std::path::PathBuf {
    common::root().join("labs/assets/hello-web")
}

fn tar_of(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).expect("tar");
    b.into_inner().expect("tar")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_input_form_pushes_and_a_repush_uploads_nothing() {
    let repo = format!("t-push-{}", std::process::id());
    repository(&repo, false).await;
    let local = image::load(&site()).expect("image");

    // A directory, packed.
    let first = pushed(&push(&site(), &repo, "v1"));
    assert_eq!(
        first["uploaded"].as_array().map(Vec::len),
        Some(2),
        "{first}"
    );
    assert_eq!(first["unchanged"], false);
    // Again: nothing uploaded.
    let again = pushed(&push(&site(), &repo, "v1"));
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(again["uploaded"].as_array().map(Vec::len), Some(0));

    // An OCI layout directory, and the same as a tar: the blobs are there, only the tag is new.
    let layout = tempfile::tempdir().expect("dir");
    image::write_oci_layout(&local, layout.path()).expect("layout");
    let v2 = pushed(&push(layout.path(), &repo, "v2"));
    if reports_layers() {
        assert_eq!(v2["uploaded"].as_array().map(Vec::len), Some(0), "{v2}");
    }
    // (moto reports its own digest for a pushed manifest; MiniStack's registry is checked
    // below by pulling the manifest back.)
    let archive = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(archive.path(), tar_of(layout.path())).expect("write");
    pushed(&push(archive.path(), &repo, "v3"));

    // A classic `docker save` archive (uncompressed layer, checked against the diff id).
    let layer = tar_of(&site());
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [image::sha256(&layer)]}}).to_string();
    let saved = tempfile::tempdir().expect("dir");
    std::fs::create_dir(saved.path().join("l1")).expect("dir");
    std::fs::write(saved.path().join("l1/layer.tar"), &layer).expect("write");
    std::fs::write(saved.path().join("config.json"), &config).expect("write");
    std::fs::write(
        saved.path().join("manifest.json"),
        serde_json::json!([{"Config": "config.json", "RepoTags": ["web:v4"], "Layers": ["l1/layer.tar"]}]).to_string(),
    )
    .expect("write");
    let docker = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(docker.path(), tar_of(saved.path())).expect("write");
    let v4 = pushed(&push(docker.path(), &repo, "v4"));
    assert_eq!(v4["uploaded"].as_array().map(Vec::len), Some(2), "{v4}");

    let tags: Vec<String> = images(&repo).await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(tags, vec!["v1", "v2", "v3", "v4"]);

    // Where the emulator serves the registry API, the manifest comes back with its digest.
    if common::emulator() == "ministack" {
        let body = registry_get(&format!("/v2/{repo}/manifests/v1"));
        assert_eq!(image::sha256(&body), local.digest());
    }
    remove(&repo).await;
}

/// GET on the emulator's registry API; the body.
fn registry_get(path: &str) -> Vec<u8> {
    let endpoint = common::endpoint();
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {}\r\nConnection: close\r\n\r\n",
        image::OCI_MANIFEST
    )
    .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..split]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    raw[split + 4..].to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_push_resumes_by_skipping_what_arrived() {
    let repo = format!("t-resume-{}", std::process::id());
    repository(&repo, false).await;
    let local = image::load(&site()).expect("image");
    // The layer arrived before the interruption; the config and the manifest did not.
    let client = ecr().await;
    let layer = &local.layers[0];
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
        .part_last_byte(layer.data.len() as i64 - 1)
        .layer_part_blob(aws_sdk_ecr::primitives::Blob::new(layer.data.clone()))
        .send()
        .await
        .expect("part");
    client
        .complete_layer_upload()
        .repository_name(&repo)
        .upload_id(&id)
        .layer_digests(&layer.digest)
        .send()
        .await
        .expect("complete");
    let resumed = pushed(&push(&site(), &repo, "v1"));
    if reports_layers() {
        assert_eq!(
            resumed["skipped"],
            serde_json::json!([layer.digest]),
            "{resumed}"
        );
        assert_eq!(
            resumed["uploaded"],
            serde_json::json!([local.config.digest])
        );
    }
    assert_eq!(images(&repo).await.len(), 1);
    remove(&repo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_tag_and_bad_inputs_are_refused_and_change_nothing() {
    let repo = format!("t-imm-{}", std::process::id());
    repository(&repo, true).await;
    pushed(&push(&site(), &repo, "v1"));
    let before = images(&repo).await;

    // Another image under the same tag.
    let other = tempfile::tempdir().expect("dir");
    std::fs::write(other.path().join("index.html"), b"<h1>v2</h1>").expect("write");
    let out = push(other.path(), &repo, "v1");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tag v1 already names") && err.contains("IMMUTABLE"),
        "{err}"
    );

    // A tampered OCI layout: refused before any call (exit 2), naming the blob.
    let local = image::load(&site()).expect("image");
    let layout = tempfile::tempdir().expect("dir");
    image::write_oci_layout(&local, layout.path()).expect("layout");
    let hex = local.config.digest.trim_start_matches("sha256:");
    std::fs::write(layout.path().join("blobs/sha256").join(hex), b"{}").expect("tamper");
    let out = push(layout.path(), &repo, "v9");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "the config (blobs/sha256/{hex}) does not match its digest"
        )),
        "{err}"
    );
    // A missing file, and a truncated archive.
    let out = push(Path::new("/no/such/image.tar"), &repo, "v9");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/image.tar"));
    let bytes = tar_of(layout.path());
    let cut = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(cut.path(), &bytes[..bytes.len() / 2]).expect("write");
    let out = push(cut.path(), &repo, "v9");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt or truncated"));

    assert_eq!(images(&repo).await, before, "the repository is as it was");
    remove(&repo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_larger_than_a_part_goes_up_in_parts() {
    let repo = format!("t-parts-{}", std::process::id());
    repository(&repo, false).await;
    // 12 MiB that gzip cannot shrink: more than one 5-10 MiB part.
    let dir = tempfile::tempdir().expect("dir");
    let mut rng = fastrand::Rng::with_seed(7);
    let data: Vec<u8> = (0..12 * 1024 * 1024).map(|_| rng.u8(..)).collect();
    std::fs::write(dir.path().join("blob.bin"), &data).expect("write");
    let out = pushed(&push(dir.path(), &repo, "big"));
    assert!(
        out["bytes_uploaded"].as_u64().unwrap_or(0) > 12 * 1024 * 1024,
        "{out}"
    );
    assert_eq!(images(&repo).await.len(), 1);
    if common::emulator() == "ministack" {
        // The registry serves it back whole.
        let local = image::load(dir.path()).expect("image");
        let body = registry_get(&format!("/v2/{repo}/manifests/big"));
        assert_eq!(image::sha256(&body), local.digest());
    }
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
    let up = lab_cmd(home.path(), region, &env, &["up", "ecr-push", "--yes"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
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
    let out = lab_cmd(
        home.path(),
        region,
        &env,
        &[
            "push",
            &site().display().to_string(),
            "--repository",
            "lab/web",
            "--tag",
            "v1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
