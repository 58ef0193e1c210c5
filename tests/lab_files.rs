//! Malformed lab files: exit 2 with a located `file:line:col` message, before any API call (the
//! endpoint below accepts no connection, so a call would exit 3 instead).

mod common;

use predicates::prelude::*;

const UNREACHABLE: &str = "http://127.0.0.1:9";

fn bundled() -> String {
    std::fs::read_to_string(common::root().join("labs/vpc-public-private.toml")).expect("lab")
}

/// Writes a variant of the bundled lab, runs `awslab up` on it against an unreachable endpoint,
/// asserts the exit code and returns stderr with the temporary directory masked as `[TMP]`.
fn up_variant(name: &str, text: &str, code: i32) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write");
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args([
            "--endpoint-url",
            UNREACHABLE,
            "--color",
            "never",
            "up",
            "--yes",
        ])
        .arg(&path)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .assert()
        .code(code);
    String::from_utf8_lossy(&out.get_output().stderr)
        .replace(&dir.path().display().to_string(), "[TMP]")
}

#[test]
fn unknown_reference_is_located_with_a_suggestion() {
    let text = bundled().replacen(
        "vpc = \"lab-vpc\"\ncidr = \"10.0.2.0/24\"",
        "vpc = \"lab-vpcc\"\ncidr = \"10.0.2.0/24\"",
        1,
    );
    let err = up_variant("typo", &text, 2);
    assert!(
        err.contains("typo.toml:79:7: unknown reference `lab-vpcc`"),
        "{err}"
    );
    assert!(err.contains("did you mean `lab-vpc`?"), "{err}");
    insta::assert_snapshot!("unknown_reference", err);
}

#[test]
fn wrong_kind_of_reference() {
    let text = bundled().replace(
        "subnet = \"public-a\"\neip = \"nat-eip\"",
        "subnet = \"public-a\"\neip = \"lab-igw\"",
    );
    let err = up_variant("kind", &text, 2);
    assert!(
        err.contains("`lab-igw` is an internet gateway, but an elastic IP is expected here"),
        "{err}"
    );
}

#[test]
fn cycle_is_reported_whole() {
    let text = bundled().replace(
        "ingress = [{ proto = \"tcp\", port = 22, cidr = \"${ssh_cidr}\" }]",
        "ingress = [{ proto = \"tcp\", port = 22, from = \"app-sg\" }]",
    );
    let err = up_variant("cycle", &text, 2);
    assert!(
        err.contains("dependency cycle: app-sg -> bastion-sg -> app-sg"),
        "{err}"
    );
}

#[test]
fn subnet_outside_and_overlapping() {
    let text = bundled()
        .replace("cidr = \"10.0.2.0/24\"", "cidr = \"10.1.2.0/24\"")
        .replace("cidr = \"10.0.12.0/24\"", "cidr = \"10.0.11.0/25\"");
    let err = up_variant("cidrs", &text, 2);
    assert!(
        err.contains("subnet `public-b` 10.1.2.0/24 is outside VPC `lab-vpc` 10.0.0.0/16"),
        "{err}"
    );
    assert!(
        err.contains("subnet `private-b` 10.0.11.0/25 overlaps subnet `private-a` 10.0.11.0/24"),
        "{err}"
    );
    assert!(err.contains("2 error(s) in lab file"), "{err}");
}

#[test]
fn invalid_cidr_port_and_protocol() {
    let text = bundled()
        .replace("cidr = \"10.0.1.0/24\"", "cidr = \"10.0.1.5/24\"")
        .replace(
            "port = 22, from = \"bastion-sg\"",
            "port = 70000, from = \"bastion-sg\"",
        )
        .replace(
            "{ rule = 100, proto = \"all\", cidr = \"0.0.0.0/0\" }",
            "{ rule = 100, proto = \"tpc\", cidr = \"0.0.0.0/0\" }",
        );
    let err = up_variant("values", &text, 2);
    assert!(err.contains("`10.0.1.5/24` has host bits set"), "{err}");
    assert!(err.contains("did you mean `10.0.1.0/24`?"), "{err}");
    assert!(err.contains("port 70000 is outside 0-65535"), "{err}");
    assert!(err.contains("unknown protocol `tpc`"), "{err}");
}

#[test]
fn duplicate_names_are_a_toml_error() {
    let text = format!(
        "{}\n[resources.lab-vpc]\ntype = \"vpc\"\ncidr = \"10.9.0.0/16\"\n",
        bundled()
    );
    let err = up_variant("dup", &text, 2);
    assert!(err.contains("invalid TOML"), "{err}");
    assert!(err.contains("duplicate key"), "{err}");
}

#[test]
fn unknown_keys_warn_but_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warn.toml");
    std::fs::write(
        &path,
        bundled().replace(
            "dns_hostnames = true",
            "dns_hostnames = true\ndns_hostname = true",
        ),
    )
    .expect("write");
    assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args(["--color", "never", "validate"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ok:"))
        .stderr(predicate::str::contains(
            "unknown key `dns_hostname` in resource `lab-vpc` is ignored",
        ))
        .stderr(predicate::str::contains("did you mean `dns_hostnames`?"));
}

#[test]
fn bad_parameter_value_and_unknown_parameter() {
    let mut cmd = assert_cmd::Command::cargo_bin("awslab").expect("bin");
    cmd.args([
        "--color",
        "never",
        "--endpoint-url",
        UNREACHABLE,
        "up",
        "vpc-public-private",
        "--yes",
        "--set",
        "ssh_cidr=nonsense",
    ]);
    cmd.assert().code(2).stderr(predicate::str::contains(
        "`nonsense` (from a parameter) is not an IPv4 CIDR",
    ));
    let mut cmd = assert_cmd::Command::cargo_bin("awslab").expect("bin");
    cmd.args([
        "--color",
        "never",
        "show",
        "vpc-public-private",
        "--set",
        "sshcidr=1.2.3.4/32",
    ]);
    cmd.assert().code(2).stderr(predicate::str::contains(
        "this lab has no parameter `sshcidr`",
    ));
}

#[test]
fn missing_lab_and_bad_set_syntax() {
    assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args(["--color", "never", "show", "no-such-lab"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no lab `no-such-lab`"))
        .stderr(predicate::str::contains("vpc-public-private"));
    assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args([
            "--color",
            "never",
            "show",
            "vpc-public-private",
            "--set",
            "oops",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected NAME=VALUE"));
}

#[test]
fn unreachable_endpoint_exits_3() {
    assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args([
            "--color",
            "never",
            "--endpoint-url",
            UNREACHABLE,
            "check",
            "vpc-public-private",
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("Unreachable"));
}

#[test]
fn up_without_terminal_or_yes_refuses() {
    // stdin is not a terminal under the test runner.
    common::endpoint();
    let home = tempfile::tempdir().expect("home");
    common::awslab(home.path())
        .args([
            "--color",
            "never",
            "up",
            "vpc-public-private",
            "--env",
            "noyes",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "refusing to create lab vpc-public-private",
        ))
        .stderr(predicate::str::contains("pass --yes"));
}

#[test]
fn show_fills_parameters_into_the_instructions() {
    assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args([
            "--color",
            "never",
            "show",
            "vpc-public-private",
            "--set",
            "ssh_cidr=203.0.113.7/32",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "inbound SSH, TCP 22 from 203.0.113.7/32",
        ))
        .stdout(predicate::str::contains("${").not());
}

#[test]
fn help_has_examples() {
    assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args(["up", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Examples:"))
        .stdout(predicate::str::contains("--stage"));
}

#[test]
fn reach_check_errors_are_located() {
    // An endpoint that is not an instance, subnet or security group.
    let text = bundled().replacen(
        "from = \"bastion\"\nto = \"app\"",
        "from = \"lab-igw\"\nto = \"app\"",
        1,
    );
    let err = up_variant("endpoint", &text, 2);
    assert!(err.contains("endpoint.toml:"), "{err}");
    assert!(err.contains("`lab-igw`"), "{err}");

    // TCP without a port.
    let text = bundled().replacen("proto = \"tcp\"\nport = 443\n", "proto = \"tcp\"\n", 1);
    let err = up_variant("noport", &text, 2);
    assert!(
        err.contains("a `reachable` check over tcp needs `port`"),
        "{err}"
    );

    // A list where one endpoint belongs.
    let text = bundled().replacen(
        "from = \"app\"\nto = \"internet\"",
        "from = [\"app\", \"bastion\"]\nto = \"internet\"",
        1,
    );
    let err = up_variant("list", &text, 2);
    assert!(
        err.contains("`from` of a `reachable` check is one endpoint"),
        "{err}"
    );

    // A live check that is not from the internet.
    let text = bundled().replacen(
        "from = \"bastion\"\nto = \"app\"\nproto = \"tcp\"\nport = 22\n",
        "from = \"bastion\"\nto = \"app\"\nproto = \"tcp\"\nport = 22\nlive = true\n",
        1,
    );
    let err = up_variant("live", &text, 2);
    assert!(
        err.contains("`live` tests TCP from the internet only"),
        "{err}"
    );

    // The same endpoint twice, and a port out of range.
    let text = bundled()
        .replacen(
            "from = \"bastion\"\nto = \"app\"",
            "from = \"app\"\nto = \"app\"",
            1,
        )
        .replacen("port = 443", "port = 70000", 1);
    let err = up_variant("same", &text, 2);
    assert!(err.contains("`from` and `to` are the same"), "{err}");
    assert!(err.contains("port 70000 is outside 1-65535"), "{err}");
}

fn alb() -> String {
    std::fs::read_to_string(common::root().join("labs/alb-asg-web.toml")).expect("lab")
}

#[test]
fn include_errors_are_located_in_the_including_file() {
    let text = alb()
        .replace(
            "resources = [\"public-rt\", \"private-rt\", \"private-nacl\"]",
            "resources = [\"public-rt\", \"private-rtt\"]",
        )
        .replace(
            "\"private-egress\", ",
            "\"private-egress\", \"ssh-to-bastion\", ",
        );
    let err = up_variant("inc", &text, 2);
    assert!(
        err.contains("inc.toml:65:27: lab `vpc-public-private` has no resource `private-rtt`"),
        "{err}"
    );
    assert!(err.contains("did you mean `private-rt`?"), "{err}");
    // A check whose resources the include does not take.
    assert!(
        err.contains("check `ssh-to-bastion` needs bastion, which this include does not take"),
        "{err}"
    );
    let text = alb().replace("lab = \"vpc-public-private\"", "lab = \"no-such-lab\"");
    let err = up_variant("missing", &text, 2);
    assert!(
        err.contains("missing.toml:64:7: cannot include `no-such-lab`"),
        "{err}"
    );
    // A name the include already brings.
    let text = format!("{}\n[resources.lab-igw]\ntype = \"elastic_ip\"\n", alb());
    let err = up_variant("twice", &text, 2);
    assert!(
        err.contains("`lab-igw` is also included from another lab"),
        "{err}"
    );
}

#[test]
fn an_error_in_an_included_lab_points_into_that_lab() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = bundled().replace("cidr = \"10.0.11.0/24\"", "cidr = \"10.0.11.0/33\"");
    std::fs::write(dir.path().join("base-net.toml"), base).expect("write");
    let top = alb().replace("lab = \"vpc-public-private\"", "lab = \"base-net\"");
    let path = dir.path().join("top.toml");
    std::fs::write(&path, top).expect("write");
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args(["--color", "never", "validate"])
        .arg(&path)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr)
        .replace(&dir.path().display().to_string(), "[TMP]");
    // Found beside the including file; the error is located in it.
    assert!(
        err.contains("[TMP]/base-net.toml:87:8: `10.0.11.0/33` is not an IPv4 CIDR"),
        "{err}"
    );
}

#[test]
fn load_balancer_and_group_settings_are_checked() {
    let text = alb()
        .replace(
            "subnets = [\"public-a\", \"public-b\"]\nsecurity_groups = [\"alb-sg\"]",
            "subnets = [\"public-a\"]\nsecurity_groups = [\"alb-sg\"]",
        )
        .replace(
            "min_size = 2\ndesired_capacity = 2",
            "min_size = 3\ndesired_capacity = 2",
        )
        .replace(
            "health_check_type = \"ELB\"",
            "health_check_type = \"HTTP\"",
        )
        .replace("target_group = \"web-tg\"", "target_group = \"web-asg\"");
    let err = up_variant("alb", &text, 2);
    for want in [
        "load balancer `web-alb` needs `subnets` in at least two availability zones",
        "sizes must satisfy min_size <= desired_capacity <= max_size (here 3 <= 2 <= 4)",
        "health_check_type `HTTP` must be EC2 or ELB",
        "`web-asg` is an Auto Scaling group, but a target group is expected here",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn an_objects_source_must_be_a_directory_beside_the_lab() {
    let s3 =
        std::fs::read_to_string(common::root().join("labs/s3-static-website.toml")).expect("lab");
    let err = up_variant(
        "site",
        &s3.replace("source = \"assets/site\"", "source = \"assets/nope\""),
        2,
    );
    assert!(err.contains("site.toml:"), "{err}");
    assert!(err.contains("cannot read `assets/nope`"), "{err}");
    let err = up_variant(
        "escape",
        &s3.replace("source = \"assets/site\"", "source = \"../etc\""),
        2,
    );
    assert!(
        err.contains("must be a directory inside the lab's directory"),
        "{err}"
    );
    let err = up_variant(
        "absolute",
        &s3.replace("source = \"assets/site\"", "source = \"/etc\""),
        2,
    );
    assert!(
        err.contains("must be a directory inside the lab's directory"),
        "{err}"
    );
}

/// An include or a command-line argument that is not a lab file is refused unread: the secret
/// in the environment (`/proc/self/environ`) or in a credentials file never reaches stderr.
#[test]
fn files_that_are_not_labs_are_never_read_or_quoted() {
    const SECRET: &str = "AKIA-awslab-test-secret";
    let dir = tempfile::tempdir().expect("tempdir");
    let top = dir.path().join("top.toml");
    std::fs::write(
        &top,
        alb().replace(
            "lab = \"vpc-public-private\"",
            "lab = \"/proc/self/environ\"",
        ),
    )
    .expect("write");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!("[default]\naws_secret_access_key = {SECRET}\n"),
    )
    .expect("write");
    let run = |arg: &std::path::Path| {
        let out = assert_cmd::Command::cargo_bin("awslab")
            .expect("bin")
            .args(["--color", "never", "validate"])
            .arg(arg)
            .env("AWSLAB_TEST_SECRET", SECRET)
            .assert()
            .code(2);
        String::from_utf8_lossy(&out.get_output().stderr)
            .replace(&dir.path().display().to_string(), "[TMP]")
    };
    let err = run(&top);
    assert!(!err.contains(SECRET), "{err}");
    assert!(
        err.contains("[TMP]/top.toml:64:7: cannot include `/proc/self/environ`"),
        "{err}"
    );
    let err = run(&credentials);
    assert!(!err.contains(SECRET), "{err}");
    assert!(
        err.contains("[TMP]/credentials is not a lab file: its name does not end in `.toml`"),
        "{err}"
    );
}

/// A `source` directory, or anything in it at any depth, that resolves outside the lab's folder
/// is refused before any call, naming the path; links that stay inside are followed.
#[cfg(unix)]
#[test]
fn a_source_never_reaches_outside_the_lab_folder() {
    use std::os::unix::fs::symlink;
    let s3 =
        std::fs::read_to_string(common::root().join("labs/s3-static-website.toml")).expect("lab");
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".ssh")).expect("dir");
    std::fs::write(home.path().join(".ssh/id_ed25519"), b"PRIVATE").expect("write");
    let course = tempfile::tempdir().expect("course");
    let lab = course.path().join("site.toml");
    std::fs::write(&lab, &s3).expect("write");
    let site = course.path().join("assets/site");
    std::fs::create_dir_all(site.join("img")).expect("dir");
    std::fs::write(site.join("index.html"), b"<h1>hi</h1>").expect("write");
    std::fs::write(site.join("error.html"), b"<h1>no</h1>").expect("write");
    let validate = |path: &std::path::Path, code: i32| {
        let out = assert_cmd::Command::cargo_bin("awslab")
            .expect("bin")
            .args([
                "--color",
                "never",
                "--endpoint-url",
                UNREACHABLE,
                "validate",
            ])
            .arg(path)
            .assert()
            .code(code);
        unwrap_lines(&String::from_utf8_lossy(&out.get_output().stderr))
            .replace(&home.path().display().to_string(), "[HOME]")
    };
    // Inside: followed.
    symlink("../index.html", site.join("img/home.html")).expect("link");
    validate(&lab, 0);
    // Deep inside the source, a link to ~/.ssh.
    symlink(home.path().join(".ssh"), site.join("img/keys")).expect("link");
    let err = validate(&lab, 2);
    assert!(err.contains("site.toml:"), "{err}");
    assert!(
        err.contains("`img/keys` is a symbolic link to [HOME]/.ssh, outside the folder"),
        "{err}"
    );
    std::fs::remove_file(site.join("img/keys")).expect("rm");
    // The source directory itself reached through a link out of the folder.
    let elsewhere = course.path().join("other.toml");
    std::fs::write(
        &elsewhere,
        s3.replace("source = \"assets/site\"", "source = \"home/.ssh\""),
    )
    .expect("write");
    symlink(home.path(), course.path().join("home")).expect("link");
    let err = validate(&elsewhere, 2);
    assert!(
        err.contains(
            "cannot read `home/.ssh`: it resolves to [HOME]/.ssh, outside the lab's folder"
        ),
        "{err}"
    );
}

/// A diagnostic with miette's wrapped lines joined again.
fn unwrap_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.trim_start().strip_prefix("│ ") {
            Some(rest) if !out.is_empty() && !line.trim_start().starts_with("│ ·") => {
                out.push(' ');
                out.push_str(rest);
            }
            _ => {
                out.push('\n');
                out.push_str(line);
            }
        }
    }
    out
}

#[test]
fn an_image_tag_follows_the_oci_grammar() {
    let ecr = std::fs::read_to_string(common::root().join("labs/ecr-push.toml")).expect("lab");
    let err = up_variant("tag", &ecr.replace("tag = \"v1\"", "tag = \"bad tag!\""), 2);
    assert!(err.contains("tag.toml:"), "{err}");
    assert!(err.contains("\"bad tag!\" is not an image tag"), "{err}");
}

/// With `--format json` a failure is also JSON on stdout: the exit code, the diagnostic code,
/// and each located issue.
#[test]
fn a_failure_is_json_on_stdout_with_format_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        bundled().replace("cidr = \"10.0.11.0/24\"", "cidr = \"10.0.11.0/33\""),
    )
    .expect("write");
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args([
            "--endpoint-url",
            UNREACHABLE,
            "--format",
            "json",
            "up",
            "--yes",
        ])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["ok"], false);
    assert_eq!(json["exit_code"], 2);
    assert_eq!(json["error"]["code"], "awslab::lab_file");
    let issue = &json["error"]["issues"][0];
    assert_eq!(issue["severity"], "error");
    assert_eq!(
        issue["location"],
        format!("{}:87:8", path.display()),
        "{json:#}"
    );
    assert_eq!(
        issue["message"],
        "`10.0.11.0/33` is not an IPv4 CIDR such as 10.0.0.0/16"
    );
    // Usage errors too (found before the command runs).
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .args(["--format", "json", "--env", "no spaces", "list"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["error"]["code"], "awslab::usage", "{json}");
}

/// A bucket's logical name is the readable part of its global name: it must fit beside the
/// owner code and the account id (63 characters), start as S3 allows, and name one bucket only.
#[test]
fn a_bucket_name_must_fit_and_be_its_own() {
    let lab =
        std::fs::read_to_string(common::root().join("tests/labs/bucket-basic.toml")).expect("lab");
    let long = "a-bucket-name-that-is-far-too-long-to-fit";
    let err = up_variant(
        "long",
        &lab.replace("[resources.site]", &format!("[resources.{long}]"))
            .replace("${site.id}", "it"),
        2,
    );
    assert!(err.contains("long.toml:8:12"), "{err}");
    assert!(err.contains(&format!("`{long}`")), "{err}");
    assert!(err.contains("at most 39"), "{err}");
    let err = up_variant(
        "start",
        &lab.replace("[resources.site]", "[resources._site]")
            .replace("${site.id}", "it"),
        2,
    );
    assert!(err.contains("start.toml:8:12"), "{err}");
    assert!(err.contains("must start with a letter or digit"), "{err}");
    let err = up_variant(
        "twice",
        &format!("{lab}\n[resources.Site]\ntype = \"s3_bucket\"\n"),
        2,
    );
    assert!(err.contains("twice.toml:12:12"), "{err}");
    assert!(err.contains("`Site` and `site`"), "{err}");
}
