//! The names `check` adopts hand-built resources by: the lab's own names (`lab-vpc`), or with
//! `--name-prefix bob-` those names behind the prefix (`bob-lab-vpc`), so that students who
//! share an account are each graded on what they built and nothing of anyone else's.

use thiserror::Error;

/// How hand-built resources are named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    prefix: Option<String>,
}

/// Longest prefix accepted: a load balancer name (32 characters) must still hold one.
const MAX_PREFIX: usize = 24;

/// Why a `--name-prefix` is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BadPrefix {
    #[error("the prefix is empty")]
    Empty,
    #[error("`{prefix}` is longer than {max} characters")]
    TooLong { prefix: String, max: usize },
    /// A character some kind's names do not allow.
    #[error("`{prefix}` contains `{c}`: use letters, digits, `-` or `_`")]
    Character { prefix: String, c: char },
}

impl Names {
    /// The lab's names as they are.
    pub fn unprefixed() -> Names {
        Names::default()
    }

    /// `--name-prefix` as given, with `{env}` standing for the env (`{env}-` for env `bob` is
    /// `bob-`). Letters, digits, `-` and `_`: characters every kind's names allow.
    pub fn parse(raw: &str, env: &str) -> Result<Names, BadPrefix> {
        let prefix = raw.replace("{env}", env);
        if prefix.is_empty() {
            return Err(BadPrefix::Empty);
        }
        if prefix.len() > MAX_PREFIX {
            return Err(BadPrefix::TooLong {
                prefix,
                max: MAX_PREFIX,
            });
        }
        if let Some(c) = prefix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(BadPrefix::Character { prefix, c });
        }
        Ok(Names {
            prefix: Some(prefix),
        })
    }

    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The name a hand-built `logical` carries.
    pub fn of(&self, logical: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}{logical}"),
            None => logical.to_owned(),
        }
    }

    /// Each of the names, as [`Names::of`].
    pub fn all<'a>(&self, logical: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        logical.into_iter().map(|l| self.of(l)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{BadPrefix, Names};

    #[test]
    fn prefixes_name_every_resource() {
        let bob = Names::parse("bob-", "alice").expect("prefix");
        assert_eq!(bob.of("lab-vpc"), "bob-lab-vpc");
        assert_eq!(Names::unprefixed().of("lab-vpc"), "lab-vpc");
        let by_env = Names::parse("{env}-", "bob").expect("prefix");
        assert_eq!(by_env.of("app-sg"), "bob-app-sg");
        assert_eq!(by_env.prefix(), Some("bob-"));
    }

    #[test]
    fn prefixes_use_characters_every_kind_allows() {
        assert_eq!(Names::parse("", "bob"), Err(BadPrefix::Empty));
        let slash = Names::parse("bob/", "bob").expect_err("slash");
        assert_eq!(
            slash,
            BadPrefix::Character {
                prefix: "bob/".into(),
                c: '/'
            }
        );
        let slash = slash.to_string();
        assert!(slash.contains("contains `/`"), "{slash}");
        assert!(matches!(
            Names::parse(&"x".repeat(25), "bob"),
            Err(BadPrefix::TooLong { max: 24, .. })
        ));
        assert!(Names::parse("team_7-", "bob").is_ok());
    }
}
