//! Buckets: a website everyone may read, encryption, versioning.

use thiserror::Error;

use super::*;
use crate::lab::PublicAccess;
use crate::resources::{BucketFacts, BucketPolicyFacts, ObjectsFacts, WebsiteFacts};

/// Why a bucket does not serve a website everyone may read, and only read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Website {
    #[error("{bucket} has no static website hosting configured")]
    NoHosting { bucket: String },
    #[error("the index document {index} is not in {bucket}: the website would answer 404")]
    IndexMissing { bucket: String, index: String },
    #[error("{bucket} has no bucket policy: nobody may read the site")]
    NoPolicy { bucket: String },
    /// A policy that cannot be read for what it grants; the text says why.
    #[error("{0}")]
    PolicyUnreadable(String),
    /// An unconditional Deny of reading the index document to everyone.
    #[error("the policy denies everyone reading {index}: {deny}")]
    Denied { index: String, deny: Grant },
    /// No plain grant of `s3:GetObject` on the objects; `grants` is what everyone gets.
    #[error(
        "the policy does not let everyone read the objects ({}); it grants everyone: {}",
        read_text(.bucket),
        grants_text(.grants)
    )]
    NoPublicRead { bucket: String, grants: Vec<Grant> },
    /// Everyone gets more than reading objects: the grants beyond it.
    #[error("the policy grants everyone more than reading objects: {}", grants_text(.extra))]
    TooWide { extra: Vec<Grant> },
    /// Block Public Access settings that stop the public policy.
    #[error(
        "Block Public Access blocks the public policy ({settings}): turn off the two settings about bucket policies"
    )]
    Blocked { settings: PublicAccess },
}

/// What everyone must be allowed on a website bucket.
fn read_text(bucket: &str) -> String {
    format!("s3:GetObject on arn:aws:s3:::{bucket}/*")
}

fn grants_text(grants: &[Grant]) -> String {
    if grants.is_empty() {
        "nothing".to_owned()
    } else {
        grants
            .iter()
            .map(Grant::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub(super) fn bucket_facts<'b>(
    name: &str,
    bound: &'b Bindings,
) -> Result<(&'b str, &'b Facts), Failure> {
    let b = bound.get(name).ok_or_else(|| Failure::NotFound {
        noun: Some(Noun::Bucket),
        name: name.to_owned(),
    })?;
    Ok((b.id.as_str(), &b.facts))
}

/// Website hosting on, the index document uploaded, a policy that lets everyone read the
/// objects and nothing more, and Block Public Access not blocking it.
pub(super) fn s3_website(name: &str, bound: &Bindings, world: &World) -> Result<String, Failure> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    let child = |what: &str| world.get(&format!("{bucket}/{what}"));
    let index = match child("website").map(|w| &w.facts) {
        Some(Facts::Website(WebsiteFacts {
            index_document: Some(i),
            ..
        })) => i.clone(),
        _ => {
            return Err(Website::NoHosting {
                bucket: bucket.to_owned(),
            }
            .into());
        }
    };
    let uploaded = matches!(child("objects").map(|o| &o.facts),
        Some(Facts::Objects(ObjectsFacts { objects, .. })) if objects.iter().any(|o| o.key == index));
    if !uploaded {
        return Err(Website::IndexMissing {
            bucket: bucket.to_owned(),
            index,
        }
        .into());
    }
    let document = match child("policy").map(|p| &p.facts) {
        Some(Facts::BucketPolicy(BucketPolicyFacts { document, .. })) => document.clone(),
        _ => {
            return Err(Website::NoPolicy {
                bucket: bucket.to_owned(),
            }
            .into());
        }
    };
    let grants =
        crate::resources::s3::public_grants(&document).map_err(Website::PolicyUnreadable)?;
    let read = read_text(bucket);
    let page = format!("arn:aws:s3:::{bucket}/{index}");
    // Action names are case-insensitive; `s3:*` on `…/*` lets everyone read too (and more,
    // reported below). Only plain grants count: a condition may well exclude the visitor.
    let covers = |g: &Grant| {
        glob(&g.action.to_ascii_lowercase(), "s3:getobject") && glob(&g.resource, &page)
    };
    if let Some(d) = grants
        .iter()
        .find(|g| g.effect == Effect::Deny && g.conditions.is_empty() && covers(g))
    {
        return Err(Website::Denied {
            index,
            deny: d.clone(),
        }
        .into());
    }
    let reads = grants.iter().any(|g| g.is_plain() && covers(g));
    if !reads {
        return Err(Website::NoPublicRead {
            bucket: bucket.to_owned(),
            grants,
        }
        .into());
    }
    let extra: Vec<Grant> = grants
        .into_iter()
        .filter(|g| g.effect != Effect::Deny && !g.to_string().eq_ignore_ascii_case(&read))
        .collect();
    if !extra.is_empty() {
        return Err(Website::TooWide { extra }.into());
    }
    if let Facts::Bucket(BucketFacts { public_access, .. }) = facts
        && (public_access.block_public_policy || public_access.restrict_public_buckets)
    {
        return Err(Website::Blocked {
            settings: *public_access,
        }
        .into());
    }
    Ok(format!(
        "{bucket}: website with index {index}; everyone may only {read}"
    ))
}

pub(super) fn s3_encryption(name: &str, bound: &Bindings) -> Result<String, Failure> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    let Facts::Bucket(BucketFacts {
        sse, bucket_key, ..
    }) = facts
    else {
        return Err(Failure::NotABucket {
            name: name.to_owned(),
        });
    };
    let bucket = bucket.to_owned();
    match (sse.as_deref(), bucket_key) {
        (Some("AES256"), true) => Ok(format!("{bucket}: SSE-S3 (AES256) with the bucket key")),
        (Some("AES256"), false) => Err(Failure::BucketKeyOff { bucket }),
        (Some(other), _) => Err(Failure::Setting {
            subject: bucket,
            setting: "default encryption",
            found: other.to_owned(),
            expected: "SSE-S3",
        }),
        (None, _) => Err(Failure::NoEncryption { bucket }),
    }
}

pub(super) fn s3_versioning(name: &str, bound: &Bindings) -> Result<String, Failure> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    match facts {
        Facts::Bucket(BucketFacts { versioning, .. }) if versioning == "Enabled" => {
            Ok(format!("{bucket}: versioning Enabled"))
        }
        Facts::Bucket(BucketFacts { versioning, .. }) => Err(Failure::Setting {
            subject: bucket.to_owned(),
            setting: "versioning",
            found: versioning.clone(),
            expected: "Enabled",
        }),
        _ => Err(Failure::NotABucket {
            name: name.to_owned(),
        }),
    }
}

/// IAM-style wildcard match (`*` any run, `?` one character), case-sensitive.
pub(super) fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
