//! ECS services as AWS runs them, in front of moto 5.2.5, which runs no task: a service it
//! creates stays at `runningCount` 0 with its deployment `IN_PROGRESS` forever, it drops the
//! `deploymentConfiguration` it was given (the circuit breaker), and `ListServices` keeps listing
//! deleted (`INACTIVE`) services. On AWS a service whose tasks start reaches its desired count
//! with its deployment `COMPLETED`, keeps the configuration it was given, and `ListServices`
//! lists active and draining services only ("DescribeServices", "ListServices", ECS API
//! Reference).
//!
//! The tests that run the ECS lab put this shim in front of moto ([`super::ecs_endpoint`], one
//! per test process). MiniStack starts its tasks and gets no shim. What the shim does:
//!
//! - **`CreateService`** and **`UpdateService`**: forwarded; the `deploymentConfiguration` sent
//!   is recorded for the service (by name) and put back into the answer.
//! - **`DescribeServices`**: an `ACTIVE` service's `runningCount` is its `desiredCount`, its
//!   `pendingCount` 0, its primary deployment's counts the same and its `rolloutState`
//!   `COMPLETED`; its recorded `deploymentConfiguration` is put back.
//! - **`ListServices`**: the `INACTIVE` services moto still lists are left out.

use std::collections::HashMap;

use serde_json::Value;
use tokio::sync::Mutex;

use super::aws_model::HttpResponse;
use super::proxy::{Call, forward_raw};

#[derive(Debug, Default)]
pub struct EcsShim {
    /// Service name -> the deployment configuration it was given.
    deployment: Mutex<HashMap<String, Value>>,
    /// Service ARNs moto describes as `INACTIVE`.
    inactive: Mutex<Vec<String>>,
}

fn answer_with(mut response: HttpResponse, v: &Value) -> Vec<u8> {
    response.body = v.to_string().into_bytes();
    response.to_bytes()
}

impl EcsShim {
    fn fix_service(
        &self,
        s: &mut Value,
        deployments: &HashMap<String, Value>,
        inactive: &mut Vec<String>,
    ) {
        let name = s["serviceName"].as_str().unwrap_or_default().to_owned();
        if let Some(d) = deployments.get(&name) {
            s["deploymentConfiguration"] = d.clone();
        }
        if s["status"] == "INACTIVE" {
            if let Some(arn) = s["serviceArn"].as_str()
                && !inactive.iter().any(|a| a == arn)
            {
                inactive.push(arn.to_owned());
            }
            return;
        }
        let desired = s["desiredCount"].clone();
        s["runningCount"] = desired.clone();
        s["pendingCount"] = Value::from(0);
        if let Some(ds) = s["deployments"].as_array_mut() {
            for d in ds.iter_mut().filter(|d| d["status"] == "PRIMARY") {
                d["runningCount"] = desired.clone();
                d["pendingCount"] = Value::from(0);
                d["rolloutState"] = Value::from("COMPLETED");
                d["rolloutStateReason"] = Value::from("ECS deployment completed.");
            }
        }
    }

    /// The answer to `call`, when it is one the shim changes.
    pub(super) async fn answer(
        &self,
        upstream: &str,
        call: &Call,
    ) -> std::io::Result<Option<Vec<u8>>> {
        if call.service != "ecs" {
            return Ok(None);
        }
        let op = call.action.as_str();
        if !matches!(
            op,
            "CreateService" | "UpdateService" | "DescribeServices" | "ListServices"
        ) {
            return Ok(None);
        }
        let sent: Value = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
        let raw = forward_raw(upstream, &call.head, &call.body).await?;
        let Some(response) = HttpResponse::parse(&raw) else {
            return Ok(Some(raw));
        };
        if response.status >= 300 {
            return Ok(Some(raw));
        }
        let Ok(mut v) = serde_json::from_slice::<Value>(&response.body) else {
            return Ok(Some(raw));
        };
        let mut deployments = self.deployment.lock().await;
        let mut inactive = self.inactive.lock().await;
        match op {
            "CreateService" | "UpdateService" => {
                let name = sent["serviceName"]
                    .as_str()
                    .or_else(|| {
                        sent["service"]
                            .as_str()
                            .map(|s| s.rsplit('/').next().unwrap_or(s))
                    })
                    .unwrap_or_default()
                    .to_owned();
                if !sent["deploymentConfiguration"].is_null() {
                    deployments.insert(name, sent["deploymentConfiguration"].clone());
                }
                self.fix_service(&mut v["service"], &deployments, &mut inactive);
            }
            "DescribeServices" => {
                if let Some(list) = v["services"].as_array_mut() {
                    for s in list {
                        self.fix_service(s, &deployments, &mut inactive);
                    }
                }
            }
            _ => {
                if let Some(list) = v["serviceArns"].as_array_mut() {
                    list.retain(|a| !a.as_str().is_some_and(|a| inactive.iter().any(|i| i == a)));
                }
            }
        }
        Ok(Some(answer_with(response, &v)))
    }
}

/// Starts the shim in front of `upstream` on a thread of its own; its URL.
pub fn start(upstream: &str) -> String {
    super::proxy::start_serving(
        "ecs-shim",
        upstream,
        super::proxy::Faults {
            ecs: Some(std::sync::Arc::new(EcsShim::default())),
            ..super::proxy::Faults::default()
        },
    )
}
