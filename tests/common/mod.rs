//! Shared test harness: makes sure an emulator answers (starting it through `localstack/up`,
//! the same script users run) and gives each test its own env so tests run in parallel.
#![allow(dead_code)]

pub mod student;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `moto` (default) or `ministack`, from `AWSLAB_TEST_EMULATOR`.
pub fn emulator() -> String {
    std::env::var("AWSLAB_TEST_EMULATOR").unwrap_or_else(|_| "moto".to_owned())
}

fn port() -> u16 {
    match emulator().as_str() {
        "ministack" => 4567,
        _ => 4566,
    }
}

/// The endpoint of a running emulator; starts it once per test process.
pub fn endpoint() -> String {
    static STARTED: OnceLock<String> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            if let Ok(url) = std::env::var("AWSLAB_TEST_ENDPOINT") {
                return url;
            }
            let status = Command::new("bash")
                .arg(root().join("localstack/up"))
                .env("EMULATOR", emulator())
                .env("PORT", port().to_string())
                .status()
                .expect("run localstack/up");
            assert!(status.success(), "localstack/up failed for {}", emulator());
            format!("http://127.0.0.1:{}", port())
        })
        .clone()
}

/// A unique env name for one test.
pub fn env_name(test: &str) -> String {
    format!("t-{test}-{}", std::process::id())
}

/// `awslab` with the emulator endpoint, test credentials and a private home.
pub fn awslab(home: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("awslab").expect("binary");
    cmd.env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWSLAB_HOME", home)
        .env("CI", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWSLAB_ENV")
        .current_dir(root());
    cmd
}

/// A raw SDK EC2 client on the emulator (for building student setups and counting leftovers).
pub async fn ec2() -> aws_sdk_ec2::Client {
    ec2_in("us-east-1").await
}

pub async fn ec2_in(region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_ec2::Client::new(&conf)
}
