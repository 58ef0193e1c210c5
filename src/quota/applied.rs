//! The quota values in force: the applied value from Service Quotas, else AWS's default for the
//! quota, else the documented default. An emulator without Service Quotas, or an account that
//! may not read it, still gets a preflight: the table says where each number came from.

use async_trait::async_trait;
use serde::Serialize;

use super::catalog::Quota;
use crate::aws::{Aws, AwsError};

/// Where a quota's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `servicequotas:GetServiceQuota`: the value applied to this account.
    Applied,
    /// `servicequotas:GetAWSDefaultServiceQuota`: AWS's default, when no value is applied.
    AwsDefault,
    /// The default AWS documents ([`Quota::documented_default`]), when Service Quotas gave
    /// no answer.
    Documented,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Applied => "applied",
            Source::AwsDefault => "aws-default",
            Source::Documented => "documented",
        })
    }
}

/// A quota's value and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limit {
    pub value: u32,
    pub source: Source,
}

/// The two Service Quotas reads, each `Ok(None)` when it answers without a value.
#[async_trait]
pub trait QuotaReader: Sync {
    async fn applied(&self, quota: Quota) -> Result<Option<f64>, AwsError>;
    async fn aws_default(&self, quota: Quota) -> Result<Option<f64>, AwsError>;
}

#[async_trait]
impl QuotaReader for Aws {
    async fn applied(&self, quota: Quota) -> Result<Option<f64>, AwsError> {
        let out = self
            .servicequotas
            .get_service_quota()
            .service_code(quota.service())
            .quota_code(quota.code())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("servicequotas:GetServiceQuota", quota.code(), e))?;
        Ok(out.quota().and_then(|q| q.value()))
    }

    async fn aws_default(&self, quota: Quota) -> Result<Option<f64>, AwsError> {
        let out = self
            .servicequotas
            .get_aws_default_service_quota()
            .service_code(quota.service())
            .quota_code(quota.code())
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("servicequotas:GetAWSDefaultServiceQuota", quota.code(), e)
            })?;
        Ok(out.quota().and_then(|q| q.value()))
    }
}

/// The value of `quota` in force, asked in order: applied, AWS default, documented. A read that
/// fails or answers without a usable value passes to the next; this never fails.
pub async fn limit(reader: &dyn QuotaReader, quota: Quota) -> Limit {
    match reader.applied(quota).await {
        Ok(Some(v)) if usable(v) => return limit_of(v, Source::Applied),
        Ok(_) => {}
        Err(e) => tracing::debug!("{e}; trying AWS's default for {}", quota.code()),
    }
    match reader.aws_default(quota).await {
        Ok(Some(v)) if usable(v) => return limit_of(v, Source::AwsDefault),
        Ok(_) => {}
        Err(e) => tracing::debug!("{e}; using the documented default for {}", quota.code()),
    }
    Limit {
        value: quota.documented_default(),
        source: Source::Documented,
    }
}

fn usable(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

fn limit_of(v: f64, source: Source) -> Limit {
    // Counts are whole; `v` is finite and not negative, and a quota beyond u32 is as good as
    // unlimited here.
    let value = v.floor().min(f64::from(u32::MAX)) as u32;
    Limit { value, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers as told: `None` is a failed read, `Some(None)` an answer without a value.
    struct Fake {
        applied: Option<Option<f64>>,
        default: Option<Option<f64>>,
    }

    fn failed(op: &'static str) -> AwsError {
        AwsError::answer(op, "L-F678F1CE", "NoSuchResourceException", "no such quota")
    }

    #[async_trait]
    impl QuotaReader for Fake {
        async fn applied(&self, _: Quota) -> Result<Option<f64>, AwsError> {
            self.applied
                .ok_or_else(|| failed("servicequotas:GetServiceQuota"))
        }
        async fn aws_default(&self, _: Quota) -> Result<Option<f64>, AwsError> {
            self.default
                .ok_or_else(|| failed("servicequotas:GetAWSDefaultServiceQuota"))
        }
    }

    async fn run(applied: Option<Option<f64>>, default: Option<Option<f64>>) -> Limit {
        limit(&Fake { applied, default }, Quota::Vpcs).await
    }

    #[tokio::test]
    async fn the_applied_value_comes_first() {
        assert_eq!(
            run(Some(Some(40.0)), Some(Some(5.0))).await,
            Limit {
                value: 40,
                source: Source::Applied
            }
        );
    }

    #[tokio::test]
    async fn aws_default_when_nothing_is_applied_or_the_read_fails() {
        let expect = Limit {
            value: 5,
            source: Source::AwsDefault,
        };
        assert_eq!(run(None, Some(Some(5.0))).await, expect);
        assert_eq!(run(Some(None), Some(Some(5.0))).await, expect);
    }

    #[tokio::test]
    async fn documented_default_when_service_quotas_does_not_answer() {
        let expect = Limit {
            value: 5,
            source: Source::Documented,
        };
        assert_eq!(run(None, None).await, expect);
        assert_eq!(run(Some(None), Some(None)).await, expect);
        assert_eq!(run(Some(Some(f64::NAN)), None).await, expect);
    }
}
