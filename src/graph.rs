//! The dependency DAG of a lab: topological levels (the order `plan` lists resources in; apply
//! and destroy run along the edges themselves, see [`crate::engine::schedule`]) and whole-cycle
//! reporting. Nodes are logical names; an edge `a -> b` means `a` depends on `b`.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// node -> the nodes it depends on (only nodes of the graph).
    deps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Builds the graph; references to names that are not nodes are dropped (validation reports
    /// them before a graph is built).
    pub fn new<I, D, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = (S, D)>,
        D: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let raw: Vec<(String, Vec<String>)> = nodes
            .into_iter()
            .map(|(n, d)| (n.into(), d.into_iter().map(Into::into).collect()))
            .collect();
        let names: BTreeSet<String> = raw.iter().map(|(n, _)| n.clone()).collect();
        let deps = raw
            .into_iter()
            .map(|(n, d)| {
                let d = d
                    .into_iter()
                    .filter(|x| names.contains(x) && *x != n)
                    .collect();
                (n, d)
            })
            .collect();
        Graph { deps }
    }

    pub fn deps_of(&self, node: &str) -> impl Iterator<Item = &str> {
        self.deps
            .get(node)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Nodes that depend on `node`.
    pub fn dependents_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.deps
            .iter()
            .filter(move |(_, d)| d.contains(node))
            .map(|(n, _)| n.as_str())
    }

    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.deps.keys().map(String::as_str)
    }

    /// A cycle, whole, as `[a, b, c, a]`; `None` for a DAG. Deterministic (sorted start nodes).
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let mut mark: BTreeMap<&str, Mark> =
            self.deps.keys().map(|k| (k.as_str(), Mark::New)).collect();
        for start in self.deps.keys() {
            if mark[start.as_str()] != Mark::New {
                continue;
            }
            // Iterative DFS keeping the path.
            let mut path: Vec<&str> = vec![start];
            let mut iters: Vec<std::collections::btree_set::Iter<'_, String>> =
                vec![self.deps[start].iter()];
            mark.insert(start, Mark::Open);
            while let Some(it) = iters.last_mut() {
                match it.next() {
                    Some(next) => match mark[next.as_str()] {
                        Mark::New => {
                            mark.insert(next, Mark::Open);
                            path.push(next);
                            iters.push(self.deps[next].iter());
                        }
                        Mark::Open => {
                            let from = path.iter().position(|p| *p == next).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                path[from..].iter().map(|s| (*s).to_owned()).collect();
                            cycle.push(next.clone());
                            return Some(cycle);
                        }
                        Mark::Done => {}
                    },
                    None => {
                        if let Some(done) = path.pop() {
                            mark.insert(done, Mark::Done);
                        }
                        iters.pop();
                    }
                }
            }
        }
        None
    }

    /// Topological levels: every node comes after all it depends on; nodes of one level are
    /// independent of each other. Nodes on a cycle are left out (validation rejects cycles).
    pub fn levels(&self) -> Vec<Vec<String>> {
        let mut remaining: BTreeMap<&str, usize> = self
            .deps
            .iter()
            .map(|(n, d)| (n.as_str(), d.len()))
            .collect();
        let mut levels = Vec::new();
        loop {
            let ready: Vec<&str> = remaining
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(k, _)| *k)
                .collect();
            if ready.is_empty() {
                break;
            }
            for r in &ready {
                remaining.remove(r);
            }
            for (node, count) in remaining.iter_mut() {
                let d = &self.deps[*node];
                *count -= ready.iter().filter(|r| d.contains(**r)).count();
            }
            levels.push(ready.into_iter().map(str::to_owned).collect());
        }
        levels
    }
}

#[cfg(test)]
mod tests {
    use super::Graph;

    fn g(edges: &[(&str, &[&str])]) -> Graph {
        Graph::new(edges.iter().map(|(n, d)| (*n, d.iter().copied())))
    }

    #[test]
    fn levels_put_dependencies_first() {
        let graph = g(&[
            ("vpc", &[]),
            ("subnet", &["vpc"]),
            ("igw", &["vpc"]),
            ("rt", &["vpc", "subnet", "igw"]),
        ]);
        assert_eq!(
            graph.levels(),
            vec![vec!["vpc"], vec!["igw", "subnet"], vec!["rt"]]
        );
    }

    #[test]
    fn cycle_is_reported_whole() {
        let graph = g(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(graph.find_cycle().unwrap(), vec!["a", "b", "c", "a"]);
    }

    #[test]
    fn dag_has_no_cycle_and_unknown_refs_are_dropped() {
        let graph = g(&[("a", &["b", "zzz"]), ("b", &[])]);
        assert_eq!(graph.find_cycle(), None);
        assert_eq!(graph.levels(), vec![vec!["b"], vec!["a"]]);
        assert_eq!(graph.dependents_of("b").collect::<Vec<_>>(), vec!["a"]);
    }
}
