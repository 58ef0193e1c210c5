//! `awslab diagram`: the lab's network as declared, as SVG (parsed here, and rendered to PNG by
//! headless Chromium, found or installed by `scripts/browser`), Mermaid or JSON. No emulator.

mod browser;

use std::path::PathBuf;

use browser::{browser, chromium};
use predicates::prelude::*;
use serde_json::Value;

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
