//! Key pairs. AWS shows a private key once, when it creates the key pair: awslab saves it under
//! the user's awslab directory, in a directory of its own per account, region and endpoint
//! (0700), in a file of its own per key pair (0600, written atomically, never overwritten), and
//! never prints it.

use crate::check::FoundBy;
use crate::check::Names;
use crate::resources::Notice;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

use super::ec2util::scope_filters;
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{Owner, from_ec2};
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource};
use toml::Spanned;

/// What a lab file declares for a key pair.
#[derive(Debug, Clone)]
pub struct KeyPairSpec;

/// What AWS says of a key pair.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyPairFacts {
    pub key_name: String,
}

impl crate::resources::KindSpec for KeyPairSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for KeyPairFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `key_pair` table in a lab file: none beyond its type.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct KeyPairKeys {}

impl ParseSpec for KeyPairSpec {
    type Keys = KeyPairKeys;

    fn parse(_cx: &mut SpecCx<'_, '_, '_>, _name: &Spanned<String>, _d: &KeyPairKeys) -> Self {
        KeyPairSpec
    }
}

pub struct KeyPair;

/// The AWS key name: unique per region, so it carries the lab and env.
pub fn key_name(owner: &Owner, logical: &str) -> String {
    format!("{}-{}-{}", owner.lab, owner.env, logical)
}

/// One path component made of `text`: letters, digits, `.`, `-` and `_` kept, anything else `_`;
/// never empty, `.` or `..`.
fn component(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_matches('_');
    if safe.chars().any(|c| c.is_ascii_alphanumeric()) {
        safe.to_owned()
    } else {
        "unnamed".to_owned()
    }
}

/// Where the private keys of one account, region and endpoint are kept, under `root`:
/// `<account>/<region>/aws`, or the endpoint's host and port instead of `aws` (an emulator's
/// key pairs never share a directory with AWS's).
pub fn key_dir(root: &Path, account: &str, region: &str, endpoint: Option<&str>) -> PathBuf {
    let place = endpoint.map_or_else(
        || "aws".to_owned(),
        |url| {
            let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
            component(rest.trim_end_matches('/'))
        },
    );
    root.join(component(account))
        .join(component(region))
        .join(place)
}

/// The file of a key pair's private key in its directory: the key name and the key pair's id
/// (each key pair its own file, so a new key pair never meets an old key's file).
pub fn key_path(dir: &Path, key_name: &str, key_pair_id: &str) -> PathBuf {
    if key_pair_id == key_name {
        dir.join(format!("{}.pem", component(key_name)))
    } else {
        dir.join(format!(
            "{}-{}.pem",
            component(key_name),
            component(key_pair_id)
        ))
    }
}

/// What `up` says about a key pair whose private key is not at `path`: why, and the ways back.
/// `earlier` is the flat `keys/<lab>-<env>-<key>.pem` layout (not kept apart by account,
/// region and endpoint), when a file is there.
pub fn missing_key(
    owner: &Owner,
    logical: &str,
    key_name: &str,
    path: &Path,
    earlier: Option<&Path>,
) -> String {
    let (lab, env) = (&owner.lab, &owner.env);
    let mut text = format!(
        "no private key of {logical} (key pair `{key_name}`) at {}: AWS shows a private key only when it creates the key pair, and it was not saved here (the run that created it was cut short, or ran on another machine)",
        path.display()
    );
    if let Some(old) = earlier {
        text.push_str(&format!(
            "\n  - {} was saved by an earlier awslab, which did not keep accounts, regions and endpoints apart: if it is this key pair's, copy it to {} (mode 600)",
            old.display(),
            path.display()
        ));
    }
    text.push_str(&format!(
        "\n  - to get a new key: `awslab down {lab} --env {env}` deletes the key pair (and the rest of the environment), then `awslab up {lab} --env {env}` makes a new one and saves its key\n  - or import your own public key in its place: `aws ec2 delete-key-pair --key-name {key_name}`, then `aws ec2 import-key-pair --key-name {key_name} --public-key-material fileb://$HOME/.ssh/id_ed25519.pub --tag-specifications 'ResourceType=key-pair,Tags=[{{Key=awslab:lab,Value={lab}}},{{Key=awslab:env,Value={env}}},{{Key=awslab:resource,Value={logical}}},{{Key=Name,Value={logical}}}]'` (instances launched already keep the key they were given)"
    ));
    text
}

/// Creates `dir` and what is missing above it owner-only (0700), and makes `dir` itself 0700.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    builder.create(dir)?;
    Ok(())
}

/// Writes a private key to `path`, which must not exist: into a new temporary file (created
/// exclusively, 0600) in the same directory, synced, then linked to `path` only if nothing is
/// there (an existing file is never replaced; a reader never sees half a key).
/// A private key file made ready in `dir` (0700) before the key pair is created, so that a
/// key AWS shows only once always has somewhere to go: owner-only, not yet under its name.
fn key_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    private_dir(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".awslab-key-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    builder.tempfile_in(dir)
}

/// Writes `material` into the prepared file and gives it the name `path`, never over an
/// existing file: when `path` is taken, the first free `<stem>-2.pem`, `-3`, ... instead.
/// Returns the path the key was saved to.
fn save_private_key(
    tmp: tempfile::NamedTempFile,
    path: &Path,
    material: &str,
) -> std::io::Result<PathBuf> {
    let mut tmp = tmp;
    tmp.write_all(material.as_bytes())?;
    tmp.as_file().sync_all()?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut target = path.to_path_buf();
    for n in 2..=100 {
        match tmp.persist_noclobber(&target) {
            Ok(_) => return Ok(target),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                tmp = e.file;
                target = path.with_file_name(format!("{stem}-{n}.pem"));
            }
            Err(e) => {
                // The key is still in the temporary file: keep it rather than lose it.
                let kept = e.file.into_temp_path().keep().map_err(|k| k.error)?;
                return Err(std::io::Error::new(
                    e.error.kind(),
                    format!("{} (the key is kept in {})", e.error, kept.display()),
                ));
            }
        }
    }
    let kept = tmp.into_temp_path().keep().map_err(|k| k.error)?;
    Ok(kept)
}

#[cfg(test)]
fn write_private_key(path: &Path, material: &str) -> std::io::Result<PathBuf> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    save_private_key(key_file_in(dir)?, path, material)
}

#[async_trait]
impl ResourceKind for KeyPair {
    fn kind(&self) -> Kind {
        Kind::KeyPair
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Regional
    }

    /// Key pairs are in no VPC: the region's, when the lab has one.
    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::Region { with: &[] }
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<super::Stamped, AwsError> {
        Ok(super::Stamped::Ec2)
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let Some(filters) = scope_filters(scope, None) else {
            return Ok(Vec::new());
        };
        let out = aws
            .ec2
            .describe_key_pairs()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeKeyPairs", "key pairs", e))?;
        Ok(out
            .key_pairs()
            .iter()
            .filter_map(|k| {
                let name = k.key_name()?.to_owned();
                Some(Observed {
                    kind: Kind::KeyPair,
                    id: k.key_pair_id().map_or_else(|| name.clone(), str::to_owned),
                    tags: from_ec2(k.tags()),
                    facts: Facts::KeyPair(KeyPairFacts { key_name: name }),
                })
            })
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let name = key_name(cx.owner, &res.name);
        if let Some(o) = existing {
            // Without its private key file (a run cut short after CreateKeyPair, or `up` on
            // another machine) it is kept all the same: AWS never shows the private key again,
            // and awslab does not rotate credentials behind the user's back; `up` says so.
            return Ok(o.clone());
        }
        // Somewhere to put the private key before AWS makes it (it is shown only once).
        let key_file = key_file_in(cx.keys_dir).map_err(|error| {
            AwsError::from_fault(
                "save private key",
                &res.name,
                Fault::WriteFailed {
                    path: cx.keys_dir.to_path_buf(),
                    error,
                },
            )
        })?;
        let out = cx
            .aws
            .ec2
            .create_key_pair()
            .key_name(&name)
            .tag_specifications(cx.owner.tag_spec(ResourceType::KeyPair, &res.name))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:CreateKeyPair", &res.name, e))?;
        let id = out
            .key_pair_id()
            .map_or_else(|| name.clone(), str::to_owned);
        if let Some(material) = out.key_material() {
            let path = key_path(cx.keys_dir, &name, &id);
            let saved = save_private_key(key_file, &path, material).map_err(|error| {
                AwsError::from_fault(
                    "save private key",
                    &res.name,
                    Fault::WriteFailed {
                        path: path.clone(),
                        error,
                    },
                )
            })?;
            if saved == path {
                cx.wait
                    .note(format!("private key saved to {}", saved.display()));
            } else {
                cx.wait.note(format!(
                    "private key saved to {} ({} exists and is never overwritten)",
                    saved.display(),
                    path.display()
                ));
            }
        }
        Ok(Observed {
            kind: Kind::KeyPair,
            id,
            tags: cx.owner.tags_for(&res.name).into_iter().collect(),
            facts: Facts::KeyPair(KeyPairFacts { key_name: name }),
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        Vec::new()
    }

    fn compare(
        &self,
        _res: &Resource,
        _obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        Vec::new()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        // By name: accepted everywhere (one emulator ignores KeyPairId and reports success).
        let req = match &obs.facts {
            Facts::KeyPair(KeyPairFacts { key_name }) => {
                cx.aws.ec2.delete_key_pair().key_name(key_name)
            }
            _ => cx.aws.ec2.delete_key_pair().key_pair_id(&obs.id),
        };
        req.send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DeleteKeyPair", &obs.id, e))
            .map(drop)
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        let Facts::KeyPair(f) = &o.facts else {
            return None;
        };
        // awslab's own key name for the env (`<lab>-<env>-<name>`) is the env's too.
        crate::resources::named_as(o, res, names, "key name", &f.key_name).or_else(|| {
            (f.key_name == key_name(owner, &res.name))
                .then(|| FoundBy::name(&o.id, "key name", &f.key_name))
        })
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}

    fn after_up(
        &self,
        name: &str,
        obs: &Observed,
        owner: &Owner,
        keys_dir: &std::path::Path,
    ) -> Option<Notice> {
        let Facts::KeyPair(f) = &obs.facts else {
            return None;
        };
        let path = key_path(keys_dir, &f.key_name, &obs.id);
        if path.exists() {
            return Some(Notice::Info(format!(
                "private key of {name}: {}",
                path.display()
            )));
        }
        let earlier = crate::settings::keys_dir().join(format!("{}.pem", f.key_name));
        let earlier = earlier.is_file().then_some(earlier.as_path());
        Some(Notice::Warn(missing_key(
            owner,
            name,
            &f.key_name,
            &path,
            earlier,
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{key_dir, key_path, write_private_key};

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn private_key_is_written_owner_only_in_an_owner_only_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir
            .path()
            .join("keys/123456789012/us-east-1/aws/k-key-1.pem");
        write_private_key(&path, "-----BEGIN KEY-----\n").expect("write");
        assert_eq!(mode(&path), 0o600);
        for d in [
            "keys",
            "keys/123456789012",
            "keys/123456789012/us-east-1/aws",
        ] {
            assert_eq!(mode(&dir.path().join(d)), 0o700, "{d}");
        }
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "-----BEGIN KEY-----\n"
        );
        // Nothing else is left in the directory (the temporary file became the key).
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn an_existing_key_file_is_never_overwritten_and_the_new_key_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.pem");
        assert_eq!(write_private_key(&path, "first").expect("write"), path);
        let second = write_private_key(&path, "second").expect("kept");
        assert_eq!(second, dir.path().join("k-2.pem"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "first");
        assert_eq!(std::fs::read_to_string(&second).expect("read"), "second");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 2);
    }

    #[test]
    fn keys_are_kept_apart_by_account_region_endpoint_and_key_pair() {
        let root = Path::new("/home/u/.local/share/awslab/keys");
        let aws = key_dir(root, "123456789012", "us-east-1", None);
        assert_eq!(aws, root.join("123456789012/us-east-1/aws"));
        let local = key_dir(
            root,
            "123456789012",
            "us-east-1",
            Some("http://127.0.0.1:4566/"),
        );
        assert_eq!(local, root.join("123456789012/us-east-1/127.0.0.1_4566"));
        assert_ne!(key_dir(root, "123456789012", "eu-west-1", None), aws);
        assert_ne!(key_dir(root, "210987654321", "us-east-1", None), aws);
        // Whatever the endpoint says, the key stays inside its directory.
        for odd in ["http://../", "..", "http://a/../../b", "/"] {
            let d = key_dir(root, "..", "../x", Some(odd));
            assert!(d.starts_with(root), "{d:?}");
            assert!(
                d.components()
                    .all(|c| !matches!(c, std::path::Component::ParentDir)),
                "{d:?}"
            );
        }
        assert_eq!(
            key_path(&aws, "vpc-default-lab-key", "key-0abc"),
            aws.join("vpc-default-lab-key-key-0abc.pem")
        );
        assert_eq!(
            key_path(&aws, "vpc-default-lab-key", "vpc-default-lab-key"),
            aws.join("vpc-default-lab-key.pem")
        );
    }
}
