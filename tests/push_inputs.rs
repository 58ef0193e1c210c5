//! `awslab push` inputs refused before any call: the endpoint below accepts no connection, so a
//! call would exit 3; each case exits 2, names the offending path and what it is, and with
//! `--format json` also writes the error as JSON to stdout.

use std::path::Path;

use serde_json::Value;

const UNREACHABLE: &str = "http://127.0.0.1:9";

/// `awslab --format json push IMAGE --repository lab/web --tag TAG`: exit code, stderr (one
/// line per diagnostic line, temporary paths as `[TMP]`) and the JSON on stdout.
fn push(image: &str, tag: &str, tmp: &Path) -> (Option<i32>, String, Value) {
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args([
            "--endpoint-url",
            UNREACHABLE,
            "--color",
            "never",
            "--format",
            "json",
            "push",
            image,
            "--repository",
            "lab/web",
            "--tag",
            tag,
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr)
        .replace(&tmp.display().to_string(), "[TMP]")
        .replace(
            &std::fs::canonicalize(tmp)
                .unwrap_or_default()
                .display()
                .to_string(),
            "[TMP]",
        );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code(), stderr, json)
}

/// The error's message as JSON carries it (one line, unlike the wrapped rendering).
fn message(json: &Value) -> String {
    json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn tags_and_repository_names_are_checked_before_anything() {
    let tmp = tempfile::tempdir().expect("dir");
    let site = tmp.path().join("site");
    std::fs::create_dir(&site).expect("dir");
    std::fs::write(site.join("index.html"), b"hi").expect("write");
    for tag in ["", "bad tag!", ".hidden", &"x".repeat(129)] {
        let (code, _, json) = push(&site.display().to_string(), tag, tmp.path());
        assert_eq!(code, Some(2), "{tag:?}");
        assert_eq!(json["exit_code"], 2, "{json}");
        assert_eq!(json["schema_version"], 1, "{json}");
        assert_eq!(json["ok"], false, "{json}");
        assert_eq!(json["error"]["code"], "awslab::usage", "{json}");
        assert!(
            message(&json).starts_with(&format!("--tag: {tag:?} is not an image tag")),
            "{json}"
        );
    }
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args(["--endpoint-url", UNREACHABLE, "push"])
        .arg(&site)
        .args(["--repository", "Lab/Web", "--tag", "v1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--repository: \"Lab/Web\" is not an ECR repository name"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(unix)]
#[test]
fn links_out_dangling_links_and_special_files_are_named() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().expect("dir");
    let secret = tmp.path().join("home/.ssh");
    std::fs::create_dir_all(&secret).expect("dir");
    std::fs::write(secret.join("id_ed25519"), b"PRIVATE").expect("write");
    let dir = tmp.path().join("app");
    std::fs::create_dir_all(dir.join("conf")).expect("dir");
    std::fs::write(dir.join("index.html"), b"hi").expect("write");
    symlink(&secret, dir.join("conf/keys")).expect("link");
    symlink("gone.txt", dir.join("old.txt")).expect("link");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let (code, stderr, json) = push(&dir.display().to_string(), "v1", tmp.path());
    assert_eq!(code, Some(2), "{stderr}");
    let msg = message(&json);
    let tmp_shown = tmp.path().display().to_string();
    for want in [
        format!("`conf/keys` is a symbolic link to {tmp_shown}/home/.ssh, outside the folder"),
        "`old.txt` is a symbolic link to gone.txt, which does not exist".to_owned(),
        "`pipe` is a FIFO (named pipe)".to_owned(),
    ] {
        assert!(msg.contains(&want), "{want}: {msg}");
    }
    assert_eq!(json["error"]["code"], "awslab::image::folder", "{json}");
    assert!(
        stderr.contains("links inside the folder are followed"),
        "{stderr}"
    );

    // A folder holding only a link out is not "an empty directory".
    let only = tmp.path().join("only");
    std::fs::create_dir(&only).expect("dir");
    symlink(&secret, only.join("data")).expect("link");
    let (code, _, json) = push(&only.display().to_string(), "v1", tmp.path());
    assert_eq!(code, Some(2));
    assert!(
        message(&json).contains("`data` is a symbolic link to"),
        "{json}"
    );
}

#[test]
fn inputs_are_called_what_they_are() {
    let tmp = tempfile::tempdir().expect("dir");
    let text = tmp.path().join("Dockerfile");
    std::fs::write(&text, "FROM nginx\nCOPY . /usr/share/nginx/html\n").expect("write");
    let (code, _, json) = push(&text.display().to_string(), "v1", tmp.path());
    assert_eq!(code, Some(2));
    assert_eq!(
        message(&json),
        format!(
            "{} is not an image: it is a text file, not a tar archive or a directory",
            text.display()
        )
    );
    assert_eq!(json["error"]["code"], "awslab::image::not_an_image");
    assert!(
        json["error"]["help"]
            .as_str()
            .unwrap_or_default()
            .contains("`docker save` archive"),
        "{json}"
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");
    let (code, _, json) = push(&empty.display().to_string(), "v1", tmp.path());
    assert_eq!(code, Some(2));
    assert!(
        message(&json).ends_with("is not an image: it is an empty directory"),
        "{json}"
    );
}

/// A digest is checked before it becomes a path: a layout naming `sha256:../../dev/zero` is
/// refused at once instead of reading the device forever.
#[test]
fn a_digest_that_is_a_path_is_refused_at_once() {
    let tmp = tempfile::tempdir().expect("dir");
    let layout = tmp.path().join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("dir");
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("write");
    std::fs::write(
        layout.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../../../../dev/zero","size":1048576}]}"#,
    )
    .expect("write");
    let started = std::time::Instant::now();
    let (code, _, json) = push(&layout.display().to_string(), "v1", tmp.path());
    assert_eq!(code, Some(2));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(json["error"]["code"], "awslab::image::bad_digest", "{json}");
    assert!(
        message(&json).ends_with("index.json entry 1 has the digest \"sha256:../../../../../../dev/zero\", which is not `sha256:` and 64 hex digits"),
        "{json}"
    );
}

#[test]
fn push_help_shows_the_inputs_and_examples() {
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args(["push", "--help"])
        .env("COLUMNS", "100")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("push_help", String::from_utf8_lossy(&out.stdout));
}
