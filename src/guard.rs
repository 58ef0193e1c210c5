//! Which accounts awslab acts on (`up`, `down`, `sweep`). With an allow-list
//! (`AWSLAB_ALLOWED_ACCOUNTS`, else `allowed_accounts` in the config file), only the accounts on
//! it, whatever the flags. Without one, an account whose alias looks like production, or whose
//! alias cannot be read, only with `--force`; an account without an alias is allowed.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde::Deserialize;
use thiserror::Error;

use crate::aws::{Aws, AwsError};

/// The environment variable that holds the allow-list (account ids, comma- or space-separated).
pub const ALLOWED_ACCOUNTS_VAR: &str = "AWSLAB_ALLOWED_ACCOUNTS";

/// Where an allow-list was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    Env,
    File(PathBuf),
}

impl fmt::Display for ListSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListSource::Env => write!(f, "{ALLOWED_ACCOUNTS_VAR}"),
            ListSource::File(path) => write!(f, "allowed_accounts in {}", path.display()),
        }
    }
}

/// The accounts awslab may act on, when the user keeps a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    pub accounts: Vec<String>,
    pub source: ListSource,
}

impl AllowList {
    pub fn allows(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a == account)
    }
}

/// The config file could not be used.
#[derive(Debug, Error, Diagnostic)]
pub enum ConfigError {
    #[error("cannot read the config file {}", path.display())]
    #[diagnostic(code(awslab::config::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the config file {} is not valid: {message}", path.display())]
    #[diagnostic(
        code(awslab::config::invalid),
        help("it takes one key: allowed_accounts = [\"123456789012\"]")
    )]
    Invalid { path: PathBuf, message: String },

    #[error("{source_of}: `{id}` is not an AWS account id")]
    #[diagnostic(
        code(awslab::config::account_id),
        help("an account id is 12 digits, e.g. 123456789012")
    )]
    BadAccount { source_of: ListSource, id: String },
}

/// Why awslab does not act on an account.
#[derive(Debug, Error, Diagnostic)]
pub enum Refusal {
    #[error("refusing to {action}: account {account} is not in the allow-list ({source_of})")]
    #[diagnostic(
        code(awslab::guard::not_allowed),
        help("check --profile and the account; to act on it, add it to {source_of}")
    )]
    NotAllowed {
        action: String,
        account: String,
        source_of: ListSource,
    },

    #[error(
        "refusing to {action}: account {account} has the alias `{alias}`, which looks like production"
    )]
    #[diagnostic(
        code(awslab::guard::production),
        help(
            "check --profile and the account; if it really is a lab account, pass --force or add it to the allow-list ({ALLOWED_ACCOUNTS_VAR}, or allowed_accounts in {config})"
        )
    )]
    Production {
        action: String,
        account: String,
        alias: String,
        config: String,
    },

    #[error(
        "refusing to {action}: cannot read the alias of account {account}, so cannot tell whether it is production"
    )]
    #[diagnostic(
        code(awslab::guard::alias_unreadable),
        help(
            "allow iam:ListAccountAliases, add the account to the allow-list ({ALLOWED_ACCOUNTS_VAR}, or allowed_accounts in {config}), or pass --force if it really is a lab account"
        )
    )]
    AliasUnreadable {
        action: String,
        account: String,
        config: String,
        #[source]
        source: AwsError,
    },
}

/// What the user's config file may hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    allowed_accounts: Option<Vec<String>>,
}

fn account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn checked(ids: Vec<String>, source: ListSource) -> Result<AllowList, ConfigError> {
    if let Some(bad) = ids.iter().find(|id| !account_id(id)) {
        return Err(ConfigError::BadAccount {
            id: bad.clone(),
            source_of: source,
        });
    }
    Ok(AllowList {
        accounts: ids,
        source,
    })
}

/// The allow-list: `var` (the value of [`ALLOWED_ACCOUNTS_VAR`]) when it names an account,
/// else `allowed_accounts` of the config file at `config`, if there is one. An empty list in the
/// file allows no account.
pub fn allow_list_from(var: Option<&str>, config: &Path) -> Result<Option<AllowList>, ConfigError> {
    let ids: Vec<String> = var
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !ids.is_empty() {
        return checked(ids, ListSource::Env).map(Some);
    }
    let text = match std::fs::read_to_string(config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: config.to_owned(),
                source,
            });
        }
    };
    let file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: config.to_owned(),
        message: e.message().to_owned(),
    })?;
    file.allowed_accounts
        .map(|ids| checked(ids, ListSource::File(config.to_owned())))
        .transpose()
}

/// The allow-list of this user: the environment, else the config file.
pub fn allow_list() -> Result<Option<AllowList>, ConfigError> {
    let var = std::env::var(ALLOWED_ACCOUNTS_VAR).ok();
    allow_list_from(var.as_deref(), &crate::settings::config_path())
}

/// The allow-list's verdict, when there is one: listed, or refused whatever the flags.
pub fn by_list(list: &AllowList, account: &str, action: &str) -> Result<(), Refusal> {
    if list.allows(account) {
        Ok(())
    } else {
        Err(Refusal::NotAllowed {
            action: action.to_owned(),
            account: account.to_owned(),
            source_of: list.source.clone(),
        })
    }
}

/// The verdict by the account's aliases (or the error reading them), without an allow-list:
/// `Ok(Some(warning))` when only `force` lets it through.
pub fn by_alias(
    account: &str,
    action: &str,
    aliases: Result<Vec<String>, AwsError>,
    force: bool,
) -> Result<Option<String>, Refusal> {
    let config = crate::settings::config_path().display().to_string();
    match aliases {
        Ok(aliases) => {
            let Some(alias) = aliases
                .into_iter()
                .find(|a| a.to_ascii_lowercase().contains("prod"))
            else {
                return Ok(None);
            };
            if force {
                Ok(Some(format!(
                    "account {account} has the alias `{alias}`, which looks like production; going on because of --force"
                )))
            } else {
                Err(Refusal::Production {
                    action: action.to_owned(),
                    account: account.to_owned(),
                    alias,
                    config,
                })
            }
        }
        Err(e) if force => Ok(Some(format!(
            "cannot read the alias of account {account} ({}: {}), so cannot tell whether it is production; going on because of --force",
            e.op,
            e.cause.code()
        ))),
        Err(source) => Err(Refusal::AliasUnreadable {
            action: action.to_owned(),
            account: account.to_owned(),
            config,
            source,
        }),
    }
}

/// Whether awslab may `action` in `account`: by the allow-list when there is one (the alias is
/// then not read), else by the alias. `Ok(Some(warning))` when only `force` lets it through.
/// For what writes to an account without tearing anything down (`push`): only the allow-list,
/// when one is set, decides (it is the only thing awslab acts on).
pub async fn check_allowed(
    aws: &Aws,
    action: &str,
    allowed: Option<&AllowList>,
) -> Result<(), crate::error::Error> {
    let Some(list) = allowed else {
        return Ok(());
    };
    let account = aws.account_id().await?;
    by_list(list, &account, action)?;
    Ok(())
}

pub async fn check(
    aws: &Aws,
    account: &str,
    action: &str,
    allowed: Option<&AllowList>,
    force: bool,
) -> Result<Option<String>, Refusal> {
    if let Some(list) = allowed {
        return by_list(list, account, action).map(|()| None);
    }
    by_alias(account, action, aws.account_aliases().await, force)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied() -> AwsError {
        AwsError::answer(
            "iam:ListAccountAliases",
            "account",
            "AccessDenied",
            "not authorized",
        )
    }

    #[test]
    fn an_alias_that_cannot_be_read_is_refused_without_force() {
        let r = by_alias("123456789012", "delete x", Err(denied()), false);
        assert!(matches!(r, Err(Refusal::AliasUnreadable { .. })), "{r:?}");
        let w = by_alias("123456789012", "delete x", Err(denied()), true)
            .expect("forced")
            .expect("warning");
        assert!(w.contains("AccessDenied") && w.contains("--force"), "{w}");
    }

    #[test]
    fn a_production_alias_is_refused_without_force_and_no_alias_is_allowed() {
        let prod = || Ok(vec!["acme-PROD-1".to_owned()]);
        let r = by_alias("123456789012", "create x", prod(), false);
        assert!(
            matches!(&r, Err(Refusal::Production { alias, .. }) if alias == "acme-PROD-1"),
            "{r:?}"
        );
        assert!(matches!(
            by_alias("123456789012", "create x", prod(), true),
            Ok(Some(_))
        ));
        assert!(matches!(
            by_alias("123456789012", "create x", Ok(Vec::new()), false),
            Ok(None)
        ));
        assert!(matches!(
            by_alias(
                "123456789012",
                "create x",
                Ok(vec!["acme-labs".into()]),
                false
            ),
            Ok(None)
        ));
    }

    #[test]
    fn the_allow_list_alone_decides_when_set() {
        let list = AllowList {
            accounts: vec!["111111111111".into()],
            source: ListSource::Env,
        };
        assert!(by_list(&list, "111111111111", "sweep").is_ok());
        let e = by_list(&list, "222222222222", "sweep").expect_err("not listed");
        assert!(e.to_string().contains("222222222222"), "{e}");
        assert!(e.to_string().contains(ALLOWED_ACCOUNTS_VAR), "{e}");
    }

    #[test]
    fn the_variable_wins_over_the_file_and_ids_are_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let config = dir.path().join("config.toml");
        assert_eq!(allow_list_from(None, &config).expect("no file"), None);
        assert_eq!(allow_list_from(Some(" "), &config).expect("blank"), None);
        std::fs::write(&config, "allowed_accounts = [\"111111111111\"]\n").expect("write");
        let from_file = allow_list_from(None, &config).expect("file").expect("list");
        assert_eq!(from_file.accounts, vec!["111111111111"]);
        assert_eq!(from_file.source, ListSource::File(config.clone()));
        let from_var = allow_list_from(Some("222222222222, 333333333333"), &config)
            .expect("var")
            .expect("list");
        assert_eq!(from_var.accounts, vec!["222222222222", "333333333333"]);
        assert_eq!(from_var.source, ListSource::Env);
        assert!(matches!(
            allow_list_from(Some("2222"), &config),
            Err(ConfigError::BadAccount { .. })
        ));
        std::fs::write(&config, "allowed_acounts = [\"111111111111\"]\n").expect("write");
        assert!(matches!(
            allow_list_from(None, &config),
            Err(ConfigError::Invalid { .. })
        ));
        std::fs::write(&config, "allowed_accounts = []\n").expect("write");
        let empty = allow_list_from(None, &config)
            .expect("empty")
            .expect("list");
        assert!(!empty.allows("111111111111"));
    }
}
