//! The request budget: AWS meters API requests per account and region with token buckets
//! ("Request throttling for the Amazon EC2 API", "... for the Elastic Load Balancing API"), and a
//! request beyond them is refused (`RequestLimitExceeded`). awslab keeps the same buckets on its
//! side, one per credentials, region, service and class of call, shared by every client and every
//! environment in the process, so several envs at once slow down instead of throttling each other
//! into failure. Each request takes a token before it is sent; the time it waits is counted.
//!
//! The buckets sit in an HTTP client wrapped around the SDK's default one; an interceptor labels
//! each request with its service and operation ([`Label`]) so the wrapper knows which bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

use super::CallStats;

/// A request's service and operation (`ec2`, `DescribeVpcs`), set by the counting interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub service: String,
    pub operation: String,
}

/// A bucket's size and refill rate (tokens per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub capacity: f64,
    pub per_second: f64,
}

const fn rate(capacity: f64, per_second: f64) -> Rate {
    Rate {
        capacity,
        per_second,
    }
}

/// EC2's describes that have a smaller bucket when called without filters or pagination.
const SMALL_UNFILTERED: [&str; 7] = [
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
];

/// Which bucket a call draws from, and its rate: EC2's and ELB's documented tables; services
/// without a published table share a generous default per service. `filtered`: the request
/// has filters or pagination (EC2 gives some describes a smaller bucket without them).
pub fn class(service: &str, operation: &str, filtered: bool) -> (&'static str, Rate) {
    let read = ["Describe", "Get", "List", "Search"]
        .iter()
        .any(|p| operation.starts_with(p));
    match service.to_ascii_lowercase().as_str() {
        "ec2" => match operation {
            "RunInstances" | "StartInstances" => ("run-instances", rate(5.0, 2.0)),
            "TerminateInstances"
            | "CreateLaunchTemplateVersion"
            | "ModifyLaunchTemplate"
            | "CreateNetworkInterface"
            | "DeleteNetworkInterface"
            | "AssociateIamInstanceProfile"
            | "DisassociateIamInstanceProfile" => ("uncategorized", rate(100.0, 5.0)),
            "CreateNatGateway"
            | "DeleteNatGateway"
            | "AssociateNatGatewayAddress"
            | "DisassociateNatGatewayAddress" => ("nat-gateway", rate(10.0, 1.0)),
            "CreateVpcEndpoint" | "DeleteVpcEndpoints" | "ModifyVpcEndpoint" => {
                ("vpc-endpoint", rate(4.0, 0.3))
            }
            "CreateTags" | "DeleteTags" => ("tags", rate(100.0, 10.0)),
            "AuthorizeSecurityGroupIngress" | "RevokeSecurityGroupIngress" | "CreateKeyPair" => {
                ("resource-intensive", rate(50.0, 5.0))
            }
            _ if read && !filtered && SMALL_UNFILTERED.contains(&operation) => {
                ("non-mutating unfiltered", rate(50.0, 10.0))
            }
            _ if read => ("non-mutating", rate(100.0, 20.0)),
            _ => ("mutating", rate(50.0, 5.0)),
        },
        "elastic load balancing v2" | "elasticloadbalancingv2" | "elasticloadbalancing" => {
            match operation {
                "CreateLoadBalancer" | "SetSubnets" => ("resource-intensive", rate(10.0, 0.2)),
                "RegisterTargets" | "DeregisterTargets" => ("registration", rate(20.0, 4.0)),
                _ if read => ("non-mutating", rate(40.0, 10.0)),
                _ => ("mutating", rate(20.0, 3.0)),
            }
        }
        // ECS throttles per action with token buckets ("Request throttling for the Amazon ECS
        // API"): service changes are the smallest.
        "ecs" => match operation {
            "CreateService" | "UpdateService" | "DeleteService" => ("service", rate(20.0, 1.0)),
            "RegisterTaskDefinition" | "DeregisterTaskDefinition" | "DeleteTaskDefinitions" => {
                ("task-definition", rate(20.0, 1.0))
            }
            _ if read => ("non-mutating", rate(50.0, 20.0)),
            _ => ("mutating", rate(20.0, 5.0)),
        },
        // CloudWatch Logs' quotas: CreateLogGroup 5 a second, DescribeLogGroups 10,
        // PutRetentionPolicy 5, DeleteLogGroup 10 ("CloudWatch Logs quotas").
        "cloudwatch logs" | "cloudwatchlogs" | "logs" => match operation {
            "CreateLogGroup" | "PutRetentionPolicy" | "DeleteRetentionPolicy" => {
                (operation_bucket(operation), rate(5.0, 5.0))
            }
            _ => (operation_bucket(operation), rate(10.0, 10.0)),
        },
        // Object requests: S3 takes at least 3,500 writes and 5,500 reads a second per prefix
        // ("Best practices design patterns: optimizing Amazon S3 performance"); far below that.
        "s3" if operation.contains("Object") => ("objects", rate(500.0, 200.0)),
        _ => ("default", rate(50.0, 20.0)),
    }
}

/// A bucket of its own per action (CloudWatch Logs sets its quotas per action).
fn operation_bucket(operation: &str) -> &'static str {
    match operation {
        "CreateLogGroup" => "CreateLogGroup",
        "PutRetentionPolicy" => "PutRetentionPolicy",
        "DeleteRetentionPolicy" => "DeleteRetentionPolicy",
        "DescribeLogGroups" => "DescribeLogGroups",
        "DeleteLogGroup" => "DeleteLogGroup",
        _ => "other",
    }
}

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: Bucket::usable(rate),
            at: now,
        }
    }

    /// The tokens spent at most: one of AWS's is kept back where there are several. Requests
    /// leave at their tokens' times but reach AWS a varying time later, two of them closer
    /// together than they left; at the refill rate with no token to spare, that closer one is
    /// throttled, and its retry waits behind every request reserved since.
    fn usable(rate: Rate) -> f64 {
        if rate.capacity >= 2.0 {
            rate.capacity - 1.0
        } else {
            rate.capacity
        }
    }

    /// Takes a token (reserving one that is not there yet) and says how long to wait for it.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(Bucket::usable(self.rate));
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate.per_second)
        }
    }
}

/// Every bucket of the process, by (account, region, service, bucket): EC2 keeps a bucket per
/// API action ("each API is evaluated individually ... requests for other APIs are not
/// affected"), the other services one per class of call.
type Key = (String, String, String, String);

fn buckets() -> &'static Mutex<HashMap<Key, Bucket>> {
    static BUCKETS: OnceLock<Mutex<HashMap<Key, Bucket>>> = OnceLock::new();
    BUCKETS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// How long a request of `label` must wait for its token (taken now).
fn reserve(account: &str, region: &str, label: &Label, filtered: bool, now: Instant) -> Duration {
    let (class, rate) = class(&label.service, &label.operation, filtered);
    let bucket = if label.service.eq_ignore_ascii_case("ec2") {
        format!("{class} {}", label.operation)
    } else {
        class.to_owned()
    };
    let key = (
        account.to_owned(),
        region.to_owned(),
        label.service.clone(),
        bucket,
    );
    let Ok(mut all) = buckets().lock() else {
        return Duration::ZERO;
    };
    all.entry(key)
        .or_insert_with(|| Bucket::new(rate, now))
        .take(now)
}

/// How long one request may take from being sent to its answer, not counting its wait for the
/// budget or for a free slot ([`MAX_IN_FLIGHT`]).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Requests of one account in flight to one host at most: a class of envs at once would otherwise open hundreds
/// of connections to one endpoint, more than a server's accept queue holds (the excess time out
/// connecting), and more sockets than this machine needs for the request budget's pace.
pub const MAX_IN_FLIGHT: usize = 12;

/// The gate of an account's requests to a host (`ec2.us-east-1.amazonaws.com`, or the endpoint
/// override's).
fn gate(account: &str, uri: &str) -> Arc<tokio::sync::Semaphore> {
    static GATES: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>> = OnceLock::new();
    let host = uri
        .split_once("://")
        .map_or(uri, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let key = format!("{account} {host}");
    let gates = GATES.get_or_init(|| Mutex::new(HashMap::new()));
    match gates.lock() {
        Ok(mut all) => Arc::clone(
            all.entry(key)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT))),
        ),
        Err(_) => Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
    }
}

/// Whether a query-protocol request (EC2) has filters or pagination.
fn filtered(request: &HttpRequest) -> bool {
    request.body().bytes().is_some_and(|body| {
        body.split(|b| *b == b'&').any(|pair| {
            pair.starts_with(b"Filter.")
                || pair.starts_with(b"MaxResults=")
                || pair.starts_with(b"NextToken=")
        })
    })
}

/// The SDK's default HTTPS client with the budget in front of it.
#[derive(Debug, Clone)]
pub struct BudgetClient {
    inner: SharedHttpClient,
    account: String,
    region: String,
    stats: Arc<CallStats>,
}

impl BudgetClient {
    /// `account` names the credentials and endpoint the budget belongs to (one account).
    pub fn new(account: String, region: String, stats: Arc<CallStats>) -> BudgetClient {
        BudgetClient {
            inner: default_https_client(),
            account,
            region,
            stats,
        }
    }
}

/// The client the SDK builds by default (rustls with aws-lc, proxy settings from the
/// environment), built here because the SDK does not hand out its own.
fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

impl HttpClient for BudgetClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetConnector {
            inner: self.inner.http_connector(settings, components),
            account: self.account.clone(),
            region: self.region.clone(),
            stats: Arc::clone(&self.stats),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct BudgetConnector {
    inner: SharedHttpConnector,
    account: String,
    region: String,
    stats: Arc<CallStats>,
}

impl HttpConnector for BudgetConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let wait = request
            .extension::<Label>()
            .map_or(Duration::ZERO, |label| {
                reserve(
                    &self.account,
                    &self.region,
                    label,
                    filtered(&request),
                    Instant::now(),
                )
            });
        let label = request.extension::<Label>().cloned();
        let inner = self.inner.clone();
        let stats = Arc::clone(&self.stats);
        let gate = gate(&self.account, request.uri());
        HttpConnectorFuture::new(async move {
            if !wait.is_zero() {
                if let Some(label) = &label {
                    stats.waited_for_budget(label, wait);
                }
                tokio::time::sleep(wait).await;
            }
            // Held until the answer is in; never closed, so a permit always comes.
            let _permit = gate.acquire_owned().await.ok();
            match tokio::time::timeout(ATTEMPT_TIMEOUT, inner.call(request)).await {
                Ok(answer) => answer,
                Err(_) => Err(ConnectorError::timeout(
                    format!("no answer within {}s of sending", ATTEMPT_TIMEOUT.as_secs()).into(),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Bucket, class, rate};

    #[test]
    fn calls_fall_into_ec2s_documented_buckets() {
        assert_eq!(
            class("ec2", "DescribeVpcs", true),
            ("non-mutating", rate(100.0, 20.0))
        );
        assert_eq!(
            class("EC2", "CreateVpc", true),
            ("mutating", rate(50.0, 5.0))
        );
        assert_eq!(class("ec2", "RunInstances", true).0, "run-instances");
        assert_eq!(class("ec2", "CreateNatGateway", true).1, rate(10.0, 1.0));
        assert_eq!(
            class("ec2", "AuthorizeSecurityGroupIngress", true).0,
            "resource-intensive"
        );
        assert_eq!(
            class("Elastic Load Balancing v2", "CreateLoadBalancer", true).1,
            rate(10.0, 0.2)
        );
        assert_eq!(class("s3", "PutObject", true).0, "objects");
        assert_eq!(class("s3", "ListObjectVersions", true).0, "objects");
        assert_eq!(class("s3", "PutBucketPolicy", true).0, "default");
        // Unfiltered, some describes draw from a smaller bucket.
        assert_eq!(
            class("ec2", "DescribeInstances", false),
            ("non-mutating unfiltered", rate(50.0, 10.0))
        );
        assert_eq!(class("ec2", "DescribeVpcs", false).0, "non-mutating");
        assert_eq!(class("ec2", "DeleteVpcEndpoints", true).1, rate(4.0, 0.3));
    }

    #[test]
    fn each_ec2_action_has_its_own_bucket_per_account() {
        use super::{Label, reserve};
        let label = |op: &str| Label {
            service: "EC2".to_owned(),
            operation: op.to_owned(),
        };
        let now = Instant::now();
        // 100 tokens, one kept back.
        for _ in 0..99 {
            assert_eq!(
                reserve("acct-per-action", "r", &label("DescribeVpcs"), true, now),
                Duration::ZERO
            );
        }
        let wait = reserve("acct-per-action", "r", &label("DescribeVpcs"), true, now);
        assert!(wait > Duration::ZERO, "the 100th waits");
        assert_eq!(
            reserve("acct-per-action", "r", &label("DescribeSubnets"), true, now),
            Duration::ZERO,
            "another action is not affected"
        );
        assert_eq!(
            reserve("acct-other", "r", &label("DescribeVpcs"), true, now),
            Duration::ZERO,
            "nor another account"
        );
    }

    #[test]
    fn a_bucket_lends_its_capacity_then_paces_at_its_refill_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(rate(10.0, 1.0), t0);
        // A burst of nine goes at once: one of AWS's ten is kept back for arrival jitter.
        for _ in 0..9 {
            assert_eq!(b.take(t0), Duration::ZERO);
        }
        // The next three wait one, two and three seconds: one token a second.
        let waits: Vec<u64> = (0..3).map(|_| b.take(t0).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 3]);
        // After a quiet minute the bucket is full again, not fuller.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..9 {
            assert_eq!(b.take(later), Duration::ZERO);
        }
        assert!(b.take(later) > Duration::ZERO);
        // A bucket of one has none to keep back.
        let mut one = Bucket::new(rate(1.0, 1.0), t0);
        assert_eq!(one.take(t0), Duration::ZERO);
        assert_eq!(one.take(t0), Duration::from_secs(1));
    }
}
