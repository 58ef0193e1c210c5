//! The class roster: a TOML file listing students, each an env, and optionally the AWS profile,
//! the role to assume (with an external id) and the region their env lives in. Every error names
//! `file:line:col` and is found before any AWS call. The JSON Schema of the file is
//! `schemas/roster.schema.json`, generated from these types.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use miette::{Diagnostic, NamedSource, SourceSpan};
use schemars::JsonSchema;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::lab::diagnostic::line_col;

/// A class: who takes the lab, and where each env lives.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "awslab roster")]
pub struct RosterFile {
    /// What every student has unless their own entry says otherwise.
    #[serde(default)]
    pub defaults: Defaults,
    /// One entry per student: `[[student]]` tables.
    #[schemars(length(min = 1))]
    pub student: Vec<StudentDef>,
}

/// Class-wide settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The AWS profile to use (or to assume roles from). Else `--profile`, else the default
    /// credential chain.
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// The role to assume for every student (one shared lab account).
    #[schemars(with = "Option<String>", regex(pattern = ROLE_ARN_PATTERN))]
    pub role_arn: Option<Spanned<String>>,
    /// The external id the role's trust policy asks for.
    #[schemars(with = "Option<String>")]
    pub external_id: Option<Spanned<String>>,
    /// The region, e.g. `eu-west-1`. Else `--region`, else the profile's.
    #[schemars(with = "Option<String>", regex(pattern = REGION_PATTERN))]
    pub region: Option<Spanned<String>>,
}

/// One student.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StudentDef {
    /// The student's lab environment (letters, digits, `-`, `_`): what their resources are
    /// tagged with and what `--only` names.
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub env: Spanned<String>,
    /// A display name for reports (the env otherwise).
    pub name: Option<String>,
    /// The AWS profile for this student (or to assume their role from).
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// The role to assume in the student's account, e.g.
    /// `arn:aws:iam::111122223333:role/LabStudent`.
    #[schemars(with = "Option<String>", regex(pattern = ROLE_ARN_PATTERN))]
    pub role_arn: Option<Spanned<String>>,
    /// The external id the role's trust policy asks for.
    #[schemars(with = "Option<String>")]
    pub external_id: Option<Spanned<String>>,
    /// The region of this student's env.
    #[schemars(with = "Option<String>", regex(pattern = REGION_PATTERN))]
    pub region: Option<Spanned<String>>,
    /// The prefix of the names this student gave hand-built resources (`check --name-prefix`),
    /// for a class sharing one account; `{env}` stands for the env.
    #[schemars(with = "Option<String>")]
    pub name_prefix: Option<Spanned<String>>,
}

const ROLE_ARN_PATTERN: &str = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$";
const REGION_PATTERN: &str = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$";

/// A role to assume: its ARN and the external id its trust policy may ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
}

impl Role {
    /// The account id in the ARN.
    pub fn account(&self) -> Option<&str> {
        self.arn.split(':').nth(4).filter(|a| !a.is_empty())
    }
}

/// One student, resolved: defaults applied, everything checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    pub env: String,
    pub name: String,
    pub profile: Option<String>,
    pub role: Option<Role>,
    pub region: Option<String>,
    pub name_prefix: Option<String>,
}

/// A checked roster.
#[derive(Debug, Clone)]
pub struct Roster {
    pub path: String,
    pub students: Vec<Student>,
}

/// What is wrong with a roster file, where.
#[derive(Debug, Error, Diagnostic)]
pub enum RosterError {
    #[error("cannot read the roster {path}")]
    #[diagnostic(code(awslab::roster::read))]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{at}: {message}")]
    #[diagnostic(code(awslab::roster::invalid))]
    Invalid {
        /// `file:line:col`.
        at: String,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("--only {name}: no such student in {path}")]
    #[diagnostic(code(awslab::roster::only), help("the roster's envs: {known}"))]
    NotInRoster {
        name: String,
        path: String,
        known: String,
    },
}

/// Reads and checks a roster file.
pub fn load(path: &Path) -> Result<Roster, RosterError> {
    let text = std::fs::read_to_string(path).map_err(|source| RosterError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

struct Source<'a> {
    path: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: String, help: Option<&str>) -> RosterError {
        let start = span.start.min(self.text.len());
        let end = span.end.clamp(start, self.text.len());
        let (line, col) = line_col(self.text, start);
        RosterError::Invalid {
            at: format!("{}:{line}:{col}", self.path),
            message,
            src: NamedSource::new(self.path, self.text.to_owned()),
            span: (start..end).into(),
            help: help.map(str::to_owned),
        }
    }
}

/// Parses and checks roster text (`path` names it in errors).
pub fn parse(path: &str, text: &str) -> Result<Roster, RosterError> {
    let src = Source { path, text };
    let file: RosterFile = toml::from_str(text).map_err(|e| {
        src.error(
            e.span().unwrap_or(0..0),
            e.message().trim().to_owned(),
            Some(
                "a roster is `[[student]]` tables with `env` and optionally `name`, `profile`, `role_arn`, `external_id`, `region`, `name_prefix`; see schemas/roster.schema.json",
            ),
        )
    })?;
    if file.student.is_empty() {
        return Err(src.error(
            0..0,
            "the roster lists no student".to_owned(),
            Some("add a `[[student]]` table with `env = \"alice\"`"),
        ));
    }
    let d = &file.defaults;
    check_role(&src, d.role_arn.as_ref())?;
    check_region(&src, d.region.as_ref())?;
    let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
    let mut students = Vec::new();
    for s in &file.student {
        let env = s.env.get_ref();
        if env.is_empty()
            || !env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(src.error(
                s.env.span(),
                format!("env `{env}`: use letters, digits, `-` or `_`"),
                None,
            ));
        }
        if let Some(first) = seen.insert(env.clone(), s.env.span()) {
            let (line, _) = line_col(text, first.start);
            return Err(src.error(
                s.env.span(),
                format!("env `{env}` is listed twice (first on line {line})"),
                Some("each student needs an env of their own"),
            ));
        }
        check_role(&src, s.role_arn.as_ref())?;
        check_region(&src, s.region.as_ref())?;
        let role_arn = s.role_arn.as_ref().or(d.role_arn.as_ref());
        // A class-wide external id is for the students who assume a role.
        let external_id = s.external_id.as_ref().or(d.external_id.as_ref());
        if let (Some(id), None) = (s.external_id.as_ref(), role_arn) {
            return Err(src.error(
                id.span(),
                "`external_id` is given, but no `role_arn` to assume with it".to_owned(),
                Some("add `role_arn = \"arn:aws:iam::ACCOUNT:role/NAME\"`, or remove external_id"),
            ));
        }
        if let Some(prefix) = &s.name_prefix
            && let Err(e) = crate::check::Names::parse(prefix.get_ref(), env)
        {
            return Err(src.error(
                prefix.span(),
                format!("name_prefix `{}`: {e}", prefix.get_ref()),
                Some("e.g. name_prefix = \"bob-\""),
            ));
        }
        let value = |v: Option<&Spanned<String>>| v.map(|v| v.get_ref().clone());
        students.push(Student {
            env: env.clone(),
            name: s.name.clone().unwrap_or_else(|| env.clone()),
            profile: value(s.profile.as_ref().or(d.profile.as_ref())),
            role: role_arn.map(|arn| Role {
                arn: arn.get_ref().clone(),
                external_id: value(external_id),
            }),
            region: value(s.region.as_ref().or(d.region.as_ref())),
            name_prefix: value(s.name_prefix.as_ref()).filter(|p| !p.is_empty()),
        });
    }
    Ok(Roster {
        path: path.to_owned(),
        students,
    })
}

fn check_role(src: &Source<'_>, arn: Option<&Spanned<String>>) -> Result<(), RosterError> {
    let Some(arn) = arn else { return Ok(()) };
    let parts: Vec<&str> = arn.get_ref().splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@/_-".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(src.error(
            arn.span(),
            format!("`{}` is not an IAM role ARN", arn.get_ref()),
            Some("e.g. arn:aws:iam::111122223333:role/LabStudent"),
        ))
    }
}

fn check_region(src: &Source<'_>, region: Option<&Spanned<String>>) -> Result<(), RosterError> {
    let Some(region) = region else { return Ok(()) };
    let r = region.get_ref();
    let parts: Vec<&str> = r.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(src.error(
            region.span(),
            format!("`{r}` is not an AWS region"),
            Some("e.g. us-east-1, eu-west-1"),
        ))
    }
}

impl Roster {
    /// The students `--only` names (all without it), in roster order.
    pub fn only(self, names: &[String]) -> Result<Roster, RosterError> {
        if names.is_empty() {
            return Ok(self);
        }
        if let Some(missing) = names
            .iter()
            .find(|n| !self.students.iter().any(|s| &s.env == *n))
        {
            return Err(RosterError::NotInRoster {
                name: missing.clone(),
                path: self.path.clone(),
                known: self
                    .students
                    .iter()
                    .map(|s| s.env.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Roster {
            students: self
                .students
                .into_iter()
                .filter(|s| names.contains(&s.env))
                .collect(),
            path: self.path,
        })
    }
}

/// The roster file's JSON Schema, as `schemas/roster.schema.json` holds it.
pub fn schema() -> String {
    let schema = schemars::schema_for!(RosterFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse("class.toml", text) {
            Err(RosterError::Invalid { at, message, .. }) => format!("{at}: {message}"),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply_unless_a_student_sets_their_own() {
        let r = parse(
            "class.toml",
            r#"
[defaults]
region = "eu-west-1"
external_id = "course-2026"
role_arn = "arn:aws:iam::111111111111:role/Lab"

[[student]]
env = "alice"
name = "Alice Martin"

[[student]]
env = "bob"
region = "us-east-2"
role_arn = "arn:aws:iam::222222222222:role/Lab"
name_prefix = "bob-"
"#,
        )
        .unwrap();
        assert_eq!(r.students.len(), 2);
        let (a, b) = (&r.students[0], &r.students[1]);
        assert_eq!(a.name, "Alice Martin");
        assert_eq!(a.region.as_deref(), Some("eu-west-1"));
        assert_eq!(a.role.as_ref().unwrap().account(), Some("111111111111"));
        assert_eq!(
            a.role.as_ref().unwrap().external_id.as_deref(),
            Some("course-2026")
        );
        assert_eq!(b.name, "bob");
        assert_eq!(b.region.as_deref(), Some("us-east-2"));
        assert_eq!(b.role.as_ref().unwrap().account(), Some("222222222222"));
        assert_eq!(b.name_prefix.as_deref(), Some("bob-"));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        assert_eq!(
            err("[[student]]\nenv = \"alice\"\n\n[[student]]\nenv = \"alice\"\n"),
            "class.toml:5:7: env `alice` is listed twice (first on line 2)"
        );
        assert_eq!(
            err("[[student]]\nenv = \"al ice\"\n"),
            "class.toml:2:7: env `al ice`: use letters, digits, `-` or `_`"
        );
        assert_eq!(
            err("[[student]]\nenv = \"a\"\nrole_arn = \"arn:aws:iam::12:role/x\"\n"),
            "class.toml:3:12: `arn:aws:iam::12:role/x` is not an IAM role ARN"
        );
        assert_eq!(
            err("[[student]]\nenv = \"a\"\nregion = \"mars\"\n"),
            "class.toml:3:10: `mars` is not an AWS region"
        );
        assert_eq!(
            err("[[student]]\nenv = \"a\"\nexternal_id = \"x\"\n"),
            "class.toml:3:15: `external_id` is given, but no `role_arn` to assume with it"
        );
        let unknown = err("[[student]]\nenv = \"a\"\nrole = \"x\"\n");
        assert!(
            unknown.starts_with("class.toml:3:1: unknown field `role`"),
            "{unknown}"
        );
        let prefix = err("[[student]]\nenv = \"a\"\nname_prefix = \"b c\"\n");
        assert!(
            prefix.starts_with("class.toml:3:15: name_prefix `b c`:"),
            "{prefix}"
        );
        let missing = err("[[student]]\nname = \"A\"\n");
        assert!(missing.contains("missing field `env`"), "{missing}");
        assert_eq!(
            err("[defaults]\n"),
            "class.toml:1:1: missing field `student`"
        );
    }

    #[test]
    fn only_keeps_the_named_students_and_refuses_unknown_ones() {
        let r = parse(
            "c.toml",
            "[[student]]\nenv = \"a\"\n[[student]]\nenv = \"b\"\n[[student]]\nenv = \"c\"\n",
        )
        .unwrap();
        let some = r.clone().only(&["c".into(), "a".into()]).unwrap();
        let envs: Vec<&str> = some.students.iter().map(|s| s.env.as_str()).collect();
        assert_eq!(envs, ["a", "c"]);
        match r.only(&["z".into()]) {
            Err(RosterError::NotInRoster { name, known, .. }) => {
                assert_eq!(name, "z");
                assert_eq!(known, "a, b, c");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_shipped_json_schema_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/roster.schema.json");
        let generated = schema();
        if std::env::var_os("AWSLAB_UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let shipped = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            shipped, generated,
            "schemas/roster.schema.json is stale: run AWSLAB_UPDATE_SCHEMAS=1 cargo test --lib roster"
        );
        assert!(generated.contains("\"student\""));
        assert!(generated.contains("role_arn"));
    }

    #[test]
    fn the_example_roster_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/class.roster.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let r = parse(path, &text).unwrap();
        assert!(r.students.len() >= 3);
    }
}
