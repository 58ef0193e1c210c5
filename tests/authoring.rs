//! What lab authors and shell users get besides the labs: the JSON Schema of lab files (every
//! bundled and test lab passes it, a mistyped key fails it as `validate` warns of it), the
//! shell completions, the manual pages, and `awslab new`. No emulator: nothing here calls AWS.

use std::path::{Path, PathBuf};

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

/// The shipped lab schema, compiled by an independent validator.
struct LabSchema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl LabSchema {
    fn load() -> LabSchema {
        let text = std::fs::read_to_string(root().join("schemas/lab.schema.json")).expect("schema");
        let json: Value = serde_json::from_str(&text).expect("JSON");
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let url = "file:///awslab/lab.schema.json";
        compiler.add_resource(url, json).expect("a valid schema");
        let index = compiler.compile(url, &mut schemas).expect("compiles");
        LabSchema { schemas, index }
    }

    /// `Err` with the validator's account of every problem.
    fn check(&self, toml_text: &str) -> Result<(), String> {
        let table: toml::Table = toml::from_str(toml_text).expect("TOML");
        let json = serde_json::to_value(table).expect("JSON");
        self.schemas
            .validate(&json, self.index)
            .map_err(|e| format!("{e:#}"))
    }
}

fn lab_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bundled_and_test_lab_passes_the_schema() {
    let schema = LabSchema::load();
    let files: Vec<PathBuf> = lab_files("labs")
        .into_iter()
        .chain(lab_files("tests/labs"))
        .collect();
    assert!(files.len() >= 13, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        if let Err(e) = schema.check(&text) {
            panic!("{} fails the schema:\n{e}", f.display());
        }
    }
}

#[test]
fn every_bundled_lab_names_the_schema_in_its_first_line() {
    for f in lab_files("labs") {
        let text = std::fs::read_to_string(&f).expect("read");
        let first = text.lines().next().unwrap_or_default();
        let target = first
            .strip_prefix("#:schema ")
            .unwrap_or_else(|| panic!("{}: first line is {first:?}", f.display()));
        let schema = f.parent().expect("dir").join(target);
        assert!(
            schema.is_file(),
            "{}: {} is missing",
            f.display(),
            schema.display()
        );
        assert_eq!(
            schema.canonicalize().expect("path"),
            root()
                .join("schemas/lab.schema.json")
                .canonicalize()
                .expect("path")
        );
    }
}

fn vpc_lab() -> String {
    std::fs::read_to_string(root().join("labs/vpc-public-private.toml")).expect("lab")
}

/// Writes `text` as a lab file and returns what `awslab validate` says on stderr (exit 0).
fn validate_warnings(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, text).expect("write");
    let out = awslab().arg("validate").arg(&path).assert().code(0);
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

#[test]
fn a_mistyped_key_fails_the_schema_as_validate_warns_of_it() {
    let schema = LabSchema::load();
    schema.check(&vpc_lab()).expect("the lab itself passes");
    for (right, wrong, key, validate_says) in [
        (
            "dns_hostnames = true",
            "dns_hostname = true",
            "dns_hostname",
            "unknown key `dns_hostname` in resource `lab-vpc` is ignored",
        ),
        (
            "summary = ",
            "sumary = ",
            "sumary",
            "unknown key `sumary` in a lab file is ignored",
        ),
        (
            "points = 2\nhint = \"Associate",
            "point = 2\nhint = \"Associate",
            "point",
            "unknown key `point` in a check is ignored",
        ),
    ] {
        let text = vpc_lab().replacen(right, wrong, 1);
        assert_ne!(text, vpc_lab(), "{right} not in the lab");
        let err = schema
            .check(&text)
            .expect_err(&format!("`{key}` passed the schema"));
        assert!(
            err.contains(key),
            "the schema's error does not name `{key}`: {err}"
        );
        let warned = validate_warnings(&text);
        assert!(warned.contains(validate_says), "{warned}");
    }
    // A key of another kind: the schema refuses it as `validate` does (an error there).
    let text = vpc_lab().replacen("dns_hostnames = true", "dns_hostnames = true\naz = 1", 1);
    assert!(schema.check(&text).is_err());
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other.toml");
    std::fs::write(&other, &text).expect("write");
    awslab()
        .arg("validate")
        .arg(&other)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`az` does not apply to a VPC"));
}

#[test]
fn the_schema_requires_what_the_kind_and_check_kind_need() {
    let schema = LabSchema::load();
    let no_cidr = vpc_lab().replacen(
        "type = \"subnet\"\nvpc = \"lab-vpc\"\ncidr = \"10.0.1.0/24\"\n",
        "type = \"subnet\"\nvpc = \"lab-vpc\"\n",
        1,
    );
    assert_ne!(no_cidr, vpc_lab());
    let err = schema.check(&no_cidr).expect_err("a subnet without cidr");
    assert!(err.contains("cidr"), "{err}");
    let unknown_kind = vpc_lab().replacen("type = \"vpc\"", "type = \"vpcc\"", 1);
    let err = schema.check(&unknown_kind).expect_err("an unknown type");
    assert!(err.contains("/resources/lab-vpc/type"), "{err}");
    let no_to = vpc_lab().replacen(
        "from = \"internet\"\nto = \"bastion\"\n",
        "from = \"internet\"\n",
        1,
    );
    assert_ne!(no_to, vpc_lab());
    let err = schema
        .check(&no_to)
        .expect_err("a reachable check without to");
    assert!(err.contains("to"), "{err}");
}

#[test]
fn schema_prints_the_shipped_schemas() {
    for (args, file) in [
        (vec!["schema"], "schemas/lab.schema.json"),
        (vec!["schema", "lab"], "schemas/lab.schema.json"),
        (vec!["schema", "roster"], "schemas/roster.schema.json"),
    ] {
        let shipped = std::fs::read_to_string(root().join(file)).expect("schema");
        awslab().args(&args).assert().code(0).stdout(shipped);
    }
    awslab()
        .args(["schema", "class"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'class'"));
}

#[test]
fn completions_are_shell_code_that_asks_awslab_and_it_answers_lab_ids() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        awslab()
            .args(["completions", shell])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("AWSLAB_COMPLETE"));
    }
    // What the fish code asks when Tab is pressed after `awslab check `: the lab ids, with
    // their titles.
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .env("AWSLAB_COMPLETE", "fish")
        .current_dir(root())
        .args(["--", "awslab", "check", ""])
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l == "vpc-public-private\tVPC with public and private subnets"),
        "{text}"
    );
    for id in [
        "alb-asg-web",
        "ecr-push",
        "efs-shared-storage",
        "s3-static-website",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{id}\t"))),
            "{text}"
        );
    }
    // A path completes to folders and lab files.
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .env("AWSLAB_COMPLETE", "fish")
        .current_dir(root())
        .args(["--", "awslab", "validate", "labs/vpc"])
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(text.trim(), "labs/vpc-public-private.toml", "{text}");
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .env("AWSLAB_COMPLETE", "fish")
        .current_dir(root())
        .args(["--", "awslab", "show", "vpc"])
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(
        text.trim(),
        "vpc-public-private\tVPC with public and private subnets",
        "{text}"
    );
    // Subcommands complete too.
    let out = assert_cmd::Command::cargo_bin("awslab")
        .expect("bin")
        .env("AWSLAB_COMPLETE", "fish")
        .args(["--", "awslab", "val"])
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.starts_with("validate\t"), "{text}");
    awslab()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'tcsh'"));
}

#[test]
fn man_pages_cover_every_command() {
    awslab()
        .arg("man")
        .assert()
        .code(0)
        .stdout(
            predicate::str::starts_with(".ie \\n(.g .ds Aq")
                .or(predicate::str::contains(".TH awslab")),
        )
        .stdout(predicate::str::contains(".TH awslab 1"));
    awslab()
        .args(["man", "check"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(".TH awslab-check 1"))
        .stdout(predicate::str::contains("\\-\\-name\\-prefix"));
    awslab()
        .args(["man", "chek"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("awslab has no command `chek`"));
    let dir = tempfile::tempdir().expect("tempdir");
    awslab()
        .args(["man", "--dir"])
        .arg(dir.path())
        .assert()
        .code(0);
    let help = awslab().arg("--help").assert().code(0);
    let help = String::from_utf8_lossy(&help.get_output().stdout).into_owned();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .expect("commands")
        .split("Options:")
        .next()
        .expect("list")
        .lines()
        .filter_map(|l| l.strip_prefix("  ").filter(|r| !r.starts_with(' ')))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 15, "{commands:?}");
    assert!(dir.path().join("awslab.1").is_file());
    for c in commands {
        let page = dir.path().join(format!("awslab-{c}.1"));
        let text = std::fs::read_to_string(&page).unwrap_or_else(|_| panic!("no page for {c}"));
        assert!(text.contains(&format!(".TH awslab-{c} 1")), "{c}");
    }
}

fn new_lab(dir: &Path, id: &str) -> assert_cmd::assert::Assert {
    awslab().args(["new", id, "--dir"]).arg(dir).assert()
}

#[test]
fn new_writes_a_lab_that_validates_and_passes_the_schema_and_never_overwrites() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("course");
    let out = new_lab(&dir, "my-lab").code(0);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout)
        .replace(&tmp.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("new_stdout", stdout);
    let path = dir.join("my-lab.toml");
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(text.starts_with("#:schema ./lab.schema.json\n"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.join("lab.schema.json")).expect("schema beside it"),
        std::fs::read_to_string(root().join("schemas/lab.schema.json")).expect("shipped")
    );
    LabSchema::load().check(&text).expect("passes the schema");
    // It validates with no warning: one resource, one check.
    awslab()
        .arg("validate")
        .arg(&path)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::contains("(my-lab: 1 resources, 1 checks)"));
    // The instructions quote the lab's own values.
    let shown = awslab().arg("show").arg(&path).assert().code(0);
    let shown = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    assert!(
        shown.contains("choose BucketOwnerEnforced (ACLs disabled)"),
        "{shown}"
    );
    assert!(!shown.contains("${notes.object_ownership}"), "{shown}");

    // Again: refused, the file untouched.
    std::fs::write(&path, "edited").expect("write");
    let out = new_lab(&dir, "my-lab").code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr)
        .replace(&tmp.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("new_refuses_to_overwrite", stderr);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "edited");

    // A second lab in the folder leaves the schema file as it is.
    std::fs::write(dir.join("lab.schema.json"), "{}").expect("write");
    new_lab(&dir, "other_lab")
        .code(0)
        .stdout(predicate::str::contains("lab.schema.json").not());
    assert_eq!(
        std::fs::read_to_string(dir.join("lab.schema.json")).expect("read"),
        "{}"
    );
    new_lab(&dir, "no good")
        .code(2)
        .stderr(predicate::str::contains("`no good` is not a lab id"));
    let json = awslab()
        .args(["--format", "json", "new", "third", "--dir"])
        .arg(&dir)
        .assert()
        .code(0);
    let v: Value = serde_json::from_slice(&json.get_output().stdout).expect("JSON");
    assert_eq!(v["lab"], dir.join("third.toml").display().to_string());
    assert_eq!(v["schema"], Value::Null);
}

#[test]
fn validate_warns_of_values_the_instructions_repeat_wrongly_and_errs_on_bad_placeholders() {
    let text = vpc_lab().replacen(
        "   - `private-b` ${private-b.cidr} in the second AZ",
        "   - `private-b` ${private-b.cidr} in the second AZ\n   - `private-c` 10.0.13.0/24 in the third AZ",
        1,
    );
    assert_ne!(text, vpc_lab());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("drift.toml");
    std::fs::write(&path, &text).expect("write");
    let out = awslab().arg("validate").arg(&path).assert().code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr)
        .replace(&dir.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("instructions_drift_warnings", stderr);

    let text = vpc_lab().replacen("${lab-vpc.cidr}", "${lab-vpc.cidrs}", 1);
    std::fs::write(&path, &text).expect("write");
    awslab()
        .arg("validate")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "drift.toml:11:48: `${lab-vpc.cidrs}` in the instructions: resource `lab-vpc` does not set `cidrs`",
        ))
        .stderr(predicate::str::contains("did you mean `cidr`?"));
}

#[test]
fn bash_completes_lab_ids_through_the_printed_code() {
    let bin = assert_cmd::cargo::cargo_bin("awslab");
    let dir = bin.parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // What bash does on Tab after `awslab check vpc`.
    let script = r#"
source <(awslab completions bash)
COMP_WORDS=(awslab check vpc); COMP_CWORD=2; COMP_LINE="awslab check vpc"
COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
fn=$(complete -p awslab | sed -E 's/.* -F ([^ ]+) .*/\1/')
"$fn" awslab vpc check
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let out = std::process::Command::new("bash")
        .args(["-c", script])
        .env("PATH", path)
        .current_dir(root())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "vpc-public-private\n");
}
