//! An SDK interceptor that counts API calls and retries per operation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// Calls and attempts per `service:Operation`.
#[derive(Debug, Default)]
pub struct CallStats {
    counts: Mutex<BTreeMap<String, OpCount>>,
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct OpCount {
    pub calls: u64,
    pub attempts: u64,
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
    pub by_operation: BTreeMap<String, OpCount>,
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
            by_operation,
        }
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
}
