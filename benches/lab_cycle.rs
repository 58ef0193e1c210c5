//! Wall time and API calls of `up`, `check` and `down` of each lab (the VPC, EFS, ALB and S3 labs, or
//! their reduced forms on MiniStack), on the emulator and with
//! latency injected by the fault proxy (real AWS answers in tens of milliseconds, the emulator in
//! one or two). Not a timed test: it measures and prints, and writes the figures to
//! `target/bench/lab_cycle.json` for comparison between commits.
//!
//!   cargo bench --profile dev --bench lab_cycle            (reuses the debug build)
//!   AWSLAB_BENCH_RUNS=5 AWSLAB_TEST_EMULATOR=ministack cargo bench --profile dev --bench lab_cycle
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::time::{Duration, Instant};

use common::proxy::{FaultProxy, Faults};
use serde_json::json;

/// One command's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    wall: Duration,
    calls: u64,
    retries: u64,
}

/// Runs one command with `--stats` and reads `up: 50 API calls, 0 retries, 4.8s` from stderr.
async fn measure(url: &str, home: &std::path::Path, args: &[&str]) -> Figures {
    let started = Instant::now();
    let out = common::awslab_via(home, url)
        .arg("--stats")
        .args(args)
        .output()
        .await
        .expect("run awslab");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains(" API calls, "))
        .unwrap_or_else(|| panic!("no stats line: {stderr}"));
    let number = |after: &str| -> u64 {
        line.split(after)
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default()
    };
    Figures {
        wall,
        calls: number(" API calls"),
        retries: number(" retries"),
    }
}

fn median(mut v: Vec<Figures>) -> Figures {
    v.sort_by_key(|f| f.wall);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("AWSLAB_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let labs = [
        common::cycle_lab(),
        "efs-shared-storage".to_owned(),
        common::alb_lab(),
        "s3-static-website".to_owned(),
    ];
    let upstream = common::endpoint();
    let mut report = Vec::new();
    for lab in &labs {
        let lab = lab.as_str();
        for (scenario, latency) in [("emulator", 0u64), ("latency 50 ms", 50)] {
            let proxy = FaultProxy::start(
                &upstream,
                Faults {
                    latency: Duration::from_millis(latency),
                    ..Faults::default()
                },
            )
            .await;
            let mut by_command: Vec<(&str, Vec<Figures>)> =
                vec![("up", vec![]), ("check", vec![]), ("down", vec![])];
            for run in 0..runs {
                let env = format!("bench-{}-{latency}-{run}", std::process::id());
                let home = tempfile::tempdir().expect("home");
                let steps: [(&str, Vec<&str>); 3] = [
                    ("up", vec!["--env", &env, "up", &lab, "--yes"]),
                    ("check", vec!["--env", &env, "check", &lab]),
                    ("down", vec!["--env", &env, "down", &lab, "--yes"]),
                ];
                for (i, (_, args)) in steps.iter().enumerate() {
                    let f = measure(&proxy.url, home.path(), args).await;
                    by_command[i].1.push(f);
                }
            }
            for (command, figures) in by_command {
                let m = median(figures);
                println!(
                    "{lab:>20} {scenario:>14} {command:>5}: {:>6.2} s  {:>3} API calls  {:>2} retries  (median of {runs})",
                    m.wall.as_secs_f64(),
                    m.calls,
                    m.retries
                );
                report.push(json!({
                    "scenario": scenario,
                    "emulator": common::emulator(),
                    "lab": lab,
                    "command": command,
                    "wall_seconds": m.wall.as_secs_f64(),
                    "api_calls": m.calls,
                    "retries": m.retries,
                    "runs": runs,
                }));
            }
        }
    }
    let dir = common::root().join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("lab_cycle.json");
    let _ = std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    );
    println!("figures written to {}", path.display());
}
