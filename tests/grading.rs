//! Grading hand-built networks: the VPC lab built with raw SDK calls, right and with each mistake
//! the course notes warn about, and the verdict `check` must give each one. Every variant lives
//! in its own region (its VPC named `lab-vpc` is the only one there), so they run in parallel.

mod common;

use common::student::{self, Variant};
use serde_json::Value;

/// One row of the table: what the student built, and which checks must fail with what message.
/// Every other check must pass.
struct Case {
    variant: Variant,
    region: &'static str,
    must_fail: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        variant: Variant::Correct,
        region: "eu-west-1",
        must_fail: &[],
    },
    Case {
        variant: Variant::PrivateRouteToIgw,
        region: "eu-west-2",
        must_fail: &[
            ("private-rt.routes", "0.0.0.0/0 -> lab-igw"),
            (
                "private-subnets",
                "sends 0.0.0.0/0 to internet gateway lab-igw",
            ),
            ("private-egress", "not to a NAT gateway"),
            (
                "app-egress-https",
                "app has no public IP address, and route table private-rt",
            ),
        ],
    },
    Case {
        variant: Variant::NaclWithoutReplyPorts,
        region: "eu-west-3",
        must_fail: &[
            ("private-nacl.inbound", "100 allow tcp 22 10.0.0.0/16"),
            ("private-nacl.outbound", "100 allow tcp 443 0.0.0.0/0"),
            (
                "ssh-bastion-to-app",
                "the reply is blocked (NACLs are stateless): NACL private-nacl",
            ),
        ],
    },
    Case {
        variant: Variant::NaclDenyBeforeAllow,
        region: "eu-central-1",
        must_fail: &[
            ("private-nacl.inbound", "50 deny tcp 22 0.0.0.0/0"),
            (
                "ssh-bastion-to-app",
                "rule 50 denies TCP 22 inbound to private-a",
            ),
        ],
    },
    Case {
        variant: Variant::AppSgOpenToTheWorld,
        region: "us-west-1",
        must_fail: &[
            ("app-sg.ingress", "tcp 22 0.0.0.0/0"),
            (
                "ssh-to-app-only-from-bastion",
                "a host in public-b -> app gets through",
            ),
        ],
    },
    Case {
        variant: Variant::BastionInPrivateSubnet,
        region: "us-west-2",
        must_fail: &[
            ("bastion.subnet", "private-a"),
            (
                "ssh-to-bastion",
                "no route to an internet gateway in route table private-rt",
            ),
        ],
    },
    Case {
        variant: Variant::BastionWithInterface,
        region: "af-south-1",
        must_fail: &[],
    },
    Case {
        variant: Variant::NatInPrivateSubnet,
        region: "ap-southeast-1",
        must_fail: &[
            ("lab-nat.subnet", "private-a"),
            ("private-egress", "sits in private-a, which is not public"),
            (
                "app-egress-https",
                "NAT gateway lab-nat sits in private-a, which is not public",
            ),
        ],
    },
];

/// What MiniStack 1.5.33 cannot represent (localstack/README.md): NACL entry port ranges (so the
/// ephemeral-port reply rule reads as "all ports", and a NACL that allows only some ports cannot
/// show in reachability), NAT gateway addresses (so nothing egresses through a NAT) and an
/// instance's explicit network interface. These items are excused there, in both directions.
/// Subnet associations are there: the tests' shim in front of MiniStack keeps them
/// (`tests/common/ministack_shim.rs`).
fn emulator_gaps(variant: Variant) -> Vec<&'static str> {
    if common::emulator() != "ministack" {
        return Vec::new();
    }
    let mut gaps = vec![
        "private-nacl.inbound",
        "lab-nat.eip",
        "nat-eip",
        "private-egress",
        "app-egress-https",
    ];
    if variant == Variant::NaclWithoutReplyPorts {
        gaps.extend(["private-nacl.outbound", "ssh-bastion-to-app"]);
    }
    // MiniStack ignores `NetworkInterfaces` on RunInstances: the bastion lands in its default
    // subnet with the default group (the groups read from the interface are unit-tested).
    if variant == Variant::BastionWithInterface {
        gaps.extend([
            "bastion.subnet",
            "bastion.security_groups",
            "ssh-to-bastion",
            "ssh-bastion-to-app",
        ]);
    }
    gaps
}

/// Builds the variant, grades it, checks the verdict, and removes it.
async fn grade(variant: Variant) {
    let case = CASES
        .iter()
        .find(|c| c.variant == variant)
        .expect("a row for every variant");
    student::clear(case.region).await;
    let vpc = student::build(case.region, variant).await;
    let home = tempfile::tempdir().expect("home");
    let diagram = home.path().join("found.svg");
    let out = common::awslab(home.path())
        .args([
            "--format",
            "json",
            "--region",
            case.region,
            "--env",
            "student",
            "check",
            "vpc-public-private",
            "--diagram",
        ])
        .arg(&diagram)
        .output()
        .expect("check");
    student::delete_vpc_tree(case.region, &vpc).await;
    student::clear(case.region).await;

    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let checks = report["checks"].as_array().expect("checks");
    let gaps = emulator_gaps(variant);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut problems = Vec::new();
    for c in checks {
        let id = text(&c["id"]);
        let failed = c["status"] == "fail";
        let expected = case.must_fail.iter().find(|(m, _)| *m == id);
        if gaps.contains(&id.as_str()) {
            continue;
        }
        match (expected, failed) {
            (Some((_, fragment)), true) => {
                // The message (or the found value) must name the blocking rule or route, and a
                // failed check always says what was expected and gives a hint.
                let said = format!("{} | {}", text(&c["message"]), text(&c["found"]));
                if !said.contains(fragment) {
                    problems.push(format!("{id}: message lacks `{fragment}`: {said}"));
                }
                if c["expected"].is_null() || text(&c["hint"]).is_empty() {
                    problems.push(format!("{id}: no expected value or hint: {c}"));
                }
            }
            (Some(_), false) => {
                problems.push(format!("{id} must fail but passed: {}", c["message"]))
            }
            (None, true) => problems.push(format!("{id} must pass but failed: {}", c["message"])),
            (None, false) => {}
        }
    }
    for (id, _) in case.must_fail {
        if !gaps.contains(id) && !checks.iter().any(|c| c["id"] == *id) {
            problems.push(format!("{id} is not in the report"));
        }
    }
    // The diagram draws each reachability path as check found it: green passed, red failed.
    let svg = std::fs::read_to_string(&diagram).expect("check --diagram wrote the SVG");
    let mut paths = 0;
    for c in checks {
        let id = text(&c["id"]);
        let Some(at) = svg.find(&format!("data-check=\"{id}\"")) else {
            continue;
        };
        paths += 1;
        let group = &svg[svg[..at].rfind("<g class=\"").expect("its group")..at];
        let want = match c["status"].as_str() {
            Some("pass") => "path passed",
            Some("fail") => "path failed",
            _ => "path ",
        };
        if !group.starts_with(&format!("<g class=\"{want}")) {
            problems.push(format!("{id}: {} drawn as {group}", c["status"]));
        }
    }
    if paths != 5 {
        problems.push(format!("{paths} reachability paths drawn, not 5"));
    }
    assert!(problems.is_empty(), "{variant:?}: {problems:#?}");
    let must_fail_here = case
        .must_fail
        .iter()
        .filter(|(id, _)| !gaps.contains(id))
        .count();
    let expected_code = if must_fail_here == 0 && gaps.is_empty() {
        0
    } else {
        1
    };
    if gaps.is_empty() || must_fail_here > 0 {
        assert_eq!(out.status.code(), Some(expected_code), "{variant:?}");
    }
    if variant == Variant::Correct && gaps.is_empty() {
        assert_eq!(report["score"], report["max_score"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn correct_vpc_passes_every_check() {
    grade(Variant::Correct).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn private_route_table_pointing_at_the_igw() {
    grade(Variant::PrivateRouteToIgw).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nacl_allowing_ssh_in_but_not_the_replies_out() {
    grade(Variant::NaclWithoutReplyPorts).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nacl_deny_numbered_before_the_allow() {
    grade(Variant::NaclDenyBeforeAllow).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn app_sg_open_to_the_world() {
    grade(Variant::AppSgOpenToTheWorld).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bastion_in_a_private_subnet() {
    grade(Variant::BastionInPrivateSubnet).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nat_gateway_in_a_private_subnet() {
    grade(Variant::NatInPrivateSubnet).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bastion_launched_with_an_explicit_network_interface() {
    grade(Variant::BastionWithInterface).await;
}

/// Two students in one account and region: alice built the lab by hand with her prefix before
/// every name, bob built nothing. Graded with his prefix, bob gets nothing of alice's; graded
/// with hers, alice's setup passes, and the report says each resource was found by name.
#[tokio::test(flavor = "multi_thread")]
async fn students_sharing_an_account_are_graded_by_their_name_prefix() {
    let region = "il-central-1";
    student::clear_as(region, "alice-").await;
    let vpc = student::build_as(region, Variant::Correct, "alice-").await;
    let home = tempfile::tempdir().expect("home");
    let xml = home.path().join("alice.xml");
    let check = |env: &str, extra: &[&str]| {
        let mut args = vec![
            "--region",
            region,
            "--env",
            env,
            "check",
            "vpc-public-private",
        ];
        args.extend_from_slice(extra);
        common::awslab(home.path())
            .args(&args)
            .output()
            .expect("check")
    };
    let bob = check("bob", &["--format", "json", "--name-prefix", "bob-"]);
    let alice = check("alice", &["--format", "json", "--name-prefix", "alice-"]);
    // The prefix from the environment, `{env}` standing for the env; JUnit to a file.
    let alice_text = common::awslab(home.path())
        .env("AWSLAB_NAME_PREFIX", "{env}-")
        .args([
            "--region",
            region,
            "--env",
            "alice",
            "check",
            "vpc-public-private",
        ])
        .arg("--output")
        .arg(&xml)
        .output()
        .expect("check");
    student::delete_vpc_tree(region, &vpc).await;
    student::clear_as(region, "alice-").await;

    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let bob = common::json(&bob);
    assert_eq!(bob["name_prefix"], "bob-", "{bob:#}");
    let checks = bob["checks"].as_array().expect("checks");
    assert!(checks.len() > 20, "{bob:#}");
    for c in checks {
        assert!(
            c["status"] == "fail" || c["status"] == "skip",
            "bob built nothing, yet {} passed: {}",
            c["id"],
            c["message"]
        );
        assert!(c.get("found_by").is_none(), "{c}");
    }
    let lab_vpc = checks
        .iter()
        .find(|c| c["id"] == "lab-vpc")
        .expect("lab-vpc");
    assert_eq!(text(&lab_vpc["message"]), "no VPC named `bob-lab-vpc`");
    assert_eq!(text(&lab_vpc["found"]), "none");
    let key = checks
        .iter()
        .find(|c| c["id"] == "lab-key")
        .expect("lab-key");
    assert_eq!(text(&key["message"]), "no key pair named `bob-lab-key`");

    let alice = common::json(&alice);
    assert_eq!(alice["name_prefix"], "alice-");
    let gaps = emulator_gaps(Variant::Correct);
    let checks = alice["checks"].as_array().expect("checks");
    for c in checks {
        let id = text(&c["id"]);
        if !gaps.contains(&id.as_str()) {
            assert_ne!(c["status"], "fail", "{id}: {}", c["message"]);
        }
    }
    if gaps.is_empty() {
        assert_eq!(alice["score"], alice["max_score"], "{alice:#}");
    }
    let found_by = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["found_by"].clone())
            .unwrap_or_else(|| panic!("{id} not in the report"))
    };
    for (id, method, how) in [
        ("lab-vpc", "name", "by Name tag `alice-lab-vpc`"),
        ("public-a", "name", "by Name tag `alice-public-a`"),
        ("bastion-sg", "name", "by group name `alice-bastion-sg`"),
        ("lab-key", "name", "by key name `alice-lab-key`"),
        ("bastion", "name", "by Name tag `alice-bastion`"),
        (
            "public-rt",
            "relation",
            "through its association with public-a",
        ),
        ("lab-igw", "name", "by Name tag `alice-lab-igw`"),
    ] {
        let f = found_by(id);
        assert_eq!(f["method"], method, "{id}: {f}");
        assert_eq!(f["how"], how, "{id}: {f}");
        assert!(text(&f["id"]).contains('-'), "{id}: {f}");
    }
    assert_eq!(found_by("lab-key")["name"], "alice-lab-key");

    let out = String::from_utf8_lossy(&alice_text.stdout);
    assert!(
        out.contains("check vpc-public-private (env alice, names prefixed `alice-`)"),
        "{out}"
    );
    assert!(out.contains("by Name tag `alice-lab-vpc`"), "{out}");
    assert!(
        out.contains(
            "found by name, not by awslab's tags: hand-built, adopted by the prefix `alice-`"
        ),
        "{out}"
    );
    let junit = std::fs::read_to_string(&xml).expect("junit file");
    assert!(
        junit.contains(r#"<property name="name_prefix" value="alice-"/>"#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<property name="found_how" value="by key name `alice-lab-key`"/>"#),
        "{junit}"
    );
}
