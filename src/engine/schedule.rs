//! Runs work along a dependency graph: a node starts as soon as everything it depends on has
//! finished (so wall time follows the critical path), at most `concurrency` at once. A failed
//! node's dependents are skipped; independent branches go on.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::aws::AwsError;

#[derive(Debug)]
pub enum NodeResult<T> {
    Done(T),
    Failed(AwsError),
    /// Not run: this dependency failed or was skipped.
    Skipped(String),
}

/// `deps[node]` lists what `node` waits for (names outside `deps` are ignored).
pub async fn run<T, F, Fut>(
    deps: BTreeMap<String, BTreeSet<String>>,
    concurrency: usize,
    mut work: F,
) -> BTreeMap<String, NodeResult<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut waiting: BTreeMap<String, BTreeSet<String>> = deps
        .iter()
        .map(|(n, d)| {
            let d = d
                .iter()
                .filter(|x| deps.contains_key(*x) && *x != n)
                .cloned()
                .collect();
            (n.clone(), d)
        })
        .collect();
    let mut results: BTreeMap<String, NodeResult<T>> = BTreeMap::new();
    let mut running = FuturesUnordered::new();
    loop {
        // Skip what waits on a failure.
        loop {
            let skip: Vec<(String, String)> = waiting
                .iter()
                .filter_map(|(n, d)| {
                    d.iter()
                        .find(|x| {
                            matches!(
                                results.get(*x),
                                Some(NodeResult::Failed(_) | NodeResult::Skipped(_))
                            )
                        })
                        .map(|x| (n.clone(), x.clone()))
                })
                .collect();
            if skip.is_empty() {
                break;
            }
            for (n, cause) in skip {
                waiting.remove(&n);
                results.insert(n, NodeResult::Skipped(cause));
            }
        }
        let ready: Vec<String> = waiting
            .iter()
            .filter(|(_, d)| {
                d.iter()
                    .all(|x| matches!(results.get(x), Some(NodeResult::Done(_))))
            })
            .map(|(n, _)| n.clone())
            .collect();
        for n in ready {
            if running.len() >= concurrency.max(1) {
                break;
            }
            waiting.remove(&n);
            let fut = work(n.clone());
            running.push(async move { (n, fut.await) });
        }
        match running.next().await {
            Some((n, Ok(v))) => {
                results.insert(n, NodeResult::Done(v));
            }
            Some((n, Err(e))) => {
                results.insert(n, NodeResult::Failed(e));
            }
            None => {
                // Nothing running and nothing ready: what is left waits on a cycle.
                for (n, d) in std::mem::take(&mut waiting) {
                    let cause = d.into_iter().next().unwrap_or_default();
                    results.insert(n, NodeResult::Skipped(cause));
                }
                return results;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Mutex;

    use super::{NodeResult, run};
    use crate::aws::AwsError;

    fn deps(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(n, d)| ((*n).to_owned(), d.iter().map(|x| (*x).to_owned()).collect()))
            .collect()
    }

    #[tokio::test]
    async fn dependencies_finish_before_dependents_start() {
        let order = Mutex::new(Vec::new());
        let results = run(
            deps(&[
                ("vpc", &[]),
                ("subnet", &["vpc"]),
                ("rt", &["subnet", "vpc"]),
            ]),
            4,
            |n| {
                order.lock().expect("lock").push(n.clone());
                async move { Ok::<_, AwsError>(n) }
            },
        )
        .await;
        assert_eq!(*order.lock().expect("lock"), vec!["vpc", "subnet", "rt"]);
        assert!(results.values().all(|r| matches!(r, NodeResult::Done(_))));
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_but_not_independent_branches() {
        let results = run(
            deps(&[
                ("a", &[]),
                ("b", &["a"]),
                ("c", &["b"]),
                ("x", &[]),
                ("y", &["x"]),
            ]),
            2,
            |n| async move {
                if n == "a" {
                    Err(AwsError::answer("op", "a", "Boom", "failed"))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert!(matches!(results["a"], NodeResult::Failed(_)));
        assert!(matches!(&results["b"], NodeResult::Skipped(c) if c == "a"));
        assert!(matches!(&results["c"], NodeResult::Skipped(c) if c == "b"));
        assert!(matches!(results["x"], NodeResult::Done(())));
        assert!(matches!(results["y"], NodeResult::Done(())));
    }
}
