//! Waiting on AWS: polling a transition on a schedule shaped by how long it usually takes, and
//! retrying steps that hit dependency errors. Every wait reports the resource's state, the time
//! waited and the time AWS usually needs, and fails with a message naming the resource and the
//! time waited.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::{AwsError, ErrorClass, Fault, Timing};

/// What a kind reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A retry or a phase, in words.
    Note(String),
    /// Waiting for a transition: the state now, how long so far, how long it usually takes.
    Waiting {
        state: String,
        elapsed: Duration,
        typical: Duration,
    },
}

/// What one poll saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// The transition is over.
    Done,
    /// Still in this state.
    Waiting(String),
}

/// How a kind waits: AWS's expected clock, the longest wait, and where progress goes.
#[derive(Clone, Copy)]
pub struct Waiter<'a> {
    pub timing: Timing,
    /// The longest one wait or dependency retry may last.
    pub timeout: Duration,
    pub progress: &'a (dyn Fn(Step) + Sync),
}

impl Waiter<'_> {
    pub fn note(&self, message: String) {
        (self.progress)(Step::Note(message));
    }

    /// Polls until `poll` says the transition to `target` (which usually takes `typical` on
    /// AWS) is over. Polls at once, then on [`Timing::polls`]'s schedule.
    pub async fn until<F, Fut>(
        &self,
        resource: &str,
        target: &str,
        typical: Duration,
        mut poll: F,
    ) -> Result<(), AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll, AwsError>>,
    {
        let start = Instant::now();
        let polls = self.timing.polls(typical);
        loop {
            match poll().await {
                Ok(Poll::Done) => return Ok(()),
                Ok(Poll::Waiting(state)) => (self.progress)(Step::Waiting {
                    state,
                    elapsed: start.elapsed(),
                    typical: polls.typical,
                }),
                // A poll throttled even after the SDK's own retries is not an answer: ask again
                // later (bursts of describes are what AWS throttles first).
                Err(e) if e.class == ErrorClass::Throttled && start.elapsed() < self.timeout => {
                    self.note(format!("{}: {}, polling again", e.op, e.cause.code()));
                }
                Err(e) => return Err(e),
            }
            let waited = start.elapsed();
            // The timer ticks in milliseconds: less than one left is none left.
            if waited + Duration::from_millis(1) >= self.timeout {
                return Err(AwsError::from_fault(
                    "wait",
                    resource,
                    Fault::WaitTimeout {
                        target: target.to_owned(),
                        waited,
                    },
                ));
            }
            tokio::time::sleep(polls.gap(waited).min(self.timeout - waited)).await;
        }
    }

    /// Runs a step, retrying with jittered backoff while AWS answers with a dependency or
    /// throttling error (an interface still draining, a NAT gateway still deleting), up to the
    /// timeout. A not-found answer is returned as it is: whether that means "gone" is for the
    /// caller to decide.
    pub async fn dependency<F, Fut>(&self, resource: &str, mut step: F) -> Result<(), AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), AwsError>>,
    {
        let start = Instant::now();
        let mut backoff = self.timing.dependency_backoff();
        loop {
            match step().await {
                Ok(()) => return Ok(()),
                Err(e) if matches!(e.class, ErrorClass::Dependency | ErrorClass::Throttled) => {
                    let delay = backoff.delay();
                    if start.elapsed() + delay >= self.timeout {
                        return Err(e);
                    }
                    self.note(format!(
                        "{}: {} on {resource}, retrying in {:.1} s",
                        e.op,
                        e.cause.code(),
                        delay.as_secs_f32()
                    ));
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// `1m12s`, `45s`: a duration as a person reads a wait.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::{Poll, Step, Waiter, short};
    use crate::aws::{AwsError, ErrorClass, Fault, Timing};

    fn dependency() -> AwsError {
        AwsError::answer(
            "ec2:DeleteSubnet",
            "subnet-1",
            "DependencyViolation",
            "in use",
        )
        .with_class(ErrorClass::Dependency)
    }

    fn waiter(timeout: u64, progress: &(dyn Fn(Step) + Sync)) -> Waiter<'_> {
        Waiter {
            timing: Timing::default(),
            timeout: Duration::from_secs(timeout),
            progress,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_reports_state_elapsed_and_typical_and_ends_soon_after_the_transition() {
        let seen = Mutex::new(Vec::new());
        let record = |s: Step| seen.lock().expect("lock").push(s);
        let w = waiter(600, &record);
        let started = tokio::time::Instant::now();
        let ready_at = Duration::from_secs(93);
        let polls = AtomicU32::new(0);
        w.until("lab-nat", "available", Duration::from_secs(90), || async {
            polls.fetch_add(1, Ordering::SeqCst);
            Ok(if started.elapsed() >= ready_at {
                Poll::Done
            } else {
                Poll::Waiting("pending".to_owned())
            })
        })
        .await
        .expect("ready");
        let late = started.elapsed() - ready_at;
        assert!(late <= Duration::from_millis(1100), "seen {late:?} late");
        assert!(polls.load(Ordering::SeqCst) <= 35);
        let seen = seen.lock().expect("lock");
        match seen.last() {
            Some(Step::Waiting {
                state,
                elapsed,
                typical,
            }) => {
                assert_eq!(state, "pending");
                assert!(*elapsed >= Duration::from_secs(90));
                assert_eq!(*typical, Duration::from_secs(90));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_poll_is_asked_again() {
        let calls = AtomicU32::new(0);
        let w = waiter(60, &|_| {});
        let result = w
            .until("fsmt-1", "available", Duration::from_secs(5), || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(AwsError::answer(
                        "efs:DescribeMountTargets",
                        "fsmt-1",
                        "ThrottlingException",
                        "Rate exceeded",
                    )
                    .with_class(ErrorClass::Throttled)),
                    1 => Ok(Poll::Waiting("creating".to_owned())),
                    _ => Ok(Poll::Done),
                }
            })
            .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_never_ends_fails_at_the_timeout_naming_the_target() {
        let w = waiter(30, &|_| {});
        let e = w
            .until("lab-alb", "active", Duration::from_secs(180), || async {
                Ok(Poll::Waiting("provisioning".to_owned()))
            })
            .await
            .expect_err("times out");
        assert!(
            matches!(e.fault(), Some(Fault::WaitTimeout { target, waited })
                if target == "active" && waited.as_secs() == 30),
            "{e}"
        );
        assert!(e.message().contains("still not active after 30 s"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn dependency_errors_are_retried_until_they_clear() {
        let calls = AtomicU32::new(0);
        let w = waiter(60, &|_| {});
        let result = w
            .dependency("subnet-1", || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(dependency())
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
        let w = waiter(10, &|_| {});
        let result = w
            .dependency("subnet-1", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(dependency())
            })
            .await;
        let err = result.expect_err("must give up");
        assert_eq!(err.aws_code(), Some("DependencyViolation"));
        assert!(calls.load(Ordering::SeqCst) >= 3);
    }

    #[tokio::test]
    async fn fatal_and_not_found_errors_are_not_retried_here() {
        for (code, class) in [
            ("UnauthorizedOperation", ErrorClass::Fatal),
            ("InvalidSubnetID.NotFound", ErrorClass::Gone),
        ] {
            let calls = AtomicU32::new(0);
            let w = waiter(60, &|_| {});
            let result = w
                .dependency("vpc-1", || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(AwsError::answer("ec2:DeleteVpc", "vpc-1", code, "no").with_class(class))
                })
                .await;
            assert_eq!(
                result.map_err(|e| e.aws_code().map(str::to_owned)),
                Err(Some(code.to_owned()))
            );
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn waits_read_as_minutes_and_seconds() {
        assert_eq!(short(Duration::from_secs(45)), "45s");
        assert_eq!(short(Duration::from_secs(72)), "1m12s");
        assert_eq!(short(Duration::from_secs(120)), "2m");
    }
}
