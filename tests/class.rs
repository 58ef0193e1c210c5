//! A class from a roster: `up`, `status`, `check`, `down` of every student's env at once, each in
//! the account its role reaches (roles assumed into other account ids on the emulator), one
//! student's failure not stopping the others, and the allow-list applied per account before
//! anything is created.

mod common;

use std::path::Path;

use serde_json::Value;

const REGION: &str = "ap-southeast-1";

fn lab() -> String {
    common::test_lab("vpc-basic")
}

/// `awslab` in the class's region, with the quota preflight on.
fn class(home: &Path) -> assert_cmd::Command {
    let mut cmd = common::awslab(home);
    cmd.env("AWS_REGION", REGION)
        .env_remove("AWSLAB_SKIP_PREFLIGHT");
    cmd
}

/// A roster of three students: one in the caller's account, two reached through roles in two
/// other accounts (one of them in another region).
fn roster(dir: &Path, tag: &str) -> std::path::PathBuf {
    let path = dir.join("class.toml");
    std::fs::write(
        &path,
        format!(
            r#"[defaults]
external_id = "course-{tag}"

[[student]]
env = "ann-{tag}"
name = "Ann"

[[student]]
env = "ben-{tag}"
role_arn = "arn:aws:iam::111111111111:role/LabStudent"

[[student]]
env = "cy-{tag}"
role_arn = "arn:aws:iam::222222222222:role/LabStudent"
region = "eu-north-1"
"#
        ),
    )
    .expect("write roster");
    path
}

/// `status --roster --format json`: (env, account, region, budget) of each env found.
fn status(home: &Path, roster: &Path) -> Vec<(String, String, String, Option<f64>)> {
    let out = class(home)
        .args(["--format", "json", "status", "--roster"])
        .arg(roster)
        .output()
        .expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<_> = common::json(&out)
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["env"].as_str().unwrap_or_default().to_owned(),
                e["account"].as_str().unwrap_or_default().to_owned(),
                e["region"].as_str().unwrap_or_default().to_owned(),
                e["budget"].as_f64(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn a_class_in_three_accounts_goes_up_is_graded_and_comes_down() {
    let home = tempfile::tempdir().expect("home");
    let tag = format!("{}", std::process::id());
    let roster = roster(home.path(), &tag);
    let out = class(home.path())
        .args(["--format", "json", "up", &lab(), "--yes", "--budget", "5"])
        .arg("--roster")
        .arg(&roster)
        .output()
        .expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Who acts where is shown before anything is made.
    let table = stderr.find("ACCOUNT").expect("the seats table");
    let first_create = stderr.find("created").expect("something created");
    assert!(table < first_create, "{stderr}");
    let up: Value = common::json(&out);
    let accounts: Vec<(&str, &str, bool)> = up["students"]
        .as_array()
        .expect("students")
        .iter()
        .map(|s| {
            (
                s["env"].as_str().unwrap_or_default(),
                s["account"].as_str().unwrap_or_default(),
                s["ok"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let (ann, ben, cy) = (
        format!("ann-{tag}"),
        format!("ben-{tag}"),
        format!("cy-{tag}"),
    );
    // Ann is in the caller's account, whatever id the emulator gives it.
    let own_account = accounts[0].1.to_owned();
    assert!(own_account.len() == 12 && !own_account.starts_with("111"));
    assert_eq!(
        accounts,
        [
            (ann.as_str(), own_account.as_str(), true),
            (ben.as_str(), "111111111111", true),
            (cy.as_str(), "222222222222", true),
        ]
    );
    assert_eq!(
        status(home.path(), &roster),
        [
            (ann.clone(), own_account.clone(), REGION.into(), Some(5.0)),
            (ben.clone(), "111111111111".into(), REGION.into(), Some(5.0)),
            (
                cy.clone(),
                "222222222222".into(),
                "eu-north-1".into(),
                Some(5.0)
            ),
        ]
    );
    // Each env lives in its own account: the caller's account shows only Ann's.
    let own = class(home.path())
        .args(["--format", "json", "status"])
        .output()
        .expect("status");
    let own: Vec<String> = common::json(&own)
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["env"].as_str().map(str::to_owned))
        .filter(|e| e.ends_with(&tag))
        .collect();
    assert_eq!(own, std::slice::from_ref(&ann));

    let dir = home.path();
    let out = class(dir)
        .args(["check", &lab(), "--roster"])
        .arg(&roster)
        .args(["-o"])
        .arg(dir.join("grades.json"))
        .args(["-o"])
        .arg(dir.join("grades.csv"))
        .args(["-o"])
        .arg(dir.join("grades.html"))
        .args(["-o"])
        .arg(dir.join("grades.xml"))
        .output()
        .expect("check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let book: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("grades.json")).expect("json"))
            .expect("gradebook JSON");
    let graded: Vec<(&str, u64)> = book["students"]
        .as_array()
        .expect("students")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default(),
                s["report"]["score"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(graded.len(), 3, "{book}");
    assert!(graded.iter().all(|(_, score)| *score > 0), "{book}");
    let csv = std::fs::read_to_string(dir.join("grades.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains(&ben), "{csv}");
    let junit = std::fs::read_to_string(dir.join("grades.xml")).expect("xml");
    assert_eq!(junit.matches("<testsuite ").count(), 3, "{junit}");
    let html = std::fs::read_to_string(dir.join("grades.html")).expect("html");
    assert!(html.contains(&cy) && !html.contains("http://") && !html.contains("https://"));

    // Nothing is past its budget yet; `sweep --only` takes one student's env, in their account.
    let out = class(home.path())
        .args(["sweep", "--over-budget", "--roster"])
        .arg(&roster)
        .output()
        .expect("sweep");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no lab environments over budget"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = class(home.path())
        .args(["sweep", "--yes", "--only", &cy, "--roster"])
        .arg(&roster)
        .output()
        .expect("sweep");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<String> = status(home.path(), &roster)
        .into_iter()
        .map(|(e, ..)| e)
        .collect();
    assert_eq!(left, [ann.clone(), ben.clone()]);

    let out = class(home.path())
        .args(["down", &lab(), "--yes", "--roster"])
        .arg(&roster)
        .output()
        .expect("down");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(home.path(), &roster), []);
}

#[test]
fn one_students_failure_does_not_stop_the_others_and_is_named() {
    let home = tempfile::tempdir().expect("home");
    let tag = format!("f{}", std::process::id());
    // Credentials from profiles only: Ann's work, Dee's are refused by their provider.
    let config = home.path().join("aws-config");
    std::fs::write(
        &config,
        "[profile good]\naws_access_key_id = test\naws_secret_access_key = test\n\n\
         [profile broken]\ncredential_process = false\n",
    )
    .expect("write config");
    let path = home.path().join("class.toml");
    let (ann, dee) = (format!("ann-{tag}"), format!("dee-{tag}"));
    std::fs::write(
        &path,
        format!(
            "[[student]]\nenv = \"{ann}\"\nprofile = \"good\"\n\n\
             [[student]]\nenv = \"{dee}\"\nprofile = \"broken\"\n"
        ),
    )
    .expect("write roster");
    let run = |args: &[&str]| {
        class(home.path())
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(args)
            .arg("--roster")
            .arg(&path)
            .output()
            .expect("awslab")
    };
    let out = run(&["up", &lab(), "--yes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("1 of 2 student(s) failed"), "{stderr}");
    assert!(stderr.contains(&format!("--only {dee}")), "{stderr}");
    // Who could not be reached is said in the table shown before anything is made.
    let seat = stderr
        .lines()
        .find(|l| l.contains(&dee))
        .expect("dee's seat");
    assert!(seat.contains("unreachable"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ann_line = stdout.lines().find(|l| l.contains(&ann)).expect("ann");
    assert!(
        ann_line.contains("ok") && ann_line.contains("8 created"),
        "{stdout}"
    );
    let dee_line = stdout.lines().find(|l| l.contains(&dee)).expect("dee");
    assert!(dee_line.contains("failed"), "{stdout}");
    // `status` says whom it could not look at, and the exit code says it.
    let out = run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["--format", "json", "status", "--only", &ann]);
    assert!(out.status.success());
    let envs: Vec<String> = common::json(&out)
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["env"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(envs, std::slice::from_ref(&ann));
    let out = run(&["down", &lab(), "--yes", "--only", &ann]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_allow_list_applies_to_each_students_account_before_anything_is_made() {
    let home = tempfile::tempdir().expect("home");
    let tag = format!("g{}", std::process::id());
    let roster = roster(home.path(), &tag);
    let out = class(home.path())
        .env("AWSLAB_ALLOWED_ACCOUNTS", "123456789012")
        .args(["up", &lab(), "--yes", "--roster"])
        .arg(&roster)
        .output()
        .expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("111111111111"), "{stderr}");
    assert!(!stderr.contains("created"), "{stderr}");
    assert_eq!(status(home.path(), &roster), []);
}

#[test]
fn a_class_that_does_not_fit_the_quotas_is_refused_with_the_table_before_anything_is_made() {
    let home = tempfile::tempdir().expect("home");
    let tag = format!("q{}", std::process::id());
    let path = home.path().join("big.toml");
    let students: String = (0..6)
        .map(|i| format!("[[student]]\nenv = \"s{i}-{tag}\"\n"))
        .collect();
    std::fs::write(&path, students).expect("write");
    // A region of its own: what is used there is the default VPC alone.
    let out = class(home.path())
        .env("AWS_REGION", "ap-east-1")
        .args(["up", &lab(), "--yes", "--roster"])
        .arg(&path)
        .output()
        .expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let row = stderr
        .lines()
        .find(|l| l.contains("L-F678F1CE"))
        .unwrap_or_else(|| panic!("no VPC quota row: {stderr}"));
    assert!(row.contains("ap-east-1"), "{row}");
    assert!(stderr.contains("servicequotas"), "{stderr}");
    assert!(!stderr.contains("created"), "{stderr}");
    // With the check skipped, the same class goes up (the emulator holds more than the quota).
    let out = class(home.path())
        .env("AWS_REGION", "ap-east-1")
        .args(["up", &lab(), "--yes", "--skip-preflight", "--roster"])
        .arg(&path)
        .output()
        .expect("up");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = class(home.path())
        .env("AWS_REGION", "ap-east-1")
        .args(["down", &lab(), "--yes", "--roster"])
        .arg(&path)
        .output()
        .expect("down");
    assert!(out.status.success());
}

#[test]
fn a_roster_error_names_its_place_and_exits_2_before_any_call() {
    let home = tempfile::tempdir().expect("home");
    let path = home.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[student]]\nenv = \"a\"\n\n[[student]]\nenv = \"a\"\n",
    )
    .expect("write");
    let out = common::awslab(home.path())
        // Nothing listens here: any AWS call would fail with exit 3, not 2.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["up", &lab(), "--yes", "--roster"])
        .arg(&path)
        .output()
        .expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:5:7"), "{stderr}");
    assert!(stderr.contains("listed twice"), "{stderr}");
    // `--only` that names nobody is not the whole class.
    let out = common::awslab(home.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["down", &lab(), "--yes", "--only", "", "--roster"])
        .arg(&path)
        .output()
        .expect("down");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--only names no student"), "{stderr}");
}
