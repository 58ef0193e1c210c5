//! Single values: ids, names, text with parameters, CIDRs, references, ports, protocols and
//! the rules of network ACLs and security groups.

use super::*;

impl Validator<'_, '_, '_> {
    pub(super) fn check_id(&mut self, id: &Spanned<String>) {
        let ok = !id.get_ref().is_empty()
            && id
                .get_ref()
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
        if !ok {
            self.c.error(
                id.span(),
                format!(
                    "lab id `{}` must be lowercase letters, digits and `-`",
                    id.get_ref()
                ),
                "invalid id",
            );
        }
    }

    pub(super) fn check_name(&mut self, name: &Spanned<String>) {
        let n = name.get_ref();
        let ok = !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !ok {
            self.c.error(
                name.span(),
                format!("resource name `{n}` must be 1-64 letters, digits, `-` or `_`"),
                "invalid name",
            );
        }
    }

    /// A string with `${param}` substituted; an unknown parameter is an error at the string.
    pub(crate) fn text(&mut self, s: &Spanned<String>) -> Option<String> {
        let raw = s.get_ref();
        let mut out = String::new();
        let mut rest = raw.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.c.error(s.span(), "unclosed `${` in string", "here");
                return None;
            };
            let name = &after[..end];
            match self.params.get(name) {
                Some(p) => out.push_str(&p.value),
                None => {
                    self.c.error(
                        s.span(),
                        format!("unknown parameter `{name}`"),
                        "no such parameter",
                    );
                    self.c
                        .help("declare it under [params.NAME] with a `default`");
                    return None;
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    pub(crate) fn cidr(&mut self, s: &Spanned<String>) -> Option<Ipv4Net> {
        let text = self.text(s)?;
        let from_param = s.get_ref().contains("${");
        match text.parse::<Ipv4Net>() {
            Ok(net) if net.trunc() == net => Some(net),
            Ok(net) => {
                self.c.error(
                    s.span(),
                    format!("`{text}` has host bits set"),
                    "not a network address",
                );
                self.c.help(format!("did you mean `{}`?", net.trunc()));
                None
            }
            Err(_) => {
                let msg = if from_param {
                    format!("`{text}` (from a parameter) is not an IPv4 CIDR such as 10.0.0.0/16")
                } else {
                    format!("`{text}` is not an IPv4 CIDR such as 10.0.0.0/16")
                };
                self.c.error(s.span(), msg, "invalid CIDR");
                None
            }
        }
    }

    pub(crate) fn reference(&mut self, s: &Spanned<String>, want: &[Kind]) -> Option<String> {
        let name = s.get_ref();
        match self.kinds.get(name) {
            Some(k) if want.contains(k) => Some(name.clone()),
            Some(k) => {
                let wanted: Vec<&str> = want.iter().map(|k| k.label()).collect();
                self.c.error(
                    s.span(),
                    format!(
                        "`{name}` is {}, but {} is expected here",
                        with_article(k.label()),
                        with_article(&wanted.join(" or "))
                    ),
                    "wrong kind of resource",
                );
                None
            }
            None => {
                self.c.error(
                    s.span(),
                    format!("unknown reference `{name}`"),
                    "no resource of this name",
                );
                let names: Vec<String> = self.kinds.keys().cloned().collect();
                if let Some(close) = closest(name, names.iter().map(String::as_str)) {
                    let close = close.to_owned();
                    self.c.help(format!("did you mean `{close}`?"));
                }
                None
            }
        }
    }

    pub(crate) fn required<'d, T>(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        key: &str,
        v: &'d Option<T>,
    ) -> Option<&'d T> {
        if v.is_none() {
            self.needed.push(key.to_owned());
            self.c.error(
                name.span(),
                format!("{} `{}` needs `{key}`", kind.label(), name.get_ref()),
                "missing key",
            );
        }
        v.as_ref()
    }

    pub(crate) fn ports(
        &mut self,
        proto: Proto,
        port: &Option<Spanned<i64>>,
        ports: &Option<Spanned<String>>,
        at: Range<usize>,
    ) -> Option<Option<Ports>> {
        if !proto.has_ports() {
            if let Some(p) = port
                .as_ref()
                .map(|p| p.span())
                .or(ports.as_ref().map(|p| p.span()))
            {
                self.c.error(
                    p,
                    format!("protocol `{proto}` takes no ports"),
                    "remove this",
                );
                return None;
            }
            return Some(None);
        }
        let range = match (port, ports) {
            (Some(p), None) => {
                let n = *p.get_ref();
                if !(0..=65535).contains(&n) {
                    self.c.error(
                        p.span(),
                        format!("port {n} is outside 0-65535"),
                        "invalid port",
                    );
                    return None;
                }
                (n, n, p.span())
            }
            (None, Some(p)) => {
                let parsed = p.get_ref().split_once('-').and_then(|(a, b)| {
                    Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?))
                });
                match parsed {
                    Some((a, b))
                        if (0..=65535).contains(&a) && (0..=65535).contains(&b) && a <= b =>
                    {
                        (a, b, p.span())
                    }
                    _ => {
                        self.c.error(
                            p.span(),
                            format!(
                                "`{}` is not a port range such as \"1024-65535\"",
                                p.get_ref()
                            ),
                            "invalid port range",
                        );
                        return None;
                    }
                }
            }
            (Some(p), Some(_)) => {
                self.c
                    .error(p.span(), "give `port` or `ports`, not both", "one of them");
                return None;
            }
            (None, None) => {
                self.c.error(
                    at,
                    format!("a `{proto}` rule needs `port` or `ports`"),
                    "in this rule",
                );
                return None;
            }
        };
        let (from, to, _) = range;
        Some(Some(Ports {
            from: u16::try_from(from).unwrap_or(0),
            to: u16::try_from(to).unwrap_or(u16::MAX),
        }))
    }

    pub(crate) fn proto(&mut self, s: &Spanned<String>) -> Option<Proto> {
        let p = Proto::parse(s.get_ref());
        if p.is_none() {
            self.c.error(
                s.span(),
                format!("unknown protocol `{}`", s.get_ref()),
                "invalid protocol",
            );
            self.c.help("one of: tcp, udp, icmp, all");
        }
        p
    }
}
