//! `awslab diagram`: the lab's network as declared, as SVG (parsed here, and rendered to PNG by
//! headless Chromium, found or installed by `scripts/browser`), Mermaid or JSON. No emulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn awslab() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("awslab").expect("bin");
    cmd.args(["--color", "never"]);
    cmd
}

fn stdout(args: &[&str]) -> String {
    let out = awslab().args(args).assert().code(0);
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

/// The texts of an SVG document, read by an XML parser (it must parse).
fn svg_texts(doc: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut texts = Vec::new();
    let mut in_text = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) => in_text = e.name().as_ref() == b"text",
            quick_xml::events::Event::End(_) => in_text = false,
            quick_xml::events::Event::Text(t) if in_text => {
                texts.push(t.decode().expect("text").into_owned());
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    texts
}

#[test]
fn every_bundled_lab_draws_as_svg_mermaid_and_json_naming_every_resource() {
    for id in [
        "vpc-public-private",
        "efs-shared-storage",
        "alb-asg-web",
        "s3-static-website",
        "ecr-push",
    ] {
        let shown: Value =
            serde_json::from_str(&stdout(&["--format", "json", "show", id])).expect("show JSON");
        let names: Vec<&str> = shown["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(!names.is_empty(), "{id}");
        let svg = stdout(&["diagram", id]);
        let texts = svg_texts(&svg);
        let mermaid = stdout(&["--format", "mermaid", "diagram", id]);
        assert!(mermaid.starts_with("flowchart TB\n"), "{id}");
        let model: Value =
            serde_json::from_str(&stdout(&["--format", "json", "diagram", id])).expect("JSON");
        assert_eq!(model["schema_version"], 1);
        assert_eq!(model["lab"], id);
        for name in names {
            assert!(
                texts
                    .iter()
                    .any(|t| t == name || t.split_whitespace().any(|w| w == name)),
                "{id}: {name} not in the SVG"
            );
            assert!(
                mermaid.contains(&format!(" {name}")),
                "{id}: {name} not in Mermaid"
            );
            assert!(
                model.to_string().contains(&format!("\"{name}\"")),
                "{id}: {name}"
            );
        }
    }
}

#[test]
fn output_goes_to_a_file_in_the_format_its_extension_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, starts) in [
        ("net.svg", "<svg "),
        ("net.mmd", "flowchart TB"),
        ("net.json", "{"),
    ] {
        let path = dir.path().join(file);
        awslab()
            .args(["diagram", "vpc-public-private", "-o"])
            .arg(&path)
            .assert()
            .code(0)
            .stdout("")
            .stderr(predicate::str::contains("diagram written to"));
        let text = std::fs::read_to_string(&path).expect("written");
        assert!(text.starts_with(starts), "{file}: {text:.40}");
    }
    awslab()
        .args(["diagram", "vpc-public-private", "-o"])
        .arg(dir.path().join("net.png"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot draw a `.png` file"));
    awslab()
        .args(["--format", "mermaid", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--format mermaid is for `diagram` only",
        ));
    awslab().args(["diagram", "no-such-lab"]).assert().code(2);
}

/// The browser `scripts/browser` prints, installing it first if need be; a machine where it
/// cannot be had fails the test with the script's reason.
fn browser() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("scripts/browser"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/browser");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && !path.is_empty(),
        "scripts/browser found no Chromium and could not install one (its reason is above)"
    );
    PathBuf::from(path)
}

/// Runs Chromium headless on `url` with `args`, killing it after a minute.
fn chromium(browser: &Path, profile: &Path, args: &[&str], url: &str) -> Output {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    while child.try_wait().expect("wait for chromium").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[expect(
    clippy::print_stdout,
    reason = "says where the picture is, to look at it"
)]
fn chromium_renders_the_vpc_lab_diagram_to_png() {
    let browser = browser();
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("vpc.svg");
    awslab()
        .args(["diagram", "vpc-public-private", "-o"])
        .arg(&svg)
        .assert()
        .code(0);
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vpc-diagram.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &browser,
        &dir.path().join("profile"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=720,680",
        ],
        &format!("file://{}", svg.display()),
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 20_000, "screenshot is {} bytes", png.len());
    println!("picture: {}", shot.display());
}
