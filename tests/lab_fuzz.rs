//! Property tests of the lab-file loader: arbitrary text, TOML-shaped token soup and mutations
//! of every bundled lab never panic, and every error (and warning) carries a `file:line:col`
//! that lies inside the text it points into. `PROPTEST_CASES` scales each property.

use std::collections::BTreeMap;
use std::path::PathBuf;

use awslab::Error;
use awslab::lab::catalog::{BUNDLED, LabSource, load_text};
use awslab::lab::{LabIssue, Severity};
use proptest::prelude::*;

/// The lab file the text pretends to be: in `./labs`, so includes and sources resolve there.
fn lab_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs/fuzzed.toml")
}

/// Every issue names `path:line:col` with the line and column inside `text`, and its span too.
fn located(path: &str, text: &str, issues: &[LabIssue]) -> Result<(), TestCaseError> {
    for issue in issues {
        let rest = issue.location.strip_prefix(&format!("{path}:"));
        prop_assert!(rest.is_some(), "not located in {path}: {issue:?}");
        let mut parts = rest.unwrap_or_default().split(':');
        let line: usize = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
        let col: usize = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let lines: Vec<&str> = text.split('\n').collect();
        prop_assert!(
            (1..=lines.len()).contains(&line),
            "line {line} of {}: {issue:?}",
            lines.len()
        );
        let width = lines[line - 1].chars().count();
        prop_assert!(
            (1..=width + 1).contains(&col),
            "col {col} of {width}: {issue:?}"
        );
        prop_assert!(
            issue.span.end <= text.len() && issue.span.start <= issue.span.end,
            "span {:?} outside {} bytes: {issue:?}",
            issue.span,
            text.len()
        );
        prop_assert!(!issue.message.trim().is_empty(), "no message: {issue:?}");
    }
    Ok(())
}

fn loads_or_is_located(text: &str) -> Result<(), TestCaseError> {
    let path = lab_path();
    match load_text(&LabSource::File(path.clone()), text, &BTreeMap::new()) {
        Ok(loaded) => {
            if let Some(w) = loaded.warnings {
                located(&w.path, text, &w.issues)?;
            }
        }
        Err(Error::Lab(d)) => {
            prop_assert!(d.errors > 0, "an error without issues: {d:?}");
            prop_assert!(
                d.issues.iter().any(|i| i.severity == Severity::Error),
                "{d:?}"
            );
            // An error inside an included (unchanged) lab points into that lab's own text, and
            // only ever into a lab file.
            prop_assert!(d.path.ends_with(".toml"), "a diagnostic quotes {}", d.path);
            let own = d.path == path.display().to_string();
            let source = if own {
                text.to_owned()
            } else {
                std::fs::read_to_string(&d.path)
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", d.path)))?
            };
            located(&d.path, &source, &d.issues)?;
        }
        Err(other) => prop_assert!(false, "an error without a location: {other:?}"),
    }
    Ok(())
}

/// Pieces of lab files: syntax, keys the model knows, values of every type, and edge cases.
const TOKENS: &[&str] = &[
    "\n",
    "\n",
    "\n",
    " ",
    " = ",
    "=",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    ".",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "#",
    "\\",
    "\\u0000",
    "\\uD800",
    "\t",
    "\r\n",
    "id",
    "title",
    "summary",
    "instructions",
    "params",
    "default",
    "resources",
    "include",
    "checks",
    "type",
    "vpc",
    "subnet",
    "cidr",
    "az",
    "lab",
    "stage",
    "source",
    "kind",
    "points",
    "subnets",
    "from",
    "to",
    "port",
    "proto",
    "ingress",
    "\"vpc\"",
    "\"subnet\"",
    "\"s3_objects\"",
    "\"ecr_image\"",
    "\"10.0.0.0/16\"",
    "\"10.0.1.0/33\"",
    "\"vpc-public-private\"",
    "\"../x.toml\"",
    "\"/proc/self/environ\"",
    "\"assets/site\"",
    "\"${x}\"",
    "\"${\"",
    "true",
    "0",
    "-1",
    "99999999999999999999",
    "1e400",
    "nan",
    "1979-05-27T07:32:00Z",
    "é",
    "🦀",
    "[resources.a]",
    "[[checks]]",
    "[[include]]",
    "[params.x]",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(TOKENS).prop_map(str::to_owned),
            1 => "[a-z_-]{1,8}",
            1 => any::<i64>().prop_map(|n| n.to_string()),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

/// Values of every TOML type, and strings that name things in the labs.
const VALUES: &[&str] = &[
    "\"\"",
    "\"x\"",
    "0",
    "-1",
    "65536",
    "true",
    "false",
    "[]",
    "[\"a\"]",
    "{}",
    "[1, 2]",
    "1.5",
    "{ a = 1 }",
    "\"lab-vpc\"",
    "\"public-a\"",
    "\"app-sg\"",
    "\"10.0.0.0/8\"",
    "\"10.0.1.0/33\"",
    "\"0.0.0.0/0\"",
    "\"tcp\"",
    "\"all\"",
    "\"setup\"",
    "\"solution\"",
    "\"../x.toml\"",
    "\"/etc/passwd\"",
    "\"vpc-public-private\"",
    "\"${nope}\"",
    "\"${ssh_cidr}\"",
    "\"assets/site\"",
    "\"../assets\"",
    "\"nat_gateway\"",
    "\"IMMUTABLE\"",
    "\"bad tag!\"",
];

/// One change to a lab's text, at a position given as a fraction of its length.
#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the line at that position.
    DeleteLine(f64),
    /// Replace the n-th quoted string with the m-th one (a reference to something else).
    Restring(f64, f64),
    Delete(f64, usize),
    Insert(f64, String),
    DuplicateLine(f64),
    SwapLines(f64, f64),
    Truncate(f64),
    /// Replace the value after the n-th `=` with another value (another type, often).
    Revalue(f64, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = 0.0..1.0f64;
    let value = prop_oneof![
        prop::sample::select(TOKENS).prop_map(str::to_owned),
        token_soup(),
    ];
    let typed = prop::sample::select(VALUES).prop_map(str::to_owned);
    prop_oneof![
        4 => pos.clone().prop_map(Mutation::DeleteLine),
        4 => (pos.clone(), pos.clone()).prop_map(|(a, b)| Mutation::Restring(a, b)),
        6 => (pos.clone(), typed).prop_map(|(p, v)| Mutation::Revalue(p, v)),
        2 => pos.clone().prop_map(Mutation::DuplicateLine),
        2 => (pos.clone(), pos.clone()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (pos.clone(), 1..40usize).prop_map(|(p, n)| Mutation::Delete(p, n)),
        1 => (pos.clone(), value.clone()).prop_map(|(p, v)| Mutation::Insert(p, v)),
        1 => pos.clone().prop_map(Mutation::Truncate),
        1 => (pos, value).prop_map(|(p, v)| Mutation::Revalue(p, v)),
    ]
}

/// The char boundary at or before the fraction `p` of `text`.
fn at(text: &str, p: f64) -> usize {
    let mut i = ((text.len() as f64) * p) as usize;
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut s = text.to_owned();
    match m {
        Mutation::DeleteLine(p) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let i = ((lines.len() as f64) * p) as usize % lines.len();
            lines.remove(i);
            s = lines.join("\n");
        }
        Mutation::Restring(a, b) => {
            let quoted: Vec<(usize, usize)> = quoted_strings(text);
            if !quoted.is_empty() {
                let n = quoted.len();
                let (from, to) = quoted[((n as f64) * a) as usize % n];
                let (vf, vt) = quoted[((n as f64) * b) as usize % n];
                let value = text[vf..vt].to_owned();
                s.replace_range(from..to, &value);
            }
        }
        Mutation::Delete(p, n) => {
            let start = at(&s, *p);
            let mut end = (start + n).min(s.len());
            while !s.is_char_boundary(end) {
                end += 1;
            }
            s.replace_range(start..end, "");
        }
        Mutation::Insert(p, v) => {
            let i = at(&s, *p);
            s.insert_str(i, v);
        }
        Mutation::DuplicateLine(p) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let i = ((lines.len() as f64) * p) as usize % lines.len();
            let line = lines[i];
            lines.insert(i, line);
            s = lines.join("\n");
        }
        Mutation::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let n = lines.len();
            lines.swap(((n as f64) * a) as usize % n, ((n as f64) * b) as usize % n);
            s = lines.join("\n");
        }
        Mutation::Truncate(p) => s.truncate(at(&s, *p)),
        Mutation::Revalue(p, v) => {
            let equals: Vec<usize> = s.match_indices(" = ").map(|(i, _)| i + 3).collect();
            if !equals.is_empty() {
                let start = equals[((equals.len() as f64) * p) as usize % equals.len()];
                let end = s[start..].find('\n').map_or(s.len(), |e| start + e);
                s.replace_range(start..end, v);
            }
        }
    }
    s
}

/// Byte ranges of the one-line `"..."` strings of a text, quotes included.
fn quoted_strings(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open = None;
    for (i, c) in text.char_indices() {
        match (c, open) {
            ('"', None) => open = Some(i),
            ('"', Some(start)) => {
                out.push((start, i + 1));
                open = None;
            }
            ('\n', Some(_)) => open = None,
            _ => {}
        }
    }
    out
}

/// A lab file built from the model's own keys with values of any type: mostly valid TOML, so
/// the cases reach validation.
fn structured() -> impl Strategy<Value = String> {
    use awslab::lab::Kind;
    use awslab::lab::model::CHECK_KEYS;
    let resource_keys = awslab::lab::validate::resource_keys();
    let kinds: Vec<&'static str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let value = prop_oneof![
        40 => prop::sample::select(VALUES).prop_map(str::to_owned),
        1 => prop::sample::select(TOKENS).prop_map(str::to_owned),
    ];
    // Distinct keys (a key twice is a TOML error, which the other properties cover).
    let pairs = |keys: &'static [&'static str], n: usize| {
        let keys: Vec<&'static str> = keys
            .iter()
            .copied()
            .filter(|k| !matches!(*k, "type" | "id" | "title" | "kind"))
            .collect();
        let value = value.clone();
        prop::sample::subsequence(keys, 0..n).prop_flat_map(move |keys| {
            prop::collection::vec(value.clone(), keys.len()).prop_map(move |values| {
                keys.iter()
                    .zip(values)
                    .map(|(k, v)| format!("{k} = {v}\n"))
                    .collect::<String>()
            })
        })
    };
    let resource = (
        "[a-c]",
        prop::sample::select(kinds),
        pairs(resource_keys, 6),
    )
        .prop_map(|(name, kind, pairs)| {
            format!("\n[resources.{name}]\ntype = \"{kind}\"\n{pairs}")
        });
    let check = (
        prop::sample::select(vec![
            "public_subnet",
            "private_subnet",
            "egress",
            "multi_az",
            "reachable",
            "not_reachable",
            "efs_mountable",
            "alb_serves_asg",
            "s3_website",
            "ecr_image",
            "x",
        ]),
        pairs(CHECK_KEYS, 5),
    )
        .prop_map(|(kind, pairs)| {
            format!("\n[[checks]]\nid = \"c\"\ntitle = \"t\"\nkind = \"{kind}\"\n{pairs}")
        });
    (
        prop::collection::vec(resource, 0..5),
        prop::collection::vec(check, 0..3),
        prop::option::of(prop::sample::select(VALUES)),
    )
        .prop_map(|(resources, checks, include)| {
            // Each table once (a table twice is a TOML error).
            let mut seen = std::collections::BTreeSet::new();
            let resources: Vec<String> = resources
                .into_iter()
                .filter(|r| seen.insert(r.lines().nth(1).unwrap_or_default().to_owned()))
                .collect();
            let include = include
                .map(|l| format!("\n[[include]]\nlab = {l}\nresources = [\"lab-vpc\"]\n"))
                .unwrap_or_default();
            format!(
                "id = \"fuzzed\"\ntitle = \"Fuzzed\"\n{include}{}{}",
                resources.concat(),
                checks.concat()
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_bundled_labs_never_panic_and_errors_are_located(
        lab in 0..BUNDLED.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut text = BUNDLED[lab].1.to_owned();
        for m in &mutations {
            text = apply(&text, m);
        }
        loads_or_is_located(&text)?;
    }

    #[test]
    fn lab_shaped_files_never_panic_and_errors_are_located(text in structured()) {
        loads_or_is_located(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn token_soup_never_panics_and_errors_are_located(text in token_soup()) {
        loads_or_is_located(&text)?;
    }

    #[test]
    fn arbitrary_text_never_panics_and_errors_are_located(text in any::<String>()) {
        loads_or_is_located(&text)?;
    }
}

/// Deep nesting is refused with a location, not a stack overflow.
#[test]
fn deeply_nested_values_are_an_error_not_a_crash() {
    for depth in [100, 10_000] {
        let text = format!("id = {}{}", "[".repeat(depth), "]".repeat(depth));
        let err = load_text(&LabSource::File(lab_path()), &text, &BTreeMap::new())
            .expect_err("not a lab");
        let Error::Lab(d) = err else {
            panic!("not located: {err:?}")
        };
        assert!(d.issues[0].location.contains("fuzzed.toml:1:"), "{d:?}");
    }
}
