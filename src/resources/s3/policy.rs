//! The bucket policy, and what a policy grants everyone.

use super::*;
use crate::check::Names;
use crate::lab::Lab;
use crate::lab::validate::{ParseSpec, SpecCx};
use toml::Spanned;

/// What a lab file declares for a bucket policy.
#[derive(Debug, Clone)]
pub struct BucketPolicySpec {
    pub bucket: String,
    /// Everyone may `s3:GetObject` the bucket's objects, nothing more.
    pub public_read: bool,
}

/// What AWS says of a bucket policy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BucketPolicyFacts {
    pub bucket: String,
    pub document: String,
}

impl crate::resources::KindSpec for BucketPolicySpec {
    fn refs(&self) -> Vec<&str> {
        let BucketPolicySpec { bucket, .. } = self;
        vec![bucket.as_str()]
    }
}

impl crate::resources::KindFacts for BucketPolicyFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `s3_bucket_policy` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct BucketPolicyKeys {
    /// The bucket (an `s3_bucket` resource).
    #[schemars(with = "Option<String>")]
    pub bucket: Option<toml::Spanned<String>>,
    /// Grant everyone `s3:GetObject` on the objects.
    #[schemars(with = "Option<bool>")]
    pub public_read: Option<toml::Spanned<bool>>,
}

impl ParseSpec for BucketPolicySpec {
    type Keys = BucketPolicyKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &BucketPolicyKeys) -> Self {
        let kind = Kind::BucketPolicy;
        // The one policy awslab writes; a bucket without it needs no policy resource.
        if !d.public_read.as_ref().is_some_and(|b| *b.get_ref()) {
            let span = d.public_read.as_ref().map_or(name.span(), Spanned::span);
            cx.error(
                span,
                "a bucket policy resource needs `public_read = true`",
                "the only policy awslab writes",
            );
            cx.help("for a private bucket, leave the s3_bucket_policy resource out");
        }
        BucketPolicySpec {
            bucket: cx.bucket_ref(name, kind, &d.bucket),
            public_read: true,
        }
    }
}

/// The policy awslab writes for `public_read`: anyone may read the objects, nothing more.
pub fn public_read_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicReadGetObject",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }]
    })
    .to_string()
}

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One action on one resource that a bucket policy grants (or denies) everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub effect: Effect,
    /// `s3:GetObject`, or `all but s3:X` from a `NotAction`.
    pub action: String,
    /// An ARN (may hold `*`), or `all but ARN` from a `NotResource`.
    pub resource: String,
    /// What makes it less than a plain grant: `with a condition`, `NotPrincipal`, `NotAction`,
    /// `NotResource`.
    pub conditions: Vec<&'static str>,
}

impl Grant {
    /// An Allow of exactly this action on this resource, for everyone, with no condition.
    pub fn is_plain(&self) -> bool {
        self.effect == Effect::Allow && self.conditions.is_empty()
    }
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.effect == Effect::Deny {
            f.write_str("DENY ")?;
        }
        write!(f, "{} on {}", self.action, self.resource)?;
        if !self.conditions.is_empty() {
            write!(f, " ({})", self.conditions.join(", "))?;
        }
        Ok(())
    }
}

/// What a policy grants everyone (`Principal: "*"` or `{"AWS": "*"}`), sorted by how they
/// read: `s3:GetObject on arn:aws:s3:::b/*`.
pub fn public_grants(document: &str) -> Result<Vec<Grant>, String> {
    let v: serde_json::Value =
        serde_json::from_str(document).map_err(|e| format!("the policy is not JSON: {e}"))?;
    let list = |x: &serde_json::Value| -> Vec<String> {
        match x {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for s in statements {
        let everyone =
            s["Principal"] == "*" || list(&s["Principal"]["AWS"]).iter().any(|p| p == "*");
        if !everyone && s.get("NotPrincipal").is_none() {
            continue;
        }
        // What is not a plain grant is marked: a Deny, a condition, a Not* element.
        let deny = s["Effect"] != "Allow";
        let mut marks = Vec::new();
        if s.get("Condition").is_some() {
            marks.push("with a condition");
        }
        for not in ["NotPrincipal", "NotAction", "NotResource"] {
            if s.get(not).is_some() {
                marks.push(not);
            }
        }
        let actions = list(&s["Action"]);
        let actions = if actions.is_empty() {
            list(&s["NotAction"])
                .into_iter()
                .map(|a| format!("all but {a}"))
                .collect()
        } else {
            actions
        };
        let resources = list(&s["Resource"]);
        let resources = if resources.is_empty() {
            list(&s["NotResource"])
                .into_iter()
                .map(|r| format!("all but {r}"))
                .collect()
        } else {
            resources
        };
        for action in &actions {
            for resource in &resources {
                out.push(Grant {
                    effect: if deny { Effect::Deny } else { Effect::Allow },
                    action: action.clone(),
                    resource: resource.clone(),
                    conditions: marks.clone(),
                });
            }
        }
    }
    out.sort_by_cached_key(Grant::to_string);
    out.dedup();
    Ok(out)
}

pub struct BucketPolicy;

#[async_trait]
impl ResourceKind for BucketPolicy {
    fn kind(&self) -> Kind {
        Kind::BucketPolicy
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Child(Kind::Bucket)
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::WithParent
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        Ok(crate::resources::Stamped::WithParent)
    }

    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        _existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let BucketPolicySpec { bucket, .. } = crate::resources::spec_of(res)?;
        let name = bucket_of(cx, res, bucket)?;
        let document = public_read_policy(name);
        // Right after Block Public Access is relaxed, S3 may still refuse a public policy for a
        // few seconds (the change propagates): retry that, then say what else could block it.
        let started = std::time::Instant::now();
        let mut delay = std::time::Duration::from_secs(1);
        loop {
            let put = cx
                .aws
                .known("s3:PutBucketPolicy", name, || {
                    cx.aws
                        .s3
                        .put_bucket_policy()
                        .bucket(name)
                        .policy(&document)
                        .send()
                })
                .await;
            match put {
                Ok(_) => break,
                Err(e) => {
                    let waited = started.elapsed();
                    if e.aws_code() != Some("AccessDenied") {
                        return Err(e);
                    }
                    if waited >= std::time::Duration::from_secs(60) {
                        let mut e = e;
                        e.help = Some("Block Public Access may be on for the whole account (S3 -> Block Public Access settings for this account): a public-read policy needs it off".to_owned());
                        return Err(e);
                    }
                    cx.wait.note(format!(
                        "AccessDenied: Block Public Access still propagating, retrying ({} s)",
                        waited.as_secs()
                    ));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(10));
                }
            }
        }
        let id = format!("{name}/policy");
        Ok(Observed {
            kind: Kind::BucketPolicy,
            tags: cx.owner.child_tags(&id),
            id,
            facts: Facts::BucketPolicy(BucketPolicyFacts {
                bucket: name.to_owned(),
                document,
            }),
        })
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::BucketPolicy(BucketPolicySpec { bucket, .. }) = &res.spec else {
            return None;
        };
        child_of(world, bound, bucket, "policy")
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["public_grants"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::BucketPolicy(BucketPolicySpec { public_read, .. }),
            Facts::BucketPolicy(BucketPolicyFacts { bucket, document }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let want = if *public_read {
            format!("s3:GetObject on arn:aws:s3:::{bucket}/*")
        } else {
            "nothing".to_owned()
        };
        let found = match public_grants(document) {
            Ok(g) if g.is_empty() => "nothing".to_owned(),
            Ok(g) => g
                .iter()
                .map(Grant::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => e,
        };
        vec![Attr::new("public_grants", want, found)]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::BucketPolicy(BucketPolicyFacts { bucket, .. }) = &obs.facts else {
            return Ok(());
        };
        cx.aws
            .s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("s3:DeleteBucketPolicy", bucket, e))
    }

    fn related<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::BucketPolicy(s) = &res.spec else {
            return None;
        };
        self.find_existing(world, owner, res, bound)
            .map(|o| (o, format!("as part of bucket {}", s.bucket)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::BucketPolicy(s) => format!("{} has no bucket policy", s.bucket),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
