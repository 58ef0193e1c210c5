//! The one function that builds the SDK configuration from the command line's settings.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;

use super::budget::BudgetClient;
use super::{Aws, CallStats, Timing};

/// The emulator endpoint `--local` talks to.
pub const LOCAL_ENDPOINT: &str = "http://127.0.0.1:4566";

/// Where and as whom to talk to AWS, resolved from flags and environment.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// The local emulator with test credentials, like `awslocal`.
    pub local: bool,
    /// What to expect of AWS's clock.
    pub timing: Timing,
    /// A role to assume (from the profile's or the default chain's credentials) for every call.
    pub role: Option<AssumeRole>,
    /// The account id, when known before connecting: the request budget is then the account's,
    /// whichever profile or role reaches it.
    pub account: Option<String>,
}

/// A role awslab acts as: a roster student's account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    pub arn: String,
    pub external_id: Option<String>,
    /// Shows in the account's CloudTrail as who acted (`awslab-alice`).
    pub session_name: String,
}

impl AssumeRole {
    /// The account id the role's ARN names.
    pub fn account(&self) -> Option<&str> {
        self.arn.split(':').nth(4).filter(|a| !a.is_empty())
    }
}

impl AwsSettings {
    /// The endpoint override in force: `--endpoint-url` (or `AWS_ENDPOINT_URL`), else the
    /// emulator for `--local`.
    pub fn endpoint(&self) -> Option<String> {
        self.endpoint_url
            .clone()
            .or_else(|| self.local.then(|| LOCAL_ENDPOINT.to_owned()))
    }
}

/// An endpoint on this machine, or one of LocalStack's names: an emulator, not AWS.
pub fn is_local_endpoint(url: &str) -> bool {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(
        host,
        "localhost" | "127.0.0.1" | "::1" | "0.0.0.0" | "localstack"
    ) || host.ends_with(".localhost")
        || host.ends_with("localhost.localstack.cloud")
}

/// Builds the client bundle. Standard retry mode with more attempts than the default (labs make
/// bursts of calls that real AWS throttles), and a short connect timeout so an emulator that is
/// not running is reported at once.
pub async fn connect(settings: &AwsSettings) -> Aws {
    connect_counting(settings, Arc::new(CallStats::default())).await
}

/// [`connect`], counting calls into `stats` (one count across the regions of a command).
pub async fn connect_counting(settings: &AwsSettings, stats: Arc<CallStats>) -> Aws {
    let endpoint = settings.endpoint();
    let region = settings
        .region
        .clone()
        .or_else(|| settings.local.then(|| "us-east-1".to_owned()));
    // The budget belongs to one account and region: the credentials' source and the endpoint
    // name the account before STS is asked.
    let source = match (&settings.account, &settings.role) {
        (Some(account), _) => account.clone(),
        (None, Some(role)) => role.account().unwrap_or(&role.arn).to_owned(),
        (None, None) => settings
            .profile
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
    };
    let account = format!("{source}@{}", endpoint.as_deref().unwrap_or("aws"));
    let budget_region = region.clone().unwrap_or_else(|| "default".to_owned());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(BudgetClient::new(
            account,
            budget_region,
            Arc::clone(&stats),
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(6)
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            // The attempt's own bound is kept by the budget's connector, around the exchange
            // only: the time a request waits for the request budget is no part of it.
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .build(),
        )
        // A request body waits with the request for the budget, which can take minutes for a
        // class of envs: its stall protection would count that wait as a stall. Answers keep
        // theirs; a request is bounded by the attempt timeout.
        .stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &endpoint {
        loader = loader.endpoint_url(url);
    }
    if settings.local {
        loader = loader.credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "awslab-local",
        ));
    }
    let mut sdk = loader.load().await;
    if let Some(role) = &settings.role {
        // The provider asks STS with the loaded credentials and keeps the role's credentials
        // cached, refreshing them before they expire.
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role.arn)
            .session_name(&role.session_name)
            .configure(&sdk);
        if let Some(id) = &role.external_id {
            provider = provider.external_id(id);
        }
        let provider = provider.build().await;
        sdk = sdk
            .into_builder()
            .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
                provider,
            ))
            .build();
    }
    let region = sdk
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let efs = aws_sdk_efs::Client::from_conf(
        aws_sdk_efs::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::from_conf(
        aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let autoscaling = aws_sdk_autoscaling::Client::from_conf(
        aws_sdk_autoscaling::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    // An emulator endpoint has no per-bucket host names: path-style requests there.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(endpoint.is_some())
            .interceptor(stats.interceptor())
            .build(),
    );
    let ecr = aws_sdk_ecr::Client::from_conf(
        aws_sdk_ecr::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
            .interceptor(stats.interceptor())
            .build(),
    );
    // Its reads fall back to AWS's default, then the documented one: a failing read is asked
    // once more, not five times.
    let servicequotas = aws_sdk_servicequotas::Client::from_conf(
        aws_sdk_servicequotas::config::Builder::from(&sdk)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .interceptor(stats.interceptor())
            .build(),
    );
    Aws {
        ec2,
        ssm,
        sts,
        iam,
        efs,
        elbv2,
        autoscaling,
        s3,
        ecr,
        ecs,
        logs,
        servicequotas,
        region,
        endpoint,
        stats,
        timing: settings.timing,
        account: Arc::default(),
        settings: settings.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_endpoints_are_recognised() {
        for local in [
            "http://127.0.0.1:4566",
            "http://localhost:4566/",
            "http://[::1]:4566",
            "https://s3.localhost.localstack.cloud:4566",
            "http://localstack:4566",
        ] {
            assert!(super::is_local_endpoint(local), "{local}");
        }
        for aws in [
            "https://ec2.us-east-1.amazonaws.com",
            "https://vpce-1.ec2.us-east-1.vpce.amazonaws.com",
        ] {
            assert!(!super::is_local_endpoint(aws), "{aws}");
        }
    }
}
