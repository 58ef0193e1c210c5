//! `awslab diagram`: the lab's network as declared, as SVG (parsed here, and rendered to PNG by
//! headless Chromium, found or installed by `scripts/browser`), Mermaid or JSON; and
//! `check --diagram`: the network as `check` found it on the emulator, drawn from a student's
//! hand-built VPC with its mistakes.

mod browser;
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_ec2::types::Filter;
use common::student::{self, Variant};

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

/// An SVG element: its name, attributes and the text directly inside it.
type Element = (String, BTreeMap<String, String>, String);

/// The SVG's elements in document order, read by an XML parser (it must parse).
fn svg_elements(doc: &str) -> Vec<Element> {
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut out: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            String::from_utf8_lossy(&a.value).into_owned(),
                        )
                    })
                    .collect();
                out.push((
                    String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    attrs,
                    String::new(),
                ));
            }
            quick_xml::events::Event::Text(t) => {
                if let Some(last) = out.last_mut() {
                    last.2.push_str(&t.decode().expect("text"));
                }
            }
            // `&gt;` and the like, between the text around them.
            quick_xml::events::Event::GeneralRef(r) => {
                let name = r.decode().expect("entity");
                let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                    .unwrap_or_else(|| panic!("unknown entity &{name};"));
                if let Some(last) = out.last_mut() {
                    last.2.push_str(resolved);
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The resource box drawn for `name`: the `g` element's attributes and its elements after it
/// (its rectangle and texts).
fn resource<'a>(els: &'a [Element], name: &str) -> (&'a BTreeMap<String, String>, &'a [Element]) {
    let at = els
        .iter()
        .position(|(n, a, _)| {
            n == "g"
                && a.get("class").is_some_and(|c| c == "resource")
                && a.get("data-name").is_some_and(|d| d == name)
        })
        .unwrap_or_else(|| panic!("no box for {name}"));
    let end = els[at + 1..]
        .iter()
        .position(|(n, _, _)| n == "g")
        .map_or(els.len(), |e| at + 1 + e);
    (&els[at].1, &els[at + 1..end])
}

/// Subnet ids and zones by `Name`.
type Subnets = BTreeMap<String, (String, String)>;

/// What the student's VPC holds: its subnets (id and zone), instances (id) by `Name`, and the id
/// of private-nacl.
async fn ids_in(region: &str, vpc: &str) -> (Subnets, BTreeMap<String, String>, String) {
    let ec2 = common::ec2_in(region).await;
    let in_vpc = || Filter::builder().name("vpc-id").values(vpc).build();
    let name = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter()
            .find(|t| t.key() == Some("Name"))
            .and_then(|t| t.value())
            .unwrap_or_default()
            .to_owned()
    };
    let subnets = ec2
        .describe_subnets()
        .filters(in_vpc())
        .send()
        .await
        .expect("subnets")
        .subnets()
        .iter()
        .map(|s| {
            (
                name(s.tags()),
                (
                    s.subnet_id().unwrap_or_default().to_owned(),
                    s.availability_zone().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect();
    let instances = ec2
        .describe_instances()
        .filters(in_vpc())
        .send()
        .await
        .expect("instances")
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            (
                name(i.tags()),
                i.instance_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let acl = ec2
        .describe_network_acls()
        .filters(in_vpc())
        .send()
        .await
        .expect("acls")
        .network_acls()
        .iter()
        .find(|a| name(a.tags()) == "private-nacl")
        .and_then(|a| a.network_acl_id())
        .expect("private-nacl")
        .to_owned();
    (subnets, instances, acl)
}

/// A student's VPC built by hand with three mistakes: private-nacl denies SSH in rule 50 (so
/// the bastion cannot reach the app server), the private route table sends 0.0.0.0/0 to the
/// internet gateway (so the private subnets are public), and no key pair. `check --diagram`
/// draws what it found: the real ids, the private subnets as public, the key pair as missing,
/// and the NACL that blocks the path outlined red with the check's id.
#[tokio::test(flavor = "multi_thread")]
async fn check_draws_what_it_found_with_the_blocking_nacl_in_red() {
    let region = "eu-south-1";
    student::clear(region).await;
    let vpc = student::build(region, Variant::NaclDenyBeforeAllow).await;
    let ec2 = common::ec2_in(region).await;
    let tables = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .expect("route tables");
    let private_rt = tables
        .route_tables()
        .iter()
        .find(|t| t.routes().iter().any(|r| r.nat_gateway_id().is_some()))
        .and_then(|t| t.route_table_id())
        .expect("the private route table")
        .to_owned();
    let igw = ec2
        .describe_internet_gateways()
        .filters(
            Filter::builder()
                .name("attachment.vpc-id")
                .values(&vpc)
                .build(),
        )
        .send()
        .await
        .expect("igw")
        .internet_gateways()
        .first()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw id")
        .to_owned();
    ec2.replace_route()
        .route_table_id(&private_rt)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .expect("route the private table to the gateway");
    ec2.delete_key_pair()
        .key_name("lab-key")
        .send()
        .await
        .expect("delete the key pair");
    let (subnets, instances, acl) = ids_in(region, &vpc).await;

    let home = tempfile::tempdir().expect("home");
    let drawn = home.path().join("found.svg");
    let out = common::awslab(home.path())
        .args([
            "--format",
            "json",
            "--region",
            region,
            "--env",
            "student",
            "check",
            "vpc-public-private",
            "--diagram",
        ])
        .arg(&drawn)
        .output()
        .expect("check");
    student::delete_vpc_tree(region, &vpc).await;
    student::clear(region).await;

    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let ssh = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "ssh-bastion-to-app")
        .expect("ssh-bastion-to-app");
    assert_eq!(ssh["status"], "fail", "{ssh}");
    assert_eq!(ssh["blocked"]["kind"], "network_acl", "{ssh}");
    assert_eq!(ssh["blocked"]["ids"], serde_json::json!([acl]), "{ssh}");
    assert_eq!(
        ssh["blocked"]["names"],
        serde_json::json!(["private-nacl"]),
        "{ssh}"
    );

    let doc = std::fs::read_to_string(&drawn).expect("check --diagram wrote the SVG");
    // Kept to look at.
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("found-diagram.svg"),
        &doc,
    )
    .expect("keep the picture");
    assert!(
        !doc.contains("<script") && !doc.contains("href"),
        "self-contained"
    );
    let els = svg_elements(&doc);
    let texts: Vec<&str> = els
        .iter()
        .filter(|(n, _, _)| n == "text")
        .map(|(_, _, t)| t.trim())
        .collect();
    // (a) What was found, by its real id: the VPC, every subnet (the private ones public by the
    // route found), every instance, the NACL.
    assert!(
        texts.contains(&format!("VPC lab-vpc 10.0.0.0/16 {vpc}").as_str()),
        "{texts:#?}"
    );
    for (name, cidr, public) in [
        ("public-a", "10.0.1.0/24", true),
        ("public-b", "10.0.2.0/24", true),
        ("private-a", "10.0.11.0/24", true),
        ("private-b", "10.0.12.0/24", true),
    ] {
        let how = if public { "public" } else { "private" };
        let (id, az) = &subnets[name];
        let title = format!("{how} subnet {name} {cidr} {id}");
        assert!(texts.contains(&title.as_str()), "{title} not in {texts:#?}");
        // In the column of the zone it is really in.
        let zone = els
            .iter()
            .filter(|(n, _, t)| n == "text" && t.starts_with("availability zone "))
            .find(|(_, _, t)| t.trim().ends_with(&format!("({az})")))
            .unwrap_or_else(|| panic!("no column for {az}"));
        assert!(zone.2.starts_with("availability zone "), "{zone:?}");
    }
    for name in ["bastion", "app"] {
        let (attrs, inside) = resource(&els, name);
        assert_eq!(attrs.get("data-id"), Some(&instances[name]), "{name}");
        assert!(
            inside
                .iter()
                .any(|(_, _, t)| *t == format!("instance {}", instances[name])),
            "{name}: {inside:?}"
        );
    }
    // (b) Declared and not found: drawn, dashed, and said so.
    let (attrs, inside) = resource(&els, "lab-key");
    assert_eq!(attrs.get("data-missing").map(String::as_str), Some("true"));
    assert_eq!(inside[0].1["class"], "leaf missing");
    assert!(
        inside
            .iter()
            .any(|(_, _, t)| t.trim() == "key pair: not found"),
        "{inside:?}"
    );
    // (c) The NACL the failing path stops at: outlined red, with the check's id.
    let (attrs, inside) = resource(&els, "private-nacl");
    assert_eq!(attrs.get("data-id"), Some(&acl));
    assert!(
        attrs
            .get("data-blocks")
            .is_some_and(|b| b.split(' ').any(|c| c == "ssh-bastion-to-app")),
        "{attrs:?}"
    );
    assert_eq!(inside[0].1["class"], "leaf blocking");
    assert!(
        inside.iter().any(|(n, a, t)| n == "text"
            && a["class"] == "blocks"
            && t.trim() == "✗ blocks ssh-bastion-to-app"),
        "{inside:?}"
    );
    assert!(doc.contains(".blocking { fill: #fef2f2; stroke: #dc2626;"));
    // The app server's way out stops at the private route table, which sends it straight to
    // the gateway; nothing else is outlined as blocking. MiniStack loses NACL port ranges
    // (localstack/README.md): rule 50 then denies all TCP into private-a, the HTTPS replies
    // included, so the app server's way out stops at private-nacl first.
    let expected: &[(&str, &str)] = if common::emulator() == "ministack" {
        &[("private-nacl", "ssh-bastion-to-app app-egress-https")]
    } else {
        &[
            ("private-nacl", "ssh-bastion-to-app"),
            ("private-rt", "app-egress-https"),
        ]
    };
    let blocking: Vec<(&str, &str)> = els
        .iter()
        .filter_map(|(_, a, _)| {
            let blocks = a.get("data-blocks")?;
            Some((a["data-name"].as_str(), blocks.as_str()))
        })
        .collect();
    assert_eq!(blocking, expected);

    // The picture's words, ids filtered, as a student reads them.
    let mut words: Vec<&str> = texts.clone();
    words.sort_unstable();
    insta::with_settings!({
        snapshot_suffix => common::emulator(),
        filters => vec![
            (r"\b(vpc|subnet|igw|rtb|acl|sg|i|nat|eipalloc|eni)-[0-9a-f]{8,17}\b", "[$1-ID]"),
            (r"\b[a-z]{2}-[a-z]+-\d[a-z]\b", "[AZ]"),
            // Addresses the emulator hands out; the lab's CIDRs stay.
            (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}([^/\d]|$)", "[IP]$1"),
        ],
    }, {
        insta::assert_snapshot!("check_diagram_texts", words.join("\n"));
    });
}
