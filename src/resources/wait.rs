//! Waiting on AWS: polling with a timeout, and retrying deletes that hit dependency errors. Every
//! wait reports progress and fails with a message naming the resource and the time waited.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::{AwsError, ErrorClass};

/// Polls `poll` until it returns `true`. Polls at once, then backs off from 1 s to 10 s.
pub async fn until<F, Fut>(
    what: &str,
    resource: &str,
    timeout: Duration,
    progress: &(dyn Fn(String) + Sync),
    mut poll: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, AwsError>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        match poll().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            // A poll throttled even after the SDK's own retries is not an answer: ask again
            // later (bursts of describes are what AWS throttles first).
            Err(e) if e.class == ErrorClass::Throttled && start.elapsed() < timeout => {
                progress(format!("{}: {}, polling again", e.op, e.code));
            }
            Err(e) => return Err(e),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(AwsError::other(
                "wait",
                resource,
                "WaitTimeout",
                format!("still not {what} after {} s", waited.as_secs()),
            ));
        }
        progress(format!("waiting for {what} ({} s)", waited.as_secs()));
        tokio::time::sleep(delay.min(timeout.saturating_sub(waited))).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Runs a delete step, retrying while AWS answers with a dependency or throttling error (an ENI
/// still draining, a NAT gateway still deleting), with backoff up to `deadline`.
pub async fn retry_dependency<F, Fut>(
    resource: &str,
    deadline: Duration,
    progress: &(dyn Fn(String) + Sync),
    mut step: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match step().await {
            Ok(()) => return Ok(()),
            Err(e) if e.class == ErrorClass::Gone => return Ok(()),
            Err(e)
                if matches!(e.class, ErrorClass::Dependency | ErrorClass::Throttled)
                    && start.elapsed() + delay < deadline =>
            {
                progress(format!(
                    "{}: {} on {resource}, retrying in {:.1} s",
                    e.op,
                    e.code,
                    delay.as_secs_f32()
                ));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::retry_dependency;
    use crate::aws::{AwsError, ErrorClass};

    #[tokio::test(start_paused = true)]
    async fn a_throttled_poll_is_asked_again() {
        let calls = AtomicU32::new(0);
        let result = super::until(
            "available",
            "fsmt-1",
            Duration::from_secs(60),
            &|_| {},
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(AwsError::other(
                        "efs:DescribeMountTargets",
                        "fsmt-1",
                        "ThrottlingException",
                        "Rate exceeded",
                    )
                    .with_class(ErrorClass::Throttled)),
                    1 => Ok(false),
                    _ => Ok(true),
                }
            },
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn dependency_errors_are_retried_until_they_clear() {
        let calls = AtomicU32::new(0);
        let result = retry_dependency("subnet-1", Duration::from_secs(60), &|_| {}, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(AwsError::other(
                    "ec2:DeleteSubnet",
                    "subnet-1",
                    "DependencyViolation",
                    "in use",
                )
                .with_class(ErrorClass::Dependency))
            } else {
                Ok(())
            }
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dependency_that_never_clears_fails_at_the_deadline() {
        let calls = AtomicU32::new(0);
        let result = retry_dependency("subnet-1", Duration::from_secs(10), &|_| {}, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AwsError::other(
                "ec2:DeleteSubnet",
                "subnet-1",
                "DependencyViolation",
                "in use",
            )
            .with_class(ErrorClass::Dependency))
        })
        .await;
        let err = result.expect_err("must give up");
        assert_eq!(err.code, "DependencyViolation");
        assert!(calls.load(Ordering::SeqCst) >= 3);
    }

    #[tokio::test]
    async fn fatal_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result = retry_dependency("vpc-1", Duration::from_secs(60), &|_| {}, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AwsError::other(
                "ec2:DeleteVpc",
                "vpc-1",
                "UnauthorizedOperation",
                "no",
            ))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
