//! Key pairs: the private key is written once, mode 0600, under the user's awslab directory,
//! and never printed.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

use super::ec2util::scope_filters;
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{Owner, from_ec2};
use crate::aws::{Aws, AwsError};
use crate::lab::{Kind, Resource};

pub struct KeyPair;

/// The AWS key name: unique per region, so it carries the lab and env.
pub fn key_name(owner: &Owner, logical: &str) -> String {
    format!("{}-{}-{}", owner.lab, owner.env, logical)
}

/// Where the private key of a key pair is saved.
pub fn key_path(dir: &Path, key_name: &str) -> PathBuf {
    dir.join(format!("{key_name}.pem"))
}

fn write_private_key(path: &Path, material: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(material.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[async_trait]
impl ResourceKind for KeyPair {
    fn kind(&self) -> Kind {
        Kind::KeyPair
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
                    facts: Facts::KeyPair { key_name: name },
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
            let path = key_path(cx.keys_dir, &name);
            if !path.exists() {
                // A run cut short after CreateKeyPair, or `up` on another machine: AWS never
                // shows the private key again, and awslab does not rotate credentials behind
                // the user's back.
                cx.wait.note(format!(
                    "warning: no private key at {} (the run that created the key pair was cut short, or ran on another machine); to get a new one, delete the key pair `{name}` and run up again",
                    path.display()
                ));
            }
            return Ok(o.clone());
        }
        let out = cx
            .aws
            .ec2
            .create_key_pair()
            .key_name(&name)
            .tag_specifications(cx.owner.tag_spec(ResourceType::KeyPair, &res.name))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:CreateKeyPair", &res.name, e))?;
        if let Some(material) = out.key_material() {
            let path = key_path(cx.keys_dir, &name);
            write_private_key(&path, material).map_err(|e| {
                AwsError::other(
                    "save private key",
                    &res.name,
                    "WriteFailed",
                    format!("{}: {e}", path.display()),
                )
            })?;
            cx.wait
                .note(format!("private key saved to {}", path.display()));
        }
        Ok(Observed {
            kind: Kind::KeyPair,
            id: out
                .key_pair_id()
                .map_or_else(|| name.clone(), str::to_owned),
            tags: cx.owner.tags_for(&res.name).into_iter().collect(),
            facts: Facts::KeyPair { key_name: name },
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
            Facts::KeyPair { key_name } => cx.aws.ec2.delete_key_pair().key_name(key_name),
            _ => cx.aws.ec2.delete_key_pair().key_pair_id(&obs.id),
        };
        req.send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DeleteKeyPair", &obs.id, e))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::write_private_key;

    #[cfg(unix)]
    #[test]
    fn private_key_is_written_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/k.pem");
        write_private_key(&path, "-----BEGIN KEY-----\n").expect("write");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "-----BEGIN KEY-----\n"
        );
    }
}
