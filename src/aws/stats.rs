//! An SDK interceptor that counts API calls and retries per operation, and the counters of what
//! AWS's behaviour cost: throttling answers, time spent waiting for the request budget, and
//! not-found answers about ids that were not visible yet.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// Calls and attempts per `service:Operation`.
#[derive(Debug, Default)]
pub struct CallStats {
    counts: Mutex<BTreeMap<String, OpCount>>,
    throttled: AtomicU64,
    budget_wait_micros: AtomicU64,
    not_visible: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct OpCount {
    pub calls: u64,
    pub attempts: u64,
    /// Time this operation's requests waited for the request budget, summed, in milliseconds.
    pub budget_wait_ms: u64,
}

impl OpCount {
    pub fn retries(&self) -> u64 {
        self.attempts.saturating_sub(self.calls)
    }
}

/// A summary for `-v` / `--stats` and the benchmarks.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StatsSummary {
    pub calls: u64,
    pub retries: u64,
    /// Answers that were AWS throttling the request (each retried by the SDK).
    pub throttled: u64,
    /// Time requests waited for the client-side request budget, summed over requests.
    #[serde(with = "seconds")]
    pub budget_wait: Duration,
    /// Not-found answers about ids that were not visible yet, asked again.
    pub not_visible: u64,
    pub by_operation: BTreeMap<String, OpCount>,
}

mod seconds {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl CallStats {
    pub fn interceptor(self: &Arc<Self>) -> CountingInterceptor {
        CountingInterceptor {
            stats: Arc::clone(self),
        }
    }

    fn bump(&self, cfg: &ConfigBag, call: bool) {
        let key = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_owned(),
            |m| format!("{}:{}", m.service(), m.name()),
        );
        if let Ok(mut counts) = self.counts.lock() {
            let entry = counts.entry(key).or_default();
            if call {
                entry.calls += 1;
            } else {
                entry.attempts += 1;
            }
        }
    }

    pub fn summary(&self) -> StatsSummary {
        let by_operation = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        StatsSummary {
            calls: by_operation.values().map(|c| c.calls).sum(),
            retries: by_operation.values().map(OpCount::retries).sum(),
            throttled: self.throttled.load(Ordering::Relaxed),
            budget_wait: Duration::from_micros(self.budget_wait_micros.load(Ordering::Relaxed)),
            not_visible: self.not_visible.load(Ordering::Relaxed),
            by_operation,
        }
    }

    /// A not-found answer about an id not visible yet, to be asked again.
    pub fn not_visible_yet(&self) {
        self.not_visible.fetch_add(1, Ordering::Relaxed);
    }

    /// A request of `service:operation` waited this long for the request budget.
    pub fn waited_for_budget(&self, label: &super::budget::Label, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.budget_wait_micros.fetch_add(micros, Ordering::Relaxed);
        if let Ok(mut counts) = self.counts.lock() {
            let key = format!("{}:{}", label.service, label.operation);
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            let entry = counts.entry(key).or_default();
            entry.budget_wait_ms = entry.budget_wait_ms.saturating_add(ms);
        }
    }

    /// AWS answered a request with a throttling error.
    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
pub struct CountingInterceptor {
    stats: Arc<CallStats>,
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "awslab-call-counter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.stats.bump(cfg, true);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.stats.bump(cfg, false);
        Ok(())
    }

    /// Labels every attempt with its service and operation, for the request budget.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            context.request_mut().add_extension(super::budget::Label {
                service: m.service().to_owned(),
                operation: m.name().to_owned(),
            });
        }
        Ok(())
    }

    /// Counts the answers that are AWS throttling the request.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().as_u16() >= 400
            && (response
                .headers()
                .get("x-amzn-errortype")
                .is_some_and(is_throttling)
                || response
                    .body()
                    .bytes()
                    .is_some_and(|b| is_throttling(&String::from_utf8_lossy(b))))
        {
            self.stats.throttled();
        }
        Ok(())
    }
}

/// Whether an error code (or an error body naming one) is a throttling answer.
fn is_throttling(text: &str) -> bool {
    [
        "RequestLimitExceeded",
        "Throttling",
        "SlowDown",
        "TooManyRequests",
        "RequestThrottled",
    ]
    .iter()
    .any(|code| text.contains(code))
}
