//! What `up` hands the user for getting in: private keys, kept apart by account, region and
//! endpoint and never overwritten, and the SSH source of the bastion's security group (the
//! caller's public address when it can be found).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The path `up` names in `private key of NAME: PATH`.
fn key_path_in(err: &str, name: &str) -> Option<PathBuf> {
    let mark = format!("private key of {name}: ");
    err.lines()
        .find_map(|l| l.split_once(&mark).map(|(_, p)| PathBuf::from(p.trim())))
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// The same lab and env in two regions and through a second endpoint: three key pairs, three
/// key files, none overwriting another. A key pair whose file is gone is reported with the way
/// back, and the file is not made up.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn private_keys_are_kept_apart_and_never_overwritten() {
    use common::proxy::{FaultProxy, Faults};
    let (a, b, c) = ("ap-southeast-3", "ap-southeast-4", "ap-southeast-5");
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("key-basic");
    let env = common::env_name("keys");
    // A second endpoint in front of the same emulator: for awslab, another AWS.
    let proxy = FaultProxy::start(&common::endpoint(), Faults::default()).await;
    let run = |region: &str, via: Option<&str>, args: &[&str]| {
        let mut cmd = common::awslab(home.path());
        cmd.env("AWS_REGION", region)
            .args(["--env", &env])
            .args(args);
        if let Some(url) = via {
            cmd.env("AWS_ENDPOINT_URL", url);
        }
        cmd.output().expect("run")
    };
    let mut keys = Vec::new();
    for (region, via) in [(a, None), (b, None), (c, Some(proxy.url.as_str()))] {
        let up = run(region, via, &["up", &lab, "--yes"]);
        let err = stderr(&up);
        assert!(up.status.success(), "{err}");
        let path = key_path_in(&err, "lab-key").unwrap_or_else(|| panic!("no key path: {err}"));
        assert!(path.starts_with(home.path().join("keys")), "{path:?}");
        assert!(path.to_string_lossy().contains(region), "{path:?}");
        assert_eq!(mode(&path), 0o600, "{path:?}");
        let dir = path.parent().expect("key directory");
        assert_eq!(mode(dir), 0o700, "{dir:?}");
        let text = std::fs::read_to_string(&path).expect("key");
        assert!(text.starts_with("-----BEGIN"), "{text}");
        keys.push((path, text));
    }
    // Apart by region (a, b) and by endpoint (c is the same account through another endpoint).
    assert_ne!(keys[0].0, keys[1].0);
    assert_ne!(keys[0].0.parent(), keys[2].0.parent());
    if common::emulator() != "ministack" {
        // (MiniStack hands out the same stub key material for every key pair.)
        assert!(keys[0].1 != keys[1].1 && keys[1].1 != keys[2].1 && keys[0].1 != keys[2].1);
    }
    let account_dirs: Vec<_> = keys
        .iter()
        .map(|(p, _)| {
            p.strip_prefix(home.path().join("keys"))
                .expect("under keys")
        })
        .map(|p| p.components().next().map(|c| c.as_os_str().to_owned()))
        .collect();
    assert!(account_dirs.iter().all(|d| d == &account_dirs[0]));

    if common::emulator() == "ministack" {
        // MiniStack returns no key-pair tags (localstack/README.md), so a second `up` cannot
        // find the key pair it made and a `down` cannot delete it.
        for region in [a, b, c] {
            let ec2 = common::ec2_in(region).await;
            let _ = ec2
                .delete_key_pair()
                .key_name(format!("key-basic-{env}-lab-key"))
                .send()
                .await;
        }
        return;
    }
    // Up again: nothing rewritten.
    let again = run(b, None, &["up", &lab, "--yes"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&keys[1].0).expect("key"), keys[1].1);
    // The key file is gone but the key pair is not: said, with the way back, file not made up.
    std::fs::remove_file(&keys[0].0).expect("remove key");
    let lost = run(a, None, &["up", &lab, "--yes"]);
    let err = stderr(&lost);
    assert!(lost.status.success(), "{err}");
    assert!(err.contains("no private key"), "{err}");
    assert!(err.contains(&keys[0].0.display().to_string()), "{err}");
    assert!(err.contains("awslab down"), "{err}");
    assert!(err.contains("import"), "{err}");
    assert!(!keys[0].0.exists());
    for (region, via) in [(a, None), (b, None), (c, Some(proxy.url.as_str()))] {
        let down = run(region, via, &["down", &lab, "--yes"]);
        assert!(down.status.success(), "{}", stderr(&down));
    }
}

/// A local stand-in for https://checkip.amazonaws.com: answers `body` to every request and
/// counts them.
async fn checkip_server(body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

/// The CIDRs of SSH ingress rules of the env's security groups named `bastion-sg`.
async fn ssh_sources(region: &str, env: &str) -> Vec<String> {
    let ec2 = common::ec2_in(region).await;
    let out = ec2
        .describe_security_groups()
        .filters(common::tag_filter("awslab:env", env))
        .send()
        .await
        .expect("security groups");
    out.security_groups()
        .iter()
        .filter(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some("awslab:env") && t.value() == Some(env))
                && g.tags()
                    .iter()
                    .any(|t| t.key() == Some("Name") && t.value() == Some("bastion-sg"))
        })
        .flat_map(|g| g.ip_permissions())
        .filter(|p| p.from_port() == Some(22))
        .flat_map(|p| p.ip_ranges())
        .filter_map(|r| r.cidr_ip().map(str::to_owned))
        .collect()
}

/// `ssh_cidr` defaults to the caller's public address (/32) when it can be found, else to
/// `0.0.0.0/0` with a warning; `up` says which. An explicit `--set` wins without a lookup.
#[tokio::test(flavor = "multi_thread")]
async fn the_bastion_admits_ssh_from_the_callers_address() {
    let region = "il-central-1";
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("bastion-basic");
    let (url, hits) = checkip_server("203.0.113.7\n").await;
    let run = |env: &str, checkip: &str, args: &[&str]| {
        let mut cmd = common::awslab(home.path());
        cmd.env("AWS_REGION", region)
            .env("AWSLAB_CHECKIP_URL", checkip)
            .args(["--env", env])
            .args(args);
        cmd.output().expect("run")
    };

    let found = common::env_name("ssh-found");
    let up = run(&found, &url, &["up", &lab, "--yes"]);
    let err = stderr(&up);
    assert!(up.status.success(), "{err}");
    assert!(err.contains("ssh_cidr = 203.0.113.7/32"), "{err}");
    assert!(err.contains("public address"), "{err}");
    assert_eq!(ssh_sources(region, &found).await, vec!["203.0.113.7/32"]);
    // `check` grades what `up` made from the same machine.
    let check = run(&found, &url, &["check", &lab]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let fallback = common::env_name("ssh-fallback");
    let up = run(&fallback, common::NO_CHECKIP, &["up", &lab, "--yes"]);
    let err = stderr(&up);
    assert!(up.status.success(), "{err}");
    assert!(err.contains("warning"), "{err}");
    assert!(err.contains("ssh_cidr = 0.0.0.0/0"), "{err}");
    assert!(err.contains("--set ssh_cidr="), "{err}");
    assert_eq!(ssh_sources(region, &fallback).await, vec!["0.0.0.0/0"]);

    let set = common::env_name("ssh-set");
    let before = hits.load(Ordering::SeqCst);
    let up = run(
        &set,
        &url,
        &["up", &lab, "--yes", "--set", "ssh_cidr=198.51.100.9/32"],
    );
    assert!(up.status.success(), "{}", stderr(&up));
    assert_eq!(ssh_sources(region, &set).await, vec!["198.51.100.9/32"]);
    assert_eq!(hits.load(Ordering::SeqCst), before, "asked despite --set");

    for env in [&found, &fallback, &set] {
        let down = run(env, &url, &["down", &lab, "--yes"]);
        assert!(down.status.success(), "{}", stderr(&down));
        assert_eq!(
            common::tagged_left_in(region, env).await,
            Vec::<String>::new()
        );
    }
}
