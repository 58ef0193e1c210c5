//! How long AWS takes, and how awslab paces itself while it waits: the time scale, the bound on
//! "not visible yet", jittered backoff, and poll schedules shaped by a transition's typical
//! duration (sparse early, dense near the time AWS usually needs).

use std::time::Duration;

/// What awslab expects of AWS's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Multiplies every duration awslab *expects* (typical transitions, poll gaps, backoff), never
    /// a bound it enforces. 1 on AWS; a model of AWS that runs faster (the tests' proxy) is
    /// matched with `AWSLAB_TIME_SCALE`.
    pub scale: f64,
    /// How long a not-found answer about something awslab knows exists (it created it, or a
    /// describe listed it) counts as "not visible yet" and is asked again.
    pub visibility: Duration,
}

/// AWS documents eventual consistency in seconds and recommends backing off "up to a few
/// minutes"; two minutes is what Terraform settled on for IAM, S3, ELB, Auto Scaling and ECR.
pub const VISIBILITY: Duration = Duration::from_secs(120);

impl Default for Timing {
    fn default() -> Self {
        Timing {
            scale: 1.0,
            visibility: VISIBILITY,
        }
    }
}

impl Timing {
    /// The timing for a command: `scale` from the environment, the visibility bound capped by
    /// `--timeout`.
    pub fn new(scale: Option<f64>, timeout: Option<Duration>) -> Timing {
        let scale = scale.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(1.0);
        Timing {
            scale,
            visibility: timeout.map_or(VISIBILITY, |t| t.min(VISIBILITY)),
        }
    }

    /// An expected duration on this clock.
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale)
    }

    /// Backoff for asking again about something not visible yet: from 200 ms, doubling to 5 s.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(
            self.scaled(Duration::from_millis(200)),
            self.scaled(Duration::from_secs(5)),
        )
    }

    /// Backoff for a dependency that has to clear (an interface draining, a NAT gateway
    /// deleting): from 500 ms, doubling to 15 s.
    pub fn dependency_backoff(&self) -> Backoff {
        Backoff::new(
            self.scaled(Duration::from_millis(500)),
            self.scaled(Duration::from_secs(15)),
        )
    }

    /// The poll schedule of a transition that usually takes `typical` on AWS: one poll every
    /// `typical / 90` (1 to 5 s) around the typical time, at most 30 s apart elsewhere.
    pub fn polls(&self, typical: Duration) -> Polls {
        let min_gap = (typical / 90).clamp(Duration::from_secs(1), Duration::from_secs(5));
        Polls {
            typical: self.scaled(typical),
            min_gap: self.scaled(min_gap),
            max_gap: self.scaled(Duration::from_secs(30)),
        }
    }
}

/// Exponential backoff with "equal jitter": each delay is uniform in [d/2, d], where d doubles
/// from `base` up to `cap`. Jitter keeps several waiters from asking in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            next: base,
            cap: cap.max(base),
            rng: fastrand::Rng::new(),
        }
    }

    /// The next delay.
    pub fn delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.cap);
        d.mul_f64(0.5 + self.rng.f64() / 2.0)
    }
}

/// When to look again at something that usually takes `typical`: halfway to the dense window
/// while it is far (at most `max_gap` apart), every `min_gap` from 0.8 to 1.5 times the typical
/// time (AWS's durations vary by a third either way), then gaps that grow with the overrun, so
/// a transition that is very late is not polled as hard as one on time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polls {
    pub typical: Duration,
    pub min_gap: Duration,
    pub max_gap: Duration,
}

impl Polls {
    /// The gap before the next poll, `elapsed` after the transition began.
    pub fn gap(&self, elapsed: Duration) -> Duration {
        let max_gap = self.max_gap.min(self.typical / 4).max(self.min_gap);
        let dense_from = self.typical.mul_f64(0.8);
        let dense_to = self.typical.mul_f64(1.5);
        if elapsed < dense_from {
            ((dense_from - elapsed) / 2).clamp(self.min_gap, max_gap)
        } else if elapsed < dense_to {
            self.min_gap
        } else {
            (self.min_gap + (elapsed - dense_to) / 4).min(max_gap)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Backoff, Timing};

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// The poll times of a schedule up to `until`.
    fn times(t: &Timing, typical: f64, until: f64) -> Vec<f64> {
        let polls = t.polls(secs(typical));
        let mut at = secs(0.0);
        let mut out = vec![0.0];
        while at < secs(until) {
            at += polls.gap(at);
            out.push((at.as_secs_f64() * 100.0).round() / 100.0);
        }
        out
    }

    #[test]
    fn polls_are_sparse_early_and_dense_near_the_typical_time() {
        let t = Timing::default();
        let at = times(&t, 90.0, 140.0);
        // Few polls in the first half, one a second from 72 s.
        assert!(at.iter().filter(|x| **x < 45.0).count() <= 3, "{at:?}");
        // Whenever a NAT gateway becomes available between 75 and 130 s (what AWS takes), it is
        // seen within a second.
        for ready in [75.0, 84.0, 88.3, 90.0, 94.0, 101.5, 121.0, 130.0] {
            let seen = at.iter().copied().find(|x| *x >= ready).expect("seen");
            assert!(seen - ready <= 1.01, "ready {ready} seen {seen}: {at:?}");
        }
        // A gateway ready at 95 s costs about thirty describes.
        let until_95 = at.iter().filter(|x| **x <= 95.0).count();
        assert!(until_95 <= 35, "{until_95} polls: {at:?}");
    }

    #[test]
    fn a_long_transition_is_polled_less_densely() {
        let t = Timing::default();
        assert_eq!(t.polls(secs(180.0)).gap(secs(170.0)), secs(2.0));
        assert_eq!(t.polls(secs(30.0)).gap(secs(30.0)), secs(1.0));
    }

    #[test]
    fn an_overrun_is_polled_less_and_less_often() {
        let polls = Timing::default().polls(secs(90.0));
        assert!(polls.gap(secs(140.0)) < polls.gap(secs(200.0)));
        assert!(polls.gap(secs(600.0)) <= secs(22.5));
    }

    #[test]
    fn the_scale_shrinks_what_is_expected_but_not_the_bounds() {
        let t = Timing::new(Some(0.01), Some(Duration::from_secs(600)));
        assert_eq!(t.visibility, super::VISIBILITY);
        assert_eq!(t.polls(secs(90.0)).typical, secs(0.9));
        let t = Timing::new(Some(-1.0), Some(Duration::from_secs(30)));
        assert_eq!(t.scale, 1.0);
        assert_eq!(t.visibility, Duration::from_secs(30));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let mut b = Backoff::new(secs(0.2), secs(1.0));
        let d: Vec<Duration> = (0..6).map(|_| b.delay()).collect();
        assert!(d[0] >= secs(0.1) && d[0] <= secs(0.2), "{d:?}");
        assert!(d[1] >= secs(0.2) && d[1] <= secs(0.4), "{d:?}");
        assert!(d[5] >= secs(0.5) && d[5] <= secs(1.0), "{d:?}");
    }
}
