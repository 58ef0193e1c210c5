//! Calls about something awslab knows exists, because it created it or a describe listed it.
//! AWS is eventually consistent: such an id can be unknown to the next call for a while ("Eventual
//! consistency in the Amazon EC2 API"; IAM, S3, ELB and EFS say the same). A not-found answer to
//! such a call means "not visible yet": it is asked again with jittered backoff, up to the
//! visibility bound. This is the one place that policy lives; every kind and command uses it.

use std::error::Error as StdError;
use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

use super::{Aws, AwsError, Fault};

/// A creation time as AWS reports it.
pub fn created_at(t: Option<&aws_smithy_types::DateTime>) -> Option<SystemTime> {
    t.and_then(|t| SystemTime::try_from(*t).ok())
}

/// What a describe found of something known to exist: found nothing is "not visible yet", a
/// not-found error that [`Aws::settle`] asks again about.
pub fn listed<T>(found: Option<T>, op: &'static str, resource: &str) -> Result<T, AwsError> {
    found.ok_or_else(|| AwsError::from_fault(op, resource, Fault::NotListed))
}

impl Aws {
    /// Sends a call about something known to exist (`call` builds and sends it; it runs again
    /// on each attempt), mapping its error with the call's name and the resource's.
    pub async fn known<T, E, R, F, Fut>(
        &self,
        op: &'static str,
        resource: &str,
        mut call: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: Debug + Send + Sync + 'static,
    {
        self.settle(|| {
            let sent = call();
            async move { sent.await.map_err(|e| AwsError::from_sdk(op, resource, e)) }
        })
        .await
    }

    /// A read about something a listing has just returned (its tags, its policies), created
    /// at `created`. AWS is eventually consistent only for what is new: a not-found answer
    /// about something created within the visibility bound is asked again until it is that
    /// old; about anything older, or of unknown age (`None`), it means deleted since the
    /// listing, at once (`Ok(None)`).
    pub async fn follow_up<T, F, Fut>(
        &self,
        created: Option<SystemTime>,
        mut step: F,
    ) -> Result<Option<T>, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let age = created.map(|c| SystemTime::now().duration_since(c).unwrap_or_default());
        let answer = match age {
            Some(age) if age >= self.timing.visibility => step().await,
            Some(age) => self.settle_within(self.timing.visibility - age, step).await,
            None => step().await,
        };
        match answer {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_gone() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Aws::follow_up`], for what a listing can be asked about again: a not-found answer about
    /// something young is asked again only while `listed` still finds it. A new resource does
    /// not leave a listing it has appeared in; a deleted one does, so one deleted since the
    /// listing (another env's `down`, running at the same time) is gone soon, not after the
    /// visibility bound. Listings are eventually consistent too: gone takes two listings in a
    /// row, a backoff apart, that do not show it.
    pub async fn follow_up_listed<T, F, Fut, L, LFut>(
        &self,
        created: Option<SystemTime>,
        mut step: F,
        mut listed: L,
    ) -> Result<Option<T>, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
        L: FnMut() -> LFut,
        LFut: Future<Output = Result<bool, AwsError>>,
    {
        let age = created.map(|c| SystemTime::now().duration_since(c).unwrap_or_default());
        let bound = match age {
            Some(age) if age < self.timing.visibility => self.timing.visibility - age,
            _ => Duration::ZERO,
        };
        let deadline = Instant::now() + bound;
        let mut backoff = self.timing.backoff();
        let mut unlisted = 0;
        loop {
            match step().await {
                Ok(v) => return Ok(Some(v)),
                Err(e) if e.is_gone() => {
                    let now = Instant::now();
                    if now + Duration::from_millis(1) >= deadline {
                        return Ok(None);
                    }
                    unlisted = if listed().await? { 0 } else { unlisted + 1 };
                    if unlisted == 2 {
                        return Ok(None);
                    }
                    self.stats.not_visible_yet();
                    tokio::time::sleep_until((now + backoff.delay()).min(deadline)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs a step about something known to exist, asking again while AWS answers that it does
    /// not exist, up to the visibility bound; then the not-found error stands, saying how long
    /// it was asked.
    pub async fn settle<T, F, Fut>(&self, step: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        self.settle_within(self.timing.visibility, step).await
    }

    async fn settle_within<T, F, Fut>(&self, bound: Duration, mut step: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let started = Instant::now();
        let deadline = started + bound;
        let mut backoff = self.timing.backoff();
        loop {
            match step().await {
                Err(e) if e.is_gone() => {
                    let now = Instant::now();
                    // The timer ticks in milliseconds: less than one left is none left.
                    if now + Duration::from_millis(1) >= deadline {
                        return Err(e.not_visible_after(now - started));
                    }
                    self.stats.not_visible_yet();
                    tokio::time::sleep_until((now + backoff.delay()).min(deadline)).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use crate::aws::timing::Timing;
    use crate::aws::{AwsError, AwsSettings, ErrorClass};

    async fn aws(timing: Timing) -> crate::aws::Aws {
        let mut aws = crate::aws::connect(&AwsSettings {
            local: true,
            ..AwsSettings::default()
        })
        .await;
        aws.timing = timing;
        aws
    }

    fn not_found() -> AwsError {
        AwsError::answer(
            "ec2:ModifyVpcAttribute",
            "lab-vpc",
            "InvalidVpcID.NotFound",
            "The vpc ID 'vpc-1' does not exist",
        )
        .with_class(ErrorClass::Gone)
    }

    #[tokio::test(start_paused = true)]
    async fn not_visible_yet_is_asked_again_until_it_is() {
        let aws = aws(Timing::default()).await;
        let calls = AtomicU32::new(0);
        let r = aws
            .settle(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0..=2 => Err(not_found()),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(r.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(aws.stats.summary().not_visible, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn what_never_shows_up_fails_at_the_bound_with_its_code() {
        let aws = aws(Timing::new(None, Some(Duration::from_secs(20)))).await;
        let started = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let r: Result<(), AwsError> = aws
            .settle(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(not_found())
            })
            .await;
        let e = r.expect_err("gives up");
        assert_eq!(e.aws_code(), Some("InvalidVpcID.NotFound"));
        assert!(e.message().contains("still not visible after 20"), "{e}");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(20) && waited < Duration::from_secs(21));
        // Backoff to 5 s: about a dozen attempts in 20 s, not hundreds.
        let n = calls.load(Ordering::SeqCst);
        assert!((6..=30).contains(&n), "{n} attempts");
    }

    #[tokio::test(start_paused = true)]
    async fn a_follow_up_retries_only_what_is_new() {
        let aws = aws(Timing::default()).await;
        let now = std::time::SystemTime::now();
        // Created long ago and not found now: deleted since the listing, asked once.
        let calls = AtomicU32::new(0);
        let old = aws
            .follow_up(Some(now - Duration::from_secs(3600)), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(not_found())
            })
            .await;
        assert!(matches!(old, Ok(None)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Created a second ago: not visible yet, asked again until it is.
        let calls = AtomicU32::new(0);
        let new = aws
            .follow_up(Some(now - Duration::from_secs(1)), || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(not_found()),
                    _ => Ok(5),
                }
            })
            .await;
        assert_eq!(new.ok().flatten(), Some(5));
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_not_retried_here() {
        let aws = aws(Timing::default()).await;
        let calls = AtomicU32::new(0);
        let r: Result<(), AwsError> = aws
            .settle(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(AwsError::answer(
                    "ec2:CreateSubnet",
                    "public-a",
                    "InvalidSubnet.Conflict",
                    "overlaps",
                ))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// A young resource that a listing no longer shows is gone at once; one it still shows is
    /// asked about again until it answers.
    #[tokio::test(start_paused = true)]
    async fn a_young_resource_gone_from_its_listing_is_not_waited_for() {
        let aws = aws(Timing::default()).await;
        let now = Some(std::time::SystemTime::now());
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let gone: Result<Option<u32>, AwsError> = aws
            .follow_up_listed(
                now,
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(not_found())
                },
                || async { Ok(false) },
            )
            .await;
        assert!(matches!(gone, Ok(None)));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() < Duration::from_secs(2));

        let calls = AtomicU32::new(0);
        let found = aws
            .follow_up_listed(
                now,
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0..=2 => Err(not_found()),
                        _ => Ok(7),
                    }
                },
                || async { Ok(true) },
            )
            .await;
        assert_eq!(found.ok(), Some(Some(7)));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
