//! Wall time and API calls of `up`, `check` and `down` of each lab (the VPC, EFS, ALB, S3,
//! golden-ami and ECS labs, or their reduced forms on MiniStack; the golden-ami lab through the
//! image shim on moto, `tests/common/image_shim.rs`, the ECS lab through the ECS shim,
//! `tests/common/ecs_shim.rs`), on the emulator and with
//! latency injected by the fault proxy (real AWS answers in tens of milliseconds, the emulator in
//! one or two), and through the proxy's realistic AWS profile (`tests/common/aws_model.rs`): there
//! the figure that matters is `up` and `down` wall time against the critical path of the model
//! (the longest chain of calls and modeled state waits, which no client can beat). Not a timed
//! test: it measures and prints, and writes the figures to `target/bench/lab_cycle.json` for
//! comparison between commits.
//!
//!   cargo bench --profile dev --bench lab_cycle            (reuses the debug build)
//!   AWSLAB_BENCH_RUNS=5 AWSLAB_TEST_EMULATOR=ministack cargo bench --profile dev --bench lab_cycle
//!   AWSLAB_BENCH_SCALE=1 cargo bench --profile dev --bench lab_cycle   (AWS's real durations:
//!     about a quarter of an hour; the default scale 0.1 runs ten times faster)
//!   AWSLAB_BENCH_REALISTIC_ONLY=1 AWSLAB_BENCH_LABS=vpc-public-private AWSLAB_BENCH_LATENCY_MS=50 ...
//!   AWSLAB_BENCH_LABS=golden-ami cargo bench --profile dev --bench lab_cycle   (one lab, every scenario)
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::time::{Duration, Instant};

use common::aws_model::{Phase, critical_path};
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
    measure_with(common::awslab_via(home, url), args).await
}

async fn measure_with(mut cmd: tokio::process::Command, args: &[&str]) -> Figures {
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

/// One `up`, `check`, `down` of `lab` through the realistic profile at `scale`, with the critical
/// paths of its `up` and `down`.
async fn realistic(upstream: &str, lab: &str, scale: f64, latency: Duration) -> serde_json::Value {
    let proxy = FaultProxy::start(
        upstream,
        Faults {
            latency,
            ..Faults::realistic(scale, 20261201)
        },
    )
    .await;
    let env = format!("bench-real-{}", std::process::id());
    let home = tempfile::tempdir().expect("home");
    // The ECR lab's repository name is one per account and region: its own region.
    let region = if lab == "ecr-push" {
        "ap-southeast-2"
    } else {
        "us-east-1"
    };
    let mut figures = Vec::new();
    for command in ["up", "check", "down"] {
        let mut args = vec!["--env", env.as_str(), command, lab];
        if command != "check" {
            args.push("--yes");
        }
        let mut cmd = common::awslab_realistic(home.path(), &proxy);
        cmd.env("AWS_REGION", region);
        figures.push((command, measure_with(cmd, &args).await));
    }
    proxy.settle().await;
    let model = proxy.model_report().expect("realistic proxy");
    if std::env::var_os("AWSLAB_BENCH_TIMELINE").is_some() {
        // Where the time went: each resource's create, ready, delete and gone times.
        let at = |d: Option<Duration>| {
            d.map_or_else(|| "-".to_owned(), |d| format!("{:.2}", d.as_secs_f64()))
        };
        let mut records = model.resources.clone();
        records.sort_by_key(|r| r.created_at.or(r.delete_requested_at));
        for r in &records {
            println!(
                "    {:>22} {:<40} created {:>7} ready {:>7} delete {:>7} gone {:>7}",
                r.kind.as_str(),
                r.id.chars().take(40).collect::<String>(),
                at(r.created_at),
                at(Some(r.ready_at)),
                at(r.delete_requested_at),
                at(r.gone_at)
            );
        }
    }
    let latency = latency + model.median_call_latency;
    let path = |phase| critical_path(&model, phase, latency).total;
    let (up_path, down_path) = (path(Phase::Up), path(Phase::Down));
    let mut out = json!({
        "scenario": format!("realistic x{scale}"),
        "emulator": common::emulator(),
        "lab": lab,
        "scale": scale,
        "median_call_latency_ms": latency.as_secs_f64() * 1000.0,
    });
    for (command, f) in figures {
        let critical = match command {
            "up" => Some(up_path),
            "down" => Some(down_path),
            _ => None,
        };
        let over = critical
            .filter(|c| !c.is_zero())
            .map(|c| f.wall.as_secs_f64() / c.as_secs_f64() - 1.0);
        println!(
            "{lab:>20} realistic x{scale:<5} {command:>5}: {:>7.2} s  {:>4} API calls  {}",
            f.wall.as_secs_f64(),
            f.calls,
            match (critical, over) {
                (Some(c), Some(o)) =>
                    format!("critical path {:.2} s, {:+.1}%", c.as_secs_f64(), o * 100.0),
                _ => String::new(),
            }
        );
        out[command] = json!({
            "wall_seconds": f.wall.as_secs_f64(),
            "api_calls": f.calls,
            "critical_path_seconds": critical.map(|c| c.as_secs_f64()),
            "over_critical_path": over,
        });
    }
    out
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
        common::ami_lab(),
        common::ecs_lab(),
    ];
    let upstream = common::endpoint();
    // The image lab makes images: behind the image shim on moto; the ECS lab runs services:
    // behind the ECS shim there.
    let upstream_of = |lab: &str| {
        if lab == common::ami_lab() {
            common::image_endpoint()
        } else if lab == common::ecs_lab() {
            common::ecs_endpoint()
        } else {
            upstream.clone()
        }
    };
    let mut report = Vec::new();
    let only_realistic = std::env::var_os("AWSLAB_BENCH_REALISTIC_ONLY").is_some();
    // `AWSLAB_BENCH_LABS=a,b`: only these labs, in every scenario.
    let only: Option<Vec<String>> = std::env::var("AWSLAB_BENCH_LABS")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let picked = |lab: &str| only.as_ref().is_none_or(|o| o.iter().any(|l| l == lab));
    for lab in labs
        .iter()
        .filter(|l| !only_realistic && picked(l.as_str()))
    {
        let lab = lab.as_str();
        for (scenario, latency) in [("emulator", 0u64), ("latency 50 ms", 50)] {
            let proxy = FaultProxy::start(
                &upstream_of(lab),
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
    let scale: f64 = std::env::var("AWSLAB_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(0.1);
    // Real AWS answers in tens of milliseconds: the realistic runs add that to every call.
    let latency = Duration::from_millis(
        std::env::var("AWSLAB_BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    );
    println!(
        "\nthrough the realistic AWS profile at scale {scale}, {} ms a call (wall time against the critical path):",
        latency.as_millis()
    );
    for lab in labs.iter().map(String::as_str).chain(["ecr-push"]) {
        if !picked(lab) {
            continue;
        }
        // An emulator loads a service's data on its first call (seconds for EC2's images):
        // that is paid here, not in the figures.
        let warm = tempfile::tempdir().expect("home");
        let _ = common::awslab_via(warm.path(), &upstream_of(lab))
            .args(["--env", "bench-warm", "plan", lab])
            .output()
            .await;
        report.push(realistic(&upstream_of(lab), lab, scale, latency).await);
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
