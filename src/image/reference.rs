//! Image references as `docker pull` reads them: `[registry/]repository[:tag][@sha256:…]`.
//! A first part with a `.` or a `:`, or `localhost`, is a registry; without one the image is on
//! Docker Hub, where a one-part name is an official image (`nginx` = `library/nginx`).

use std::fmt;

use super::Digest;

/// Docker Hub's name in references, and the host its registry API answers on.
const HUB: &str = "docker.io";
const HUB_API: &str = "registry-1.docker.io";
/// The names Docker Hub goes by in references.
const HUB_NAMES: [&str; 3] = [HUB, "index.docker.io", "registry-1.docker.io"];

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry as written (`public.ecr.aws`, `localhost:5000`, `docker.io`).
    pub registry: String,
    /// The repository in that registry (`docker/library/nginx`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Reads `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let bad = |why: &str| {
            Err(format!(
                "{text:?} is not an image reference ({why}): write registry/repository:tag, e.g. public.ecr.aws/docker/library/nginx:1.27-alpine"
            ))
        };
        if text.is_empty() || text.len() > 512 || text.chars().any(char::is_whitespace) {
            return bad("empty, over 512 characters or with spaces");
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, d)) => match Digest::parse(d) {
                Some(d) => (rest, Some(d)),
                None => return bad("the digest is not sha256: and 64 hex digits"),
            },
            None => (text, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_owned())),
            _ => (rest, None),
        };
        if let Some(t) = &tag
            && crate::push::check_tag(t).is_err()
        {
            return bad("the tag is 1-128 of letters, digits, `_`, `.`, `-`");
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), path.to_owned())
            }
            _ => (HUB.to_owned(), name.to_owned()),
        };
        // Docker Hub by any of its names; there a one-part name is an official image.
        let (registry, path) = if HUB_NAMES.contains(&registry.as_str()) {
            let path = if path.contains('/') {
                path
            } else {
                format!("library/{path}")
            };
            (HUB.to_owned(), path)
        } else {
            (registry, path)
        };
        if !registry_ok(&registry) {
            return bad("the registry is a host name, optionally with :port");
        }
        if !path.split('/').all(component_ok) {
            return bad(
                "each part of the repository is lowercase letters and digits joined by `.`, `_` or `-`",
            );
        }
        Ok(Reference {
            registry,
            repository: path,
            tag,
            digest,
        })
    }

    /// The tag, or the digest, the manifest is asked for by (`latest` when neither is given).
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The base URL of the registry's API: HTTPS, except plain HTTP for a registry on this
    /// machine (as Docker allows).
    pub fn api_base(&self) -> String {
        let host = if self.registry == HUB {
            HUB_API
        } else {
            &self.registry
        };
        let scheme = if is_loopback(host) { "http" } else { "https" };
        format!("{scheme}://{host}")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port (and no user name: `a@b` is
/// host `b`).
pub fn is_loopback(host: &str) -> bool {
    if host.contains('@') {
        return false;
    }
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name == "localhost"
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

fn registry_ok(r: &str) -> bool {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || r.starts_with('[') => (h, Some(p)),
        _ => (r, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (host.starts_with('[') && host.ends_with(']')
            || host.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }));
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    !b.is_empty()
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|x| alnum(x) || b"._-".contains(x))
        && !c.contains("..")
        && !c.contains("._")
        && !c.contains("_.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_as_docker_reads_them() {
        let r = Reference::parse("public.ecr.aws/docker/library/nginx:1.27-alpine").expect("ok");
        assert_eq!(r.registry, "public.ecr.aws");
        assert_eq!(r.repository, "docker/library/nginx");
        assert_eq!(r.manifest_ref(), "1.27-alpine");
        assert_eq!(r.api_base(), "https://public.ecr.aws");

        let hub = Reference::parse("nginx").expect("ok");
        assert_eq!(hub.repository, "library/nginx");
        assert_eq!(hub.manifest_ref(), "latest");
        assert_eq!(hub.api_base(), "https://registry-1.docker.io");
        assert_eq!(hub.to_string(), "docker.io/library/nginx");

        let local = Reference::parse("localhost:5000/web:v1").expect("ok");
        assert_eq!(local.registry, "localhost:5000");
        assert_eq!(local.api_base(), "http://localhost:5000");
        let d = format!("sha256:{}", "a".repeat(64));
        let pinned = Reference::parse(&format!("127.0.0.1:5000/a/b:v1@{d}")).expect("ok");
        assert_eq!(pinned.manifest_ref(), d);
        assert_eq!(pinned.api_base(), "http://127.0.0.1:5000");
        assert_eq!(pinned.tag.as_deref(), Some("v1"));
        assert_eq!(
            Reference::parse("user/app").expect("ok").to_string(),
            "docker.io/user/app"
        );
        for hub in ["docker.io/nginx:1.27", "index.docker.io/library/nginx:1.27"] {
            let r = Reference::parse(hub).expect("ok");
            assert_eq!(r.to_string(), "docker.io/library/nginx:1.27", "{hub}");
            assert_eq!(r.api_base(), "https://registry-1.docker.io");
        }
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        for (bad, why) in [
            ("", "empty"),
            ("nginx:", "tag"),
            ("nginx:-x", "tag"),
            ("Nginx", "lowercase"),
            ("reg.io/a//b", "lowercase"),
            ("nginx@sha256:abc", "digest"),
            ("reg.io:99999/a", "registry"),
            ("a b", "spaces"),
            ("reg.io/../etc", "lowercase"),
        ] {
            let err = Reference::parse(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn only_this_machine_is_asked_over_plain_http() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("localhost.evil.com"));
        assert!(!is_loopback("localhost:1@evil.example"));
        assert!(!is_loopback("[::1]@evil.example"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(!is_loopback("public.ecr.aws"));
    }
}
