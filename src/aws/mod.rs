//! Everything between awslab and the AWS SDK: the one `SdkConfig` ([`config`]), the client bundle
//! ([`Aws`]), the call-counting interceptor ([`stats`]), the request budget ([`budget`]), error
//! classification ([`errors`]) and awslab's own faults ([`fault`]), what to expect of AWS's clock
//! ([`timing`]) and the policy for ids not visible yet ([`Aws::known`]).

pub mod budget;
pub mod config;
pub mod errors;
pub mod fault;
mod known;
pub mod stats;
pub mod tags;
pub mod timing;

pub use config::{AwsSettings, connect};
pub use errors::{AwsError, Cause, ErrorClass};
pub use fault::Fault;
pub use known::{created_at, listed};
pub use stats::CallStats;
pub use timing::Timing;

use std::sync::Arc;

/// The clients a command needs, built from one `SdkConfig`, all counting their calls.
#[derive(Clone, Debug)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sts: aws_sdk_sts::Client,
    pub iam: aws_sdk_iam::Client,
    pub efs: aws_sdk_efs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub s3: aws_sdk_s3::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub servicequotas: aws_sdk_servicequotas::Client,
    pub region: String,
    /// The endpoint override (emulator), if any.
    pub endpoint: Option<String>,
    pub stats: Arc<CallStats>,
    /// What awslab expects of AWS's clock: poll pacing and the "not visible yet" bound.
    pub timing: Timing,
    /// The account id, asked once per client bundle.
    pub account: Arc<tokio::sync::OnceCell<String>>,
    /// What the clients were built from (for the same clients in another region).
    pub settings: AwsSettings,
}

impl Aws {
    /// The same clients (account, endpoint, call counts) in another region.
    pub async fn in_region(&self, region: &str) -> Aws {
        let settings = AwsSettings {
            region: Some(region.to_owned()),
            ..self.settings.clone()
        };
        config::connect_counting(&settings, Arc::clone(&self.stats)).await
    }

    /// True when talking to an emulator (an endpoint on this machine or LocalStack's names)
    /// rather than real AWS: live checks are skipped there.
    pub fn is_emulator(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(config::is_local_endpoint)
    }

    /// The account's aliases (`iam:ListAccountAliases`).
    pub async fn account_aliases(&self) -> Result<Vec<String>, AwsError> {
        let out = self
            .iam
            .list_account_aliases()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListAccountAliases", "account", e))?;
        Ok(out.account_aliases().to_vec())
    }

    /// The account id, through `sts:GetCallerIdentity` (once: `up` asks before it acts, and a
    /// bucket's name needs it again).
    pub async fn account_id(&self) -> Result<String, AwsError> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("sts:GetCallerIdentity", "caller", e))?;
                Ok(out.account().unwrap_or("unknown").to_owned())
            })
            .await
            .cloned()
    }
}
