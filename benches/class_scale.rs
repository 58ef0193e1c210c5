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
//!   AWSLAB_BENCH_DETAIL=1 ...           (also each operation's wait for the request budget, a
//!                                        timeline of the class teardown, and each command's
//!                                        stderr, timed, in target/bench/<scenario>.log)
//!   AWSLAB_BENCH_TRACE=1 ...            (awslab's and the SDK's tracing in those logs)
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

/// Runs awslab with `--stats` and reads its figures. With `AWSLAB_BENCH_DETAIL`, its stderr
/// is also written to `target/bench/<log>.log`, each line stamped with the seconds since the
/// command started.
async fn measure(cmd: tokio::process::Command, args: &[&str], log: &str) -> Figures {
    let mut cmd = cmd.into_std();
    if std::env::var_os("AWSLAB_BENCH_TRACE").is_some() {
        cmd.arg("-vvv");
    }
    cmd.arg("--stats")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let (wall, success, stderr, timed) = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let started = Instant::now();
        let mut child = cmd.spawn().expect("run awslab");
        let mut text = String::new();
        let mut timed = String::new();
        if let Some(err) = child.stderr.take() {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                timed.push_str(&format!(
                    "{:>7.2} {line}\n",
                    started.elapsed().as_secs_f64()
                ));
                text.push_str(&line);
                text.push('\n');
            }
        }
        let status = child.wait().expect("wait for awslab");
        (started.elapsed(), status.success(), text, timed)
    })
    .await
    .expect("join");
    if std::env::var_os("AWSLAB_BENCH_DETAIL").is_some() {
        let dir = common::root().join("target/bench");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{log}.log")), timed);
    }
    assert!(success, "{args:?} failed: {stderr}");
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
        let f = measure(
            cmd,
            &args,
            &format!("{lab}-x{n}-{command}").replace('/', "_"),
        )
        .await;
        print(&what, command, &f);
        report.push(record(&what, command, &f));
    }
}

/// Ids of the resources the realistic profile has seen a delete of.
fn deleted(proxy: &FaultProxy) -> std::collections::BTreeSet<String> {
    proxy
        .model_report()
        .map(|r| {
            r.resources
                .into_iter()
                .filter(|r| r.delete_requested_at.is_some())
                .map(|r| r.id)
                .collect()
        })
        .unwrap_or_default()
}

/// When the class teardown asked each kind's deletes and when they were gone, from the start
/// of the teardown's first delete: where the time between one env's teardown and a class's
/// goes.
fn timeline(proxy: &FaultProxy, before: &std::collections::BTreeSet<String>) {
    let Some(report) = proxy.model_report() else {
        return;
    };
    let class: Vec<_> = report
        .resources
        .iter()
        .filter(|r| r.delete_requested_at.is_some() && !before.contains(&r.id))
        .collect();
    let Some(t0) = class.iter().filter_map(|r| r.delete_requested_at).min() else {
        return;
    };
    let mut kinds: Vec<_> = class.iter().map(|r| format!("{:?}", r.kind)).collect();
    kinds.sort();
    kinds.dedup();
    let spread = |mut v: Vec<f64>| -> String {
        v.sort_by(f64::total_cmp);
        match (v.first(), v.get(v.len() / 2), v.last()) {
            (Some(a), Some(m), Some(z)) => format!("{a:>6.1} {m:>6.1} {z:>6.1}"),
            _ => "     -      -      -".to_owned(),
        }
    };
    println!("      class teardown timeline (s from its first delete; min median max):");
    for kind in kinds {
        let of: Vec<_> = class
            .iter()
            .filter(|r| format!("{:?}", r.kind) == kind)
            .collect();
        let asked = of
            .iter()
            .filter_map(|r| r.delete_requested_at)
            .map(|t| t.saturating_sub(t0).as_secs_f64())
            .collect();
        let gone = of
            .iter()
            .filter_map(|r| r.gone_at)
            .map(|t| t.saturating_sub(t0).as_secs_f64())
            .collect();
        println!(
            "      {kind:>20} x{:<3} asked {}   gone {}",
            of.len(),
            spread(asked),
            spread(gone)
        );
    }
    let mut actions: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.at >= t0)
        .map(|s| s.action.clone())
        .collect();
    actions.sort();
    actions.dedup();
    for action in actions {
        let at: Vec<f64> = report
            .steps
            .iter()
            .filter(|s| s.at >= t0 && s.action == action)
            .map(|s| s.at.saturating_sub(t0).as_secs_f64())
            .collect();
        println!("      {action:>20} x{:<3} at    {}", at.len(), spread(at));
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
        let f = measure(
            cmd,
            &["--env", &env, command, &vpc, "--yes"],
            &format!("realistic-one-{command}"),
        )
        .await;
        print("one env (realistic)", command, &f);
        report.push(record("one env (realistic)", command, &f));
        one_down = f;
    }
    let prefix = format!("r{}x", std::process::id() % 10_000);
    let path = roster(home.path(), &prefix, class);
    let path = path.display().to_string();
    let jobs = class.to_string();
    let mut class_down = Figures::default();
    let mut deleted_before = std::collections::BTreeSet::new();
    for command in ["up", "down"] {
        if command == "down" {
            deleted_before = deleted(&real);
        }
        let mut cmd = common::awslab_realistic(home.path(), &real);
        cmd.env("AWS_REGION", "eu-central-2");
        let f = measure(
            cmd,
            &[command, &vpc, "--roster", &path, "--jobs", &jobs, "--yes"],
            &format!("realistic-class-{command}"),
        )
        .await;
        let what = format!("class of {class} (realistic)");
        print(&what, command, &f);
        report.push(record(&what, command, &f));
        class_down = f;
    }
    if std::env::var_os("AWSLAB_BENCH_DETAIL").is_some() {
        timeline(&real, &deleted_before);
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
