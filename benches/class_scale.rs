//! A class at scale: `up`, `check` and `down --roster` of 30 envs of the VPC lab (its reduced
//! form on MiniStack) and of 100 envs of the S3 lab against one emulator, all at once, reporting
//! wall time, API calls, retries and throttling answers per command; then, through the proxy's
//! realistic AWS profile (EC2's token buckets at their real refill rates, state timelines
//! scaled), the class's teardown against one env's. Not a timed test: it measures and prints,
//! and writes the figures to `target/bench/class_scale.json`.
//!
//!   cargo bench --profile dev --bench class_scale
//!   AWSLAB_BENCH_CLASS=10 AWSLAB_BENCH_SCALE=0.3 cargo bench --profile dev --bench class_scale
//!   AWSLAB_BENCH_REALISTIC_ONLY=1 ...   (only the realistic teardown comparison)
//!   AWSLAB_BENCH_DETAIL=1 ...           (also each operation's wait for the request budget)
//!
//! The realistic comparison runs at AWS's real durations by default (scale 1, ~10 minutes): the
//! request budget paces a class by AWS's real refill rates, which a scaled-down model would not
//! shrink, so only real durations compare a class with one env as AWS would.
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::proxy::{FaultProxy, Faults};
use serde_json::json;

/// One command's figures, from its `--stats` lines.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    wall: Duration,
    calls: u64,
    retries: u64,
    throttled: u64,
    budget_wait: f64,
}

async fn measure(mut cmd: tokio::process::Command, args: &[&str]) -> Figures {
    let started = Instant::now();
    let out = cmd
        .arg("--stats")
        .args(args)
        .output()
        .await
        .expect("run awslab");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let line = |marker: &str| {
        stderr
            .lines()
            .find(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("no `{marker}` line: {stderr}"))
            .to_owned()
    };
    let number = |line: &str, before: &str| -> f64 {
        line.split(before)
            .next()
            .and_then(|s| s.trim_end_matches('s').rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default()
    };
    if std::env::var_os("AWSLAB_BENCH_DETAIL").is_some() {
        // Where the time went: the operations that waited for the request budget.
        for l in stderr
            .lines()
            .filter(|l| l.contains("waited for the budget)"))
        {
            println!("      {}", l.trim());
        }
    }
    let calls = line(" API calls, ");
    let waits = line("  throttled ");
    Figures {
        wall,
        calls: number(&calls, " API calls") as u64,
        retries: number(&calls, " retries") as u64,
        throttled: waits
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_default(),
        budget_wait: number(&waits, " waited for the request budget"),
    }
}

/// A roster of `n` students `prefix00`.. in the caller's account.
fn roster(dir: &Path, prefix: &str, n: usize) -> std::path::PathBuf {
    let path = dir.join(format!("{prefix}.toml"));
    let text: String = (0..n)
        .map(|i| format!("[[student]]\nenv = \"{prefix}{i:02}\"\n\n"))
        .collect();
    std::fs::write(&path, text).expect("write roster");
    path
}

fn print(what: &str, command: &str, f: &Figures) {
    println!(
        "{what:>34} {command:>5}: {:>7.2} s  {:>5} API calls  {:>3} retries  {:>3} throttled  {:>6.1} s budget wait",
        f.wall.as_secs_f64(),
        f.calls,
        f.retries,
        f.throttled,
        f.budget_wait
    );
}

fn record(what: &str, command: &str, f: &Figures) -> serde_json::Value {
    json!({
        "scenario": what,
        "emulator": common::emulator(),
        "command": command,
        "wall_seconds": f.wall.as_secs_f64(),
        "api_calls": f.calls,
        "retries": f.retries,
        "throttled": f.throttled,
        "budget_wait_seconds": f.budget_wait,
    })
}

/// `up`, `check`, `down` of a class of `n` envs of `lab`, all at once, through `url`.
async fn class_cycle(
    url: &str,
    lab: &str,
    n: usize,
    region: &str,
    report: &mut Vec<serde_json::Value>,
) {
    let home = tempfile::tempdir().expect("home");
    let prefix = format!("c{}x", std::process::id() % 10_000);
    let roster = roster(home.path(), &prefix, n);
    let roster = roster.display().to_string();
    let jobs = n.to_string();
    let what = format!("{lab} x{n}");
    for command in ["up", "check", "down"] {
        let mut args = vec![command, lab, "--roster", &roster, "--jobs", &jobs];
        if command != "check" {
            args.push("--yes");
        }
        let mut cmd = common::awslab_via(home.path(), url);
        cmd.env("AWS_REGION", region);
        let f = measure(cmd, &args).await;
        print(&what, command, &f);
        report.push(record(&what, command, &f));
    }
}

#[tokio::main]
async fn main() {
    let upstream = common::endpoint();
    let class: usize = std::env::var("AWSLAB_BENCH_CLASS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let buckets: usize = std::env::var("AWSLAB_BENCH_BUCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let scale: f64 = std::env::var("AWSLAB_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0);
    let mut report = Vec::new();
    let vpc = common::cycle_lab();
    if std::env::var_os("AWSLAB_BENCH_REALISTIC_ONLY").is_none() {
        // A pass-through proxy: the same path as the realistic runs, no faults.
        let proxy = FaultProxy::start(&upstream, Faults::default()).await;
        println!(
            "a class on the emulator ({}), all at once:",
            common::emulator()
        );
        class_cycle(&proxy.url, &vpc, class, "eu-south-1", &mut report).await;
        class_cycle(
            &proxy.url,
            "s3-static-website",
            buckets,
            "eu-south-2",
            &mut report,
        )
        .await;
    }

    println!(
        "\nteardown through the realistic AWS profile at scale {scale}: one env, then a class of {class}:"
    );
    let real = FaultProxy::start(&upstream, Faults::realistic(scale, 20261201)).await;
    let home = tempfile::tempdir().expect("home");
    let env = format!("one{}", std::process::id() % 10_000);
    let mut one_down = Figures::default();
    for command in ["up", "down"] {
        let mut cmd = common::awslab_realistic(home.path(), &real);
        cmd.env("AWS_REGION", "eu-central-2");
        let f = measure(cmd, &["--env", &env, command, &vpc, "--yes"]).await;
        print("one env (realistic)", command, &f);
        report.push(record("one env (realistic)", command, &f));
        one_down = f;
    }
    let prefix = format!("r{}x", std::process::id() % 10_000);
    let path = roster(home.path(), &prefix, class);
    let path = path.display().to_string();
    let jobs = class.to_string();
    let mut class_down = Figures::default();
    for command in ["up", "down"] {
        let mut cmd = common::awslab_realistic(home.path(), &real);
        cmd.env("AWS_REGION", "eu-central-2");
        let f = measure(
            cmd,
            &[command, &vpc, "--roster", &path, "--jobs", &jobs, "--yes"],
        )
        .await;
        let what = format!("class of {class} (realistic)");
        print(&what, command, &f);
        report.push(record(&what, command, &f));
        class_down = f;
    }
    let ratio = class_down.wall.as_secs_f64() / one_down.wall.as_secs_f64().max(1e-9);
    println!(
        "class teardown / one env's: {ratio:.2}x ({:.1} s / {:.1} s)",
        class_down.wall.as_secs_f64(),
        one_down.wall.as_secs_f64()
    );
    report.push(json!({
        "scenario": format!("realistic x{scale}: class of {class} teardown / one env's"),
        "ratio": ratio,
    }));
    let dir = common::root().join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let out = dir.join("class_scale.json");
    let _ = std::fs::write(
        &out,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    );
    println!("figures written to {}", out.display());
}
