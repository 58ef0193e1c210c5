//! Whether an instance has an EFS file system mounted, read from what it reports through SSM:
//! its mount table (`/proc/mounts`) and the state files of amazon-efs-utils. Only an NFS4 mount
//! of the file system counts: by its DNS name (`fs-….efs.<region>.amazonaws.com`, or the
//! AZ-specific `<az>.fs-…`), by one of its mount targets' addresses, or, for a TLS mount (which
//! the table shows as `127.0.0.1:/`), by the local port that an efs-utils state file names for
//! that file system and mount point. A file that merely carries the id proves nothing.

use thiserror::Error;

/// What the instance runs: the mount table, a separator, the efs-utils state files. It always
/// succeeds (no state directory is an empty listing).
pub const COMMAND: &str =
    "cat /proc/mounts; echo '-- awslab: /var/run/efs --'; ls -1 /var/run/efs 2>/dev/null; true";

const SEPARATOR: &str = "-- awslab: /var/run/efs --";

/// The file system looked for.
#[derive(Debug, Clone, Copy)]
pub struct EfsTarget<'a> {
    pub fs_id: &'a str,
    pub region: &'a str,
    /// The private addresses of its mount targets.
    pub mount_target_ips: &'a [String],
}

/// Why the file system does not count as mounted; `mounts` are the NFS4 mounts there are.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotMounted {
    /// No NFS4 mount of the file system, and nothing that names it.
    #[error("{fs_id} is not mounted ({})", mounts_text(.mounts))]
    Absent {
        fs_id: String,
        mounts: Vec<NfsMount>,
    },
    /// An entry of `/var/run/efs` names the file system, but no NFS4 mount of it is in the
    /// table: a file, not a mount.
    #[error(
        "{fs_id} is not mounted: /var/run/efs names it, but the mount table has no NFS4 mount of it ({})",
        mounts_text(.mounts)
    )]
    OnlyNamed {
        fs_id: String,
        mounts: Vec<NfsMount>,
    },
}

/// An NFS4 mount of the table: what is mounted where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsMount {
    pub source: String,
    pub target: String,
}

fn mounts_text(mounts: &[NfsMount]) -> String {
    if mounts.is_empty() {
        "no NFS4 mount at all".to_owned()
    } else {
        format!(
            "NFS4 mounts: {}",
            mounts
                .iter()
                .map(|m| format!("{} at {}", m.source, m.target))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    source: String,
    target: String,
    fstype: String,
    options: Vec<String>,
}

impl Mount {
    fn parse(line: &str) -> Option<Mount> {
        let mut fields = line.split_whitespace();
        let source = unescape(fields.next()?);
        let target = unescape(fields.next()?);
        let fstype = fields.next()?.to_owned();
        let options = fields
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect();
        Some(Mount {
            source,
            target,
            fstype,
            options,
        })
    }

    /// `host` of `host:/path`.
    fn host(&self) -> &str {
        self.source
            .rsplit_once(":/")
            .map_or(self.source.as_str(), |(h, _)| h)
    }

    fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find_map(|o| o.strip_prefix(key)?.strip_prefix('='))
    }
}

/// `\040` and the other octal escapes the kernel writes for spaces, tabs, newlines and `\`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                let v = d.iter().fold(0_u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `host` is the file system's DNS name, regional or AZ-specific.
fn is_dns_name_of(host: &str, t: &EfsTarget<'_>) -> bool {
    let host = host.to_ascii_lowercase();
    let base = format!("{}.efs.{}.amazonaws.com", t.fs_id, t.region);
    [base.clone(), format!("{base}.cn")].iter().any(|name| {
        host == *name
            || host
                .strip_suffix(name.as_str())
                .and_then(|az| az.strip_suffix('.'))
                .is_some_and(|az| !az.is_empty() && !az.contains('.'))
    })
}

/// The name amazon-efs-utils gives the state file of a TLS mount: the file system id, the
/// mount point with `/` as `.`, and the local port.
fn state_file(fs_id: &str, mount_point: &str, port: &str) -> String {
    format!(
        "{fs_id}.{}.{port}",
        mount_point.replace('/', ".").trim_start_matches('.')
    )
}

/// The evidence that the file system is mounted (where, and how that is known), or why it is
/// not, from the output of [`COMMAND`].
pub fn efs_mounted(output: &str, t: &EfsTarget<'_>) -> Result<String, NotMounted> {
    let (table, states) = output.split_once(SEPARATOR).unwrap_or((output, ""));
    let states: Vec<&str> = states.lines().map(str::trim).collect();
    let nfs: Vec<Mount> = table
        .lines()
        .filter_map(Mount::parse)
        .filter(|m| m.fstype == "nfs4")
        .collect();
    for m in &nfs {
        let host = m.host();
        if is_dns_name_of(host, t) {
            return Ok(format!(
                "{} mounted at {} (nfs4 from {})",
                t.fs_id, m.target, m.source
            ));
        }
        if let Some(ip) = [Some(host), m.option("addr")]
            .into_iter()
            .flatten()
            .find(|ip| t.mount_target_ips.iter().any(|x| x == ip))
        {
            return Ok(format!(
                "{} mounted at {} (nfs4 from its mount target {ip})",
                t.fs_id, m.target
            ));
        }
        if host == "127.0.0.1"
            && let Some(port) = m.option("port")
        {
            let state = state_file(t.fs_id, &m.target, port);
            if states.contains(&state.as_str()) {
                return Ok(format!(
                    "{} mounted at {} (nfs4 over TLS through 127.0.0.1:{port}, amazon-efs-utils state {state})",
                    t.fs_id, m.target
                ));
            }
        }
    }
    let fs_id = t.fs_id.to_owned();
    let mounts = nfs
        .into_iter()
        .map(|m| NfsMount {
            source: m.source,
            target: m.target,
        })
        .collect();
    let named = states.iter().any(|s| s.starts_with(t.fs_id));
    Err(if named {
        NotMounted::OnlyNamed { fs_id, mounts }
    } else {
        NotMounted::Absent { fs_id, mounts }
    })
}

#[cfg(test)]
mod tests {
    use super::{EfsTarget, NfsMount, NotMounted, SEPARATOR, efs_mounted, unescape};

    const FS: &str = "fs-0a1b2c3d";
    /// An Amazon Linux mount table without any NFS mount.
    const BASE: &str = "\
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/dev/nvme0n1p1 / xfs rw,noatime,attr2,inode64,logbufs=8,logbsize=32k,noquota 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=188160k,nr_inodes=819200,mode=755 0 0
";

    fn run(table_extra: &str, states: &str) -> Result<String, NotMounted> {
        let ips = vec!["10.0.1.57".to_owned(), "10.0.2.91".to_owned()];
        let output = format!("{BASE}{table_extra}{SEPARATOR}\n{states}");
        efs_mounted(
            &output,
            &EfsTarget {
                fs_id: FS,
                region: "us-east-1",
                mount_target_ips: &ips,
            },
        )
    }

    #[test]
    fn a_touched_file_is_not_a_mount() {
        // `touch /var/run/efs/fs-0a1b2c3d`: the id is listed, nothing is mounted.
        let why = run("", FS).expect_err("touched");
        assert_eq!(
            why,
            NotMounted::OnlyNamed {
                fs_id: FS.into(),
                mounts: Vec::new()
            }
        );
        let why = why.to_string();
        assert!(why.contains("/var/run/efs names it"), "{why}");
        assert!(why.contains("no NFS4 mount at all"), "{why}");
        // Or a directory named like it, or the id in a path of another file system.
        let why = run("/dev/xvdf /mnt/fs-0a1b2c3d xfs rw 0 0\n", "").expect_err("path");
        assert!(matches!(why, NotMounted::Absent { .. }), "{why:?}");
        let why = why.to_string();
        assert!(why.contains("is not mounted"), "{why}");
        // A state file of a TLS mount that is not in the table (unmounted since).
        assert!(run("", &format!("{FS}.data.20049")).is_err());
    }

    #[test]
    fn an_nfs4_mount_by_dns_name_counts() {
        let line = format!(
            "{FS}.efs.us-east-1.amazonaws.com:/ /data nfs4 rw,relatime,vers=4.1,rsize=1048576,wsize=1048576,namlen=255,hard,noresvport,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.1.23,local_lock=none,addr=10.0.1.57 0 0\n"
        );
        let ok = run(&line, "").expect("mounted");
        assert_eq!(
            ok,
            format!("{FS} mounted at /data (nfs4 from {FS}.efs.us-east-1.amazonaws.com:/)")
        );
        // The AZ-specific name.
        let az = line.replacen(FS, &format!("us-east-1a.{FS}"), 1);
        assert!(run(&az, "").is_ok());
        // Another file system's name is not this one.
        let other = line
            .replacen(FS, "fs-99999999", 1)
            .replace("addr=10.0.1.57", "addr=10.9.9.9");
        let why = run(&other, "").expect_err("another file system");
        // The mount that is there is listed, as what it is.
        assert_eq!(
            why,
            NotMounted::Absent {
                fs_id: FS.into(),
                mounts: vec![NfsMount {
                    source: "fs-99999999.efs.us-east-1.amazonaws.com:/".into(),
                    target: "/data".into()
                }]
            }
        );
        assert_eq!(
            why.to_string(),
            format!(
                "{FS} is not mounted (NFS4 mounts: fs-99999999.efs.us-east-1.amazonaws.com:/ at /data)"
            )
        );
        // Nor is the name on something that is not NFS4.
        let not_nfs = format!("{FS}.efs.us-east-1.amazonaws.com:/ /data fuse rw 0 0\n");
        assert!(run(&not_nfs, "").is_err());
    }

    #[test]
    fn an_nfs4_mount_of_a_mount_target_address_counts() {
        let ok = run(
            "10.0.2.91:/ /mnt/efs nfs4 rw,vers=4.1,addr=10.0.2.91 0 0\n",
            "",
        )
        .expect("mounted");
        assert!(ok.contains("from its mount target 10.0.2.91"), "{ok}");
    }

    #[test]
    fn a_tls_mount_is_tied_to_the_file_system_by_its_port() {
        let line = "127.0.0.1:/ /data nfs4 rw,relatime,vers=4.1,hard,noresvport,proto=tcp,port=20049,timeo=600,retrans=2,sec=sys,clientaddr=127.0.0.1,local_lock=none,addr=127.0.0.1 0 0\n";
        let states = format!("stunnel-config.{FS}.data.20049\n{FS}.data.20049\n");
        let ok = run(line, &states).expect("mounted");
        assert!(ok.contains("over TLS through 127.0.0.1:20049"), "{ok}");
        // The state file of another file system, or of another port, proves nothing.
        assert!(run(line, "fs-99999999.data.20049\n").is_err());
        assert!(run(line, &format!("{FS}.data.20050\n")).is_err());
        // A mount point with a space (`\040` in the table) and a deeper path.
        let spaced = line.replace(" /data ", " /mnt/my\\040efs ");
        assert!(run(&spaced, &format!("{FS}.mnt.my efs.20049\n")).is_ok());
    }

    #[test]
    fn octal_escapes_are_decoded() {
        assert_eq!(unescape("/mnt/my\\040efs"), "/mnt/my efs");
        assert_eq!(unescape("/a\\134b"), "/a\\b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
    }
}
