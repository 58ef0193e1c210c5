//! Buckets: a website everyone may read, encryption, versioning.

use super::*;
use crate::resources::{BucketFacts, BucketPolicyFacts, ObjectsFacts, WebsiteFacts};

pub(super) fn bucket_facts<'b>(
    name: &str,
    bound: &'b Bindings,
) -> Result<(&'b str, &'b Facts), String> {
    let b = bound
        .get(name)
        .ok_or_else(|| format!("bucket `{name}` was not found"))?;
    Ok((b.id.as_str(), &b.facts))
}

/// Website hosting on, the index document uploaded, a policy that lets everyone read the
/// objects and nothing more, and Block Public Access not blocking it.
pub(super) fn s3_website(name: &str, bound: &Bindings, world: &World) -> Result<String, String> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    let child = |what: &str| world.get(&format!("{bucket}/{what}"));
    let index = match child("website").map(|w| &w.facts) {
        Some(Facts::Website(WebsiteFacts {
            index_document: Some(i),
            ..
        })) => i.clone(),
        _ => return Err(format!("{bucket} has no static website hosting configured")),
    };
    let uploaded = matches!(child("objects").map(|o| &o.facts),
        Some(Facts::Objects(ObjectsFacts { objects, .. })) if objects.iter().any(|o| o.key == index));
    if !uploaded {
        return Err(format!(
            "the index document {index} is not in {bucket}: the website would answer 404"
        ));
    }
    let document = match child("policy").map(|p| &p.facts) {
        Some(Facts::BucketPolicy(BucketPolicyFacts { document, .. })) => document.clone(),
        _ => {
            return Err(format!(
                "{bucket} has no bucket policy: nobody may read the site"
            ));
        }
    };
    let grants = crate::resources::s3::public_grants(&document)?;
    let read = format!("s3:GetObject on arn:aws:s3:::{bucket}/*");
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
        return Err(format!("the policy denies everyone reading {index}: {d}"));
    }
    let reads = grants.iter().any(|g| g.is_plain() && covers(g));
    if !reads {
        return Err(format!(
            "the policy does not let everyone read the objects ({read}); it grants everyone: {}",
            if grants.is_empty() {
                "nothing".to_owned()
            } else {
                grants
                    .iter()
                    .map(Grant::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        ));
    }
    let extra: Vec<String> = grants
        .iter()
        .filter(|g| g.effect != Effect::Deny)
        .map(Grant::to_string)
        .filter(|g| !g.eq_ignore_ascii_case(&read))
        .collect();
    if !extra.is_empty() {
        return Err(format!(
            "the policy grants everyone more than reading objects: {}",
            extra
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Facts::Bucket(BucketFacts { public_access, .. }) = facts
        && (public_access.block_public_policy || public_access.restrict_public_buckets)
    {
        return Err(format!(
            "Block Public Access blocks the public policy ({public_access}): turn off the two settings about bucket policies"
        ));
    }
    Ok(format!(
        "{bucket}: website with index {index}; everyone may only {read}"
    ))
}

pub(super) fn s3_encryption(name: &str, bound: &Bindings) -> Result<String, String> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    let Facts::Bucket(BucketFacts {
        sse, bucket_key, ..
    }) = facts
    else {
        return Err(format!("{name} is not a bucket"));
    };
    match (sse.as_deref(), bucket_key) {
        (Some("AES256"), true) => Ok(format!("{bucket}: SSE-S3 (AES256) with the bucket key")),
        (Some("AES256"), false) => Err(format!(
            "{bucket}: SSE-S3 is set, but the bucket key is off"
        )),
        (Some(other), _) => Err(format!(
            "{bucket}: default encryption is {other}, not SSE-S3"
        )),
        (None, _) => Err(format!(
            "{bucket}: no default encryption configured (S3 applies SSE-S3 anyway since 2023, but the lab asks you to set it)"
        )),
    }
}

pub(super) fn s3_versioning(name: &str, bound: &Bindings) -> Result<String, String> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    match facts {
        Facts::Bucket(BucketFacts { versioning, .. }) if versioning == "Enabled" => {
            Ok(format!("{bucket}: versioning Enabled"))
        }
        Facts::Bucket(BucketFacts { versioning, .. }) => {
            Err(format!("{bucket}: versioning is {versioning}, not Enabled"))
        }
        _ => Err(format!("{name} is not a bucket")),
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
