//! Headless Chromium for the tests that look at a page or a picture in a real browser: found
//! or installed by `scripts/browser` (Debian's package), run with a deadline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The browser `scripts/browser` prints, installing it first if need be. A machine where it
/// cannot be had fails the test with the script's reason: the page is never left untested.
pub fn browser() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("scripts/browser"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/browser");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && !path.is_empty(),
        "scripts/browser found no Chromium and could not install one (its reason is above); \
         install Debian's `chromium` package and run again"
    );
    PathBuf::from(path)
}

/// Runs Chromium headless on `url` with `args`, killing it after a minute.
pub fn chromium(browser: &Path, profile: &Path, args: &[&str], url: &str) -> Output {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    while child.try_wait().expect("wait for chromium").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("chromium output");
            panic!(
                "chromium did not finish within 60 s on {url}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
