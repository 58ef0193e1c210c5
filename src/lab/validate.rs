//! [`LabFile`] to [`Lab`]: every check that needs no AWS call. Kinds and their keys, references
//! (exist, right kind, no cycle), CIDRs (valid, inside the VPC, not overlapping), ports,
//! protocols, rule numbers, parameters. All problems are collected, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use ipnet::Ipv4Net;
use toml::Spanned;

use super::diagnostic::Collector;
use super::model::{CheckDef, LabFile, NaclRuleDef, OneOrMany, ResourceDef, SgRuleDef};
use super::{
    Action, AmiRef, Check, CheckKind, DefaultFrom, Endpoint, Kind, Lab, Lifecycle, NaclRule, Param,
    Peer, Ports, Proto, PublicAccess, Resource, Route, SgRule, SiteFile, Spec, Stage,
};
use crate::graph::Graph;

/// Reads a `source` directory of the lab: its files, or why not. The flag asks for the files
/// an image takes (`.git` and what `.dockerignore` excludes left out).
pub type Assets<'a> = dyn Fn(&str, bool) -> Result<Vec<SiteFile>, String> + 'a;

/// Validates a parsed file. `sets` are `--set name=value` overrides.
pub fn validate(
    c: &mut Collector<'_>,
    file: LabFile,
    sets: &BTreeMap<String, String>,
    origin: &str,
    included: Vec<Result<Lab, String>>,
    assets: &Assets<'_>,
) -> Option<Lab> {
    let mut v = Validator {
        assets,
        c,
        kinds: BTreeMap::new(),
        params: BTreeMap::new(),
    };
    v.check_id(&file.id);
    for (name, def) in &file.params {
        let value = sets
            .get(name.get_ref())
            .cloned()
            .unwrap_or_else(|| def.default.get_ref().clone());
        let default_from = def.default_from.as_ref().and_then(|from| {
            let found = DefaultFrom::ALL
                .iter()
                .copied()
                .find(|f| f.as_str() == from.get_ref());
            if found.is_none() {
                v.c.error(
                    from.span(),
                    format!("unknown default_from `{}`", from.get_ref()),
                    "not a source awslab knows",
                );
                v.c.help(
                    "\"caller-ip\": this machine's public IPv4 address as a /32, when it can be found",
                );
            }
            found
        });
        v.params.insert(
            name.get_ref().clone(),
            Param {
                value,
                default: def.default.get_ref().clone(),
                default_from,
                description: def.description.clone(),
            },
        );
    }
    for name in sets.keys() {
        if !v.params.contains_key(name) {
            let known: Vec<&str> = v.params.keys().map(String::as_str).collect();
            v.c.error(
                file.id.span(),
                format!(
                    "--set {name}: this lab has no parameter `{name}` (it has: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
                "in this lab",
            );
        }
    }
    let (imported, imported_checks) = v.includes(&file, included);
    for r in &imported {
        v.kinds.insert(r.name.clone(), r.kind());
    }
    // First pass: kinds, so references can be checked against them.
    for (name, def) in &file.resources {
        if let Some(r) = imported.iter().find(|r| r.name == *name.get_ref()) {
            v.c.error(
                name.span(),
                format!(
                    "`{}` is also included from another lab ({:?})",
                    name.get_ref(),
                    r.kind().as_str()
                ),
                "declared twice",
            );
            v.c.help("remove it here or from the include's `resources`");
            continue;
        }
        v.check_name(name);
        match &def.get_ref().kind {
            None => {
                v.c.error(
                    name.span(),
                    format!("resource `{}` has no `type`", name.get_ref()),
                    "needs `type = \"...\"`",
                );
                v.c.help(format!("one of: {}", kind_names()));
            }
            Some(t) => match Kind::parse(t.get_ref()) {
                Some(k) => {
                    v.kinds.insert(name.get_ref().clone(), k);
                }
                None => {
                    v.c.error(
                        t.span(),
                        format!("unknown resource type `{}`", t.get_ref()),
                        "unknown type",
                    );
                    match closest(t.get_ref(), Kind::ALL.iter().map(|k| k.as_str())) {
                        Some(close) => v.c.help(format!("did you mean `{close}`?")),
                        None => v.c.help(format!("one of: {}", kind_names())),
                    }
                }
            },
        }
    }
    let mut resources = Vec::new();
    for (name, def) in &file.resources {
        let Some(kind) = v.kinds.get(name.get_ref()).copied() else {
            continue;
        };
        if let Some(r) = v.resource(name, kind, def.get_ref()) {
            resources.push(r);
        }
    }
    resources.extend(imported);
    v.check_subnet_cidrs(&file, &resources);
    v.check_bucket_names(&file, &resources);
    v.check_cycle(&file, &resources);
    let mut checks = Vec::new();
    let mut ids = BTreeSet::new();
    for check in imported_checks {
        ids.insert(check.id.clone());
        checks.push(check);
    }
    for def in &file.checks {
        let def_ref = def.get_ref();
        if !ids.insert(def_ref.id.get_ref().clone()) {
            v.c.error(
                def_ref.id.span(),
                format!("duplicate check id `{}`", def_ref.id.get_ref()),
                "used before",
            );
        }
        if let Some(check) = v.check(def_ref) {
            checks.push(check);
        }
    }
    if v.c.has_errors() {
        return None;
    }
    Some(Lab {
        id: file.id.into_inner(),
        title: file.title,
        summary: file.summary,
        source: file.source,
        instructions: substitute_params(&file.instructions, &v.params),
        params: v.params,
        resources,
        checks,
        origin: origin.to_owned(),
    })
}

/// `${name}` in prose (the instructions) replaced by the parameter's value; unknown names stay.
fn substitute_params(text: &str, params: &BTreeMap<String, Param>) -> String {
    params.iter().fold(text.to_owned(), |acc, (name, p)| {
        acc.replace(&format!("${{{name}}}"), &p.value)
    })
}

fn with_article(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

fn kind_names() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known word closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

struct Validator<'c, 'a, 'f> {
    c: &'c mut Collector<'a>,
    kinds: BTreeMap<String, Kind>,
    params: BTreeMap<String, Param>,
    /// The files of a directory relative to the lab (`s3_objects`'s `source`).
    assets: &'f Assets<'f>,
}

/// Keys each kind takes beyond `type`, `stage` and `description`.
fn allowed_keys(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Vpc => &["cidr", "dns_hostnames"],
        Kind::Subnet => &["vpc", "cidr", "az", "map_public_ip"],
        Kind::InternetGateway => &["vpc"],
        Kind::RouteTable => &["vpc", "subnets", "routes"],
        Kind::ElasticIp => &[],
        Kind::NatGateway => &["subnet", "eip"],
        Kind::NetworkAcl => &["vpc", "subnets", "inbound", "outbound"],
        Kind::SecurityGroup => &["vpc", "ingress", "egress"],
        Kind::KeyPair => &[],
        Kind::Instance => &[
            "subnet",
            "ami",
            "instance_type",
            "security_groups",
            "key",
            "instance_profile",
            "user_data",
        ],
        Kind::IamRole => &["service", "managed_policies"],
        Kind::InstanceProfile => &["role"],
        Kind::FileSystem => &["encrypted", "performance_mode", "transition_to_ia"],
        Kind::MountTarget => &["file_system", "subnet", "security_groups"],
        Kind::LaunchTemplate => &[
            "ami",
            "instance_type",
            "security_groups",
            "instance_profile",
            "user_data",
        ],
        Kind::TargetGroup => &["vpc", "protocol", "port", "health_check_path"],
        Kind::LoadBalancer => &["subnets", "security_groups", "scheme"],
        Kind::Listener => &["load_balancer", "protocol", "port", "target_group"],
        Kind::AutoScalingGroup => &[
            "launch_template",
            "subnets",
            "min_size",
            "max_size",
            "desired_capacity",
            "target_groups",
            "health_check_type",
        ],
        Kind::ScalingPolicy => &["auto_scaling_group", "target_cpu"],
        Kind::Bucket => &[
            "versioning",
            "bucket_key",
            "object_ownership",
            "block_public_acls",
            "ignore_public_acls",
            "block_public_policy",
            "restrict_public_buckets",
        ],
        Kind::BucketPolicy => &["bucket", "public_read"],
        Kind::Website => &["bucket", "index_document", "error_document"],
        Kind::Objects => &["bucket", "source"],
        Kind::Repository => &[
            "repository_name",
            "scan_on_push",
            "tag_mutability",
            "expire_untagged_after_days",
            "keep_last_tagged",
            "tag_prefix",
        ],
        Kind::Image => &["repository", "tag", "source"],
    }
}

fn instance_type(d: &ResourceDef) -> String {
    d.instance_type
        .as_ref()
        .map_or_else(|| "t3.micro".to_owned(), |t| t.get_ref().clone())
}

/// EFS lifecycle transitions (`TransitionToIA`).
const IA_TRANSITIONS: &[&str] = &[
    "AFTER_1_DAY",
    "AFTER_7_DAYS",
    "AFTER_14_DAYS",
    "AFTER_30_DAYS",
    "AFTER_60_DAYS",
    "AFTER_90_DAYS",
    "AFTER_180_DAYS",
    "AFTER_270_DAYS",
    "AFTER_365_DAYS",
];

/// The keys present in a resource table, with their spans.
fn present_keys(d: &ResourceDef) -> Vec<(&'static str, Range<usize>)> {
    fn span<T>(s: &Spanned<T>) -> Range<usize> {
        s.span()
    }
    fn list<T>(l: &[Spanned<T>]) -> Range<usize> {
        match (l.first(), l.last()) {
            (Some(a), Some(b)) => a.span().start..b.span().end,
            _ => 0..0,
        }
    }
    let mut out = Vec::new();
    let mut add = |k: &'static str, s: Option<Range<usize>>| {
        if let Some(s) = s {
            out.push((k, s));
        }
    };
    add("vpc", d.vpc.as_ref().map(span));
    add("subnet", d.subnet.as_ref().map(span));
    add("subnets", d.subnets.as_deref().map(list));
    add("cidr", d.cidr.as_ref().map(span));
    add("az", d.az.as_ref().map(span));
    add("dns_hostnames", d.dns_hostnames.as_ref().map(span));
    add("map_public_ip", d.map_public_ip.as_ref().map(span));
    add("routes", d.routes.as_deref().map(list));
    add("eip", d.eip.as_ref().map(span));
    add("inbound", d.inbound.as_deref().map(list));
    add("outbound", d.outbound.as_deref().map(list));
    add("ingress", d.ingress.as_deref().map(list));
    add("egress", d.egress.as_deref().map(list));
    add("ami", d.ami.as_ref().map(span));
    add("instance_type", d.instance_type.as_ref().map(span));
    add("security_groups", d.security_groups.as_deref().map(list));
    add("key", d.key.as_ref().map(span));
    add("instance_profile", d.instance_profile.as_ref().map(span));
    add("user_data", d.user_data.as_ref().map(span));
    add("service", d.service.as_ref().map(span));
    add("managed_policies", d.managed_policies.as_deref().map(list));
    add("role", d.role.as_ref().map(span));
    add("encrypted", d.encrypted.as_ref().map(span));
    add("performance_mode", d.performance_mode.as_ref().map(span));
    add("transition_to_ia", d.transition_to_ia.as_ref().map(span));
    add("file_system", d.file_system.as_ref().map(span));
    add("protocol", d.protocol.as_ref().map(span));
    add("port", d.port.as_ref().map(span));
    add("health_check_path", d.health_check_path.as_ref().map(span));
    add("scheme", d.scheme.as_ref().map(span));
    add("load_balancer", d.load_balancer.as_ref().map(span));
    add("target_group", d.target_group.as_ref().map(span));
    add("target_groups", d.target_groups.as_deref().map(list));
    add("launch_template", d.launch_template.as_ref().map(span));
    add("min_size", d.min_size.as_ref().map(span));
    add("max_size", d.max_size.as_ref().map(span));
    add("desired_capacity", d.desired_capacity.as_ref().map(span));
    add("health_check_type", d.health_check_type.as_ref().map(span));
    add(
        "auto_scaling_group",
        d.auto_scaling_group.as_ref().map(span),
    );
    add("target_cpu", d.target_cpu.as_ref().map(span));
    add("versioning", d.versioning.as_ref().map(span));
    add("bucket_key", d.bucket_key.as_ref().map(span));
    add("object_ownership", d.object_ownership.as_ref().map(span));
    add("block_public_acls", d.block_public_acls.as_ref().map(span));
    add(
        "ignore_public_acls",
        d.ignore_public_acls.as_ref().map(span),
    );
    add(
        "block_public_policy",
        d.block_public_policy.as_ref().map(span),
    );
    add(
        "restrict_public_buckets",
        d.restrict_public_buckets.as_ref().map(span),
    );
    add("bucket", d.bucket.as_ref().map(span));
    add("public_read", d.public_read.as_ref().map(span));
    add("index_document", d.index_document.as_ref().map(span));
    add("error_document", d.error_document.as_ref().map(span));
    add("source", d.source.as_ref().map(span));
    add("repository_name", d.repository_name.as_ref().map(span));
    add("scan_on_push", d.scan_on_push.as_ref().map(span));
    add("tag_mutability", d.tag_mutability.as_ref().map(span));
    add(
        "expire_untagged_after_days",
        d.expire_untagged_after_days.as_ref().map(span),
    );
    add("keep_last_tagged", d.keep_last_tagged.as_ref().map(span));
    add("tag_prefix", d.tag_prefix.as_ref().map(span));
    add("repository", d.repository.as_ref().map(span));
    add("tag", d.tag.as_ref().map(span));
    out
}

impl Validator<'_, '_, '_> {
    fn check_id(&mut self, id: &Spanned<String>) {
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

    fn check_name(&mut self, name: &Spanned<String>) {
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
    fn text(&mut self, s: &Spanned<String>) -> Option<String> {
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

    fn cidr(&mut self, s: &Spanned<String>) -> Option<Ipv4Net> {
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

    fn reference(&mut self, s: &Spanned<String>, want: &[Kind]) -> Option<String> {
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

    fn required<'d, T>(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        key: &str,
        v: &'d Option<T>,
    ) -> Option<&'d T> {
        if v.is_none() {
            self.c.error(
                name.span(),
                format!("{} `{}` needs `{key}`", kind.label(), name.get_ref()),
                "missing key",
            );
        }
        v.as_ref()
    }

    fn ports(
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

    fn proto(&mut self, s: &Spanned<String>) -> Option<Proto> {
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

    fn nacl_rules(&mut self, rules: &[Spanned<NaclRuleDef>]) -> Vec<NaclRule> {
        let mut out = Vec::new();
        let mut numbers = BTreeSet::new();
        for r in rules {
            let d = r.get_ref();
            let n = *d.rule.get_ref();
            if !(1..=32766).contains(&n) {
                self.c.error(
                    d.rule.span(),
                    format!("rule number {n} is outside 1-32766"),
                    "invalid rule number",
                );
                continue;
            }
            if !numbers.insert(n) {
                self.c.error(
                    d.rule.span(),
                    format!("rule number {n} is used twice in this direction"),
                    "duplicate",
                );
                continue;
            }
            let action = match d.action.get_ref().as_str() {
                "allow" => Action::Allow,
                "deny" => Action::Deny,
                other => {
                    self.c.error(
                        d.action.span(),
                        format!("action `{other}` must be allow or deny"),
                        "invalid action",
                    );
                    continue;
                }
            };
            let Some(proto) = self.proto(&d.proto) else {
                continue;
            };
            let Some(ports) = self.ports(proto, &d.port, &d.ports, r.span()) else {
                continue;
            };
            let Some(cidr) = self.cidr(&d.cidr) else {
                continue;
            };
            out.push(NaclRule {
                rule: i32::try_from(n).unwrap_or(0),
                action,
                proto,
                ports,
                cidr,
            });
        }
        out
    }

    fn sg_rules(&mut self, rules: &[Spanned<SgRuleDef>], egress: bool) -> Vec<SgRule> {
        let mut out = Vec::new();
        for r in rules {
            let d = r.get_ref();
            let Some(proto) = self.proto(&d.proto) else {
                continue;
            };
            let Some(ports) = self.ports(proto, &d.port, &d.ports, r.span()) else {
                continue;
            };
            let group = if egress { &d.to } else { &d.from };
            let wrong = if egress { &d.from } else { &d.to };
            if let Some(w) = wrong {
                let (dir, key) = if egress {
                    ("egress", "to")
                } else {
                    ("ingress", "from")
                };
                self.c.error(
                    w.span(),
                    format!("{dir} rules name their peer group with `{key}`"),
                    "wrong key",
                );
                continue;
            }
            let peer = match (&d.cidr, group) {
                (Some(c), None) => match self.cidr(c) {
                    Some(net) => Peer::Cidr(net),
                    None => continue,
                },
                (None, Some(g)) => match self.reference(g, &[Kind::SecurityGroup]) {
                    Some(name) => Peer::Group(name),
                    None => continue,
                },
                (Some(c), Some(_)) => {
                    self.c.error(
                        c.span(),
                        "a rule has either a `cidr` or a group, not both",
                        "one of them",
                    );
                    continue;
                }
                (None, None) => {
                    self.c.error(
                        r.span(),
                        "a rule needs a `cidr` or a security group",
                        "in this rule",
                    );
                    continue;
                }
            };
            out.push(SgRule { proto, ports, peer });
        }
        out
    }

    fn resource(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        d: &ResourceDef,
    ) -> Option<Resource> {
        let allowed = allowed_keys(kind);
        let mut ok = true;
        for (key, span) in present_keys(d) {
            if !allowed.contains(&key) {
                self.c.error(
                    span,
                    format!("`{key}` does not apply to a {}", kind.label()),
                    "not for this type",
                );
                self.c.help(if allowed.is_empty() {
                    format!("a {} takes no settings", kind.label())
                } else {
                    format!("a {} takes: {}", kind.label(), allowed.join(", "))
                });
                ok = false;
            }
        }
        let stage = match d.stage.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("solution") => Stage::Solution,
            Some("setup") => Stage::Setup,
            Some(other) => {
                let span = d.stage.as_ref().map(|s| s.span()).unwrap_or(0..0);
                self.c.error(
                    span,
                    format!("stage `{other}` must be `setup` or `solution`"),
                    "invalid stage",
                );
                Stage::Solution
            }
        };
        let errors_before = self.c.issues.len();
        let vpc = |v: &mut Self| -> Option<String> {
            let r = v.required(name, kind, "vpc", &d.vpc)?.clone();
            v.reference(&r, &[Kind::Vpc])
        };
        let subnets = |v: &mut Self| -> Vec<String> {
            d.subnets
                .iter()
                .flatten()
                .filter_map(|s| v.reference(s, &[Kind::Subnet]))
                .collect()
        };
        let spec = match kind {
            Kind::Vpc => {
                let cidr = self.required(name, kind, "cidr", &d.cidr).cloned();
                let cidr = cidr.and_then(|c| {
                    let net = self.cidr(&c)?;
                    if !(16..=28).contains(&net.prefix_len()) {
                        self.c.error(
                            c.span(),
                            format!("a VPC CIDR must be /16 to /28, not /{}", net.prefix_len()),
                            "invalid size",
                        );
                        return None;
                    }
                    Some(net)
                });
                Spec::Vpc {
                    cidr: cidr.unwrap_or_default(),
                    dns_hostnames: d.dns_hostnames.as_ref().is_some_and(|b| *b.get_ref()),
                }
            }
            Kind::Subnet => {
                let vpc = vpc(self);
                let cidr = self.required(name, kind, "cidr", &d.cidr).cloned();
                let cidr = cidr.and_then(|c| self.cidr(&c));
                let az = match &d.az {
                    None => 0,
                    Some(a) if (0..=5).contains(a.get_ref()) => {
                        usize::try_from(*a.get_ref()).unwrap_or(0)
                    }
                    Some(a) => {
                        self.c.error(
                            a.span(),
                            format!("az index {} is outside 0-5", a.get_ref()),
                            "invalid AZ index",
                        );
                        self.c.help(
                            "`az` is an index into the region's availability zones: 0 is the first",
                        );
                        0
                    }
                };
                Spec::Subnet {
                    vpc: vpc.unwrap_or_default(),
                    cidr: cidr.unwrap_or_default(),
                    az,
                    map_public_ip: d.map_public_ip.as_ref().is_some_and(|b| *b.get_ref()),
                }
            }
            Kind::InternetGateway => Spec::InternetGateway {
                vpc: vpc(self).unwrap_or_default(),
            },
            Kind::RouteTable => {
                let vpc = vpc(self);
                let subnets = subnets(self);
                let mut routes = Vec::new();
                for r in d.routes.iter().flatten() {
                    let cidr = self.cidr(&r.get_ref().cidr);
                    let to =
                        self.reference(&r.get_ref().to, &[Kind::InternetGateway, Kind::NatGateway]);
                    if let (Some(cidr), Some(target)) = (cidr, to) {
                        routes.push(Route { cidr, target });
                    }
                }
                Spec::RouteTable {
                    vpc: vpc.unwrap_or_default(),
                    subnets,
                    routes,
                }
            }
            Kind::ElasticIp => Spec::ElasticIp,
            Kind::NatGateway => {
                let subnet = self.required(name, kind, "subnet", &d.subnet).cloned();
                let subnet = subnet.and_then(|s| self.reference(&s, &[Kind::Subnet]));
                let eip = self.required(name, kind, "eip", &d.eip).cloned();
                let eip = eip.and_then(|s| self.reference(&s, &[Kind::ElasticIp]));
                Spec::NatGateway {
                    subnet: subnet.unwrap_or_default(),
                    eip: eip.unwrap_or_default(),
                }
            }
            Kind::NetworkAcl => {
                let vpc = vpc(self);
                let subnets = subnets(self);
                let inbound = self.nacl_rules(d.inbound.as_deref().unwrap_or_default());
                let outbound = self.nacl_rules(d.outbound.as_deref().unwrap_or_default());
                Spec::NetworkAcl {
                    vpc: vpc.unwrap_or_default(),
                    subnets,
                    inbound,
                    outbound,
                }
            }
            Kind::SecurityGroup => {
                let vpc = vpc(self);
                let ingress = self.sg_rules(d.ingress.as_deref().unwrap_or_default(), false);
                let egress = d.egress.as_deref().map(|e| self.sg_rules(e, true));
                Spec::SecurityGroup {
                    vpc: vpc.unwrap_or_default(),
                    description: d
                        .description
                        .clone()
                        .unwrap_or_else(|| format!("awslab {}", name.get_ref())),
                    ingress,
                    egress,
                }
            }
            Kind::KeyPair => Spec::KeyPair,
            Kind::Instance => {
                let subnet = self.required(name, kind, "subnet", &d.subnet).cloned();
                let subnet = subnet.and_then(|s| self.reference(&s, &[Kind::Subnet]));
                let ami = self.ami(name, kind, d);
                let instance_type = instance_type(d);
                let security_groups = self.groups(d);
                let key = d
                    .key
                    .as_ref()
                    .and_then(|k| self.reference(k, &[Kind::KeyPair]));
                Spec::Instance {
                    subnet: subnet.unwrap_or_default(),
                    ami,
                    instance_type,
                    security_groups,
                    key,
                    instance_profile: d
                        .instance_profile
                        .as_ref()
                        .and_then(|p| self.reference(p, &[Kind::InstanceProfile])),
                    user_data: d.user_data.as_ref().and_then(|u| self.text(u)),
                }
            }
            Kind::IamRole => {
                let service = d
                    .service
                    .as_ref()
                    .map_or_else(|| "ec2.amazonaws.com".to_owned(), |s| s.get_ref().clone());
                if !service.ends_with(".amazonaws.com") {
                    let span = d.service.as_ref().map_or(name.span(), Spanned::span);
                    self.c.error(
                        span,
                        format!("`{service}` is not an AWS service principal"),
                        "invalid service",
                    );
                    self.c.help("e.g. \"ec2.amazonaws.com\"");
                }
                let managed_policies = d
                    .managed_policies
                    .iter()
                    .flatten()
                    .map(|p| {
                        let p = p.get_ref();
                        if p.starts_with("arn:") {
                            p.clone()
                        } else {
                            format!("arn:aws:iam::aws:policy/{p}")
                        }
                    })
                    .collect();
                Spec::IamRole {
                    service,
                    managed_policies,
                }
            }
            Kind::InstanceProfile => {
                let role = self.required(name, kind, "role", &d.role).cloned();
                Spec::InstanceProfile {
                    role: role
                        .and_then(|r| self.reference(&r, &[Kind::IamRole]))
                        .unwrap_or_default(),
                }
            }
            Kind::FileSystem => {
                let performance_mode = d
                    .performance_mode
                    .as_ref()
                    .map_or_else(|| "generalPurpose".to_owned(), |m| m.get_ref().clone());
                if !["generalPurpose", "maxIO"].contains(&performance_mode.as_str()) {
                    let span = d
                        .performance_mode
                        .as_ref()
                        .map_or(name.span(), Spanned::span);
                    self.c.error(
                        span,
                        format!("unknown performance mode `{performance_mode}`"),
                        "invalid mode",
                    );
                    self.c.help("generalPurpose or maxIO");
                }
                let transition_to_ia = d.transition_to_ia.as_ref().and_then(|t| {
                    if IA_TRANSITIONS.contains(&t.get_ref().as_str()) {
                        Some(t.get_ref().clone())
                    } else {
                        self.c.error(
                            t.span(),
                            format!("unknown transition `{}`", t.get_ref()),
                            "invalid transition",
                        );
                        self.c
                            .help(format!("one of: {}", IA_TRANSITIONS.join(", ")));
                        None
                    }
                });
                Spec::FileSystem {
                    encrypted: d.encrypted.as_ref().is_none_or(|e| *e.get_ref()),
                    performance_mode,
                    transition_to_ia,
                }
            }
            Kind::MountTarget => {
                let fs = self
                    .required(name, kind, "file_system", &d.file_system)
                    .cloned();
                let subnet = self.required(name, kind, "subnet", &d.subnet).cloned();
                Spec::MountTarget {
                    file_system: fs
                        .and_then(|f| self.reference(&f, &[Kind::FileSystem]))
                        .unwrap_or_default(),
                    subnet: subnet
                        .and_then(|s| self.reference(&s, &[Kind::Subnet]))
                        .unwrap_or_default(),
                    security_groups: self.groups(d),
                }
            }
            Kind::LaunchTemplate => Spec::LaunchTemplate {
                ami: self.ami(name, kind, d),
                instance_type: instance_type(d),
                security_groups: self.groups(d),
                instance_profile: d
                    .instance_profile
                    .as_ref()
                    .and_then(|p| self.reference(p, &[Kind::InstanceProfile])),
                user_data: d.user_data.as_ref().and_then(|u| self.text(u)),
            },
            Kind::TargetGroup => Spec::TargetGroup {
                vpc: vpc(self).unwrap_or_default(),
                protocol: self.http_protocol(d),
                port: self.service_port(d),
                health_check_path: match &d.health_check_path {
                    None => "/".to_owned(),
                    Some(p) if p.get_ref().starts_with('/') => p.get_ref().clone(),
                    Some(p) => {
                        self.c.error(
                            p.span(),
                            format!("health check path `{}` must start with `/`", p.get_ref()),
                            "invalid path",
                        );
                        String::new()
                    }
                },
            },
            Kind::LoadBalancer => {
                let subnets = subnets(self);
                if subnets.len() < 2 {
                    self.c.error(
                        name.span(),
                        format!(
                            "load balancer `{}` needs `subnets` in at least two availability zones",
                            name.get_ref()
                        ),
                        "an application load balancer spans two or more AZs",
                    );
                }
                let internet_facing = match d.scheme.as_ref().map(|s| s.get_ref().as_str()) {
                    None | Some("internet-facing") => true,
                    Some("internal") => false,
                    Some(other) => {
                        let span = d.scheme.as_ref().map_or(name.span(), Spanned::span);
                        self.c.error(
                            span,
                            format!("scheme `{other}` must be `internet-facing` or `internal`"),
                            "invalid scheme",
                        );
                        true
                    }
                };
                Spec::LoadBalancer {
                    subnets,
                    security_groups: self.groups(d),
                    internet_facing,
                }
            }
            Kind::Listener => {
                let lb = self
                    .required(name, kind, "load_balancer", &d.load_balancer)
                    .cloned();
                let tg = self
                    .required(name, kind, "target_group", &d.target_group)
                    .cloned();
                Spec::Listener {
                    load_balancer: lb
                        .and_then(|l| self.reference(&l, &[Kind::LoadBalancer]))
                        .unwrap_or_default(),
                    protocol: self.http_protocol(d),
                    port: self.service_port(d),
                    target_group: tg
                        .and_then(|t| self.reference(&t, &[Kind::TargetGroup]))
                        .unwrap_or_default(),
                }
            }
            Kind::AutoScalingGroup => {
                let subnets = subnets(self);
                self.auto_scaling_group(name, d, subnets)
            }
            Kind::Bucket => {
                if let Some(why) = crate::resources::s3::logical_name_problem(name.get_ref()) {
                    self.c.error(
                        name.span(),
                        format!("bucket `{}`: {why}", name.get_ref()),
                        "names the bucket",
                    );
                }
                let flag = |f: &Option<Spanned<bool>>, default: bool| {
                    f.as_ref().map_or(default, |b| *b.get_ref())
                };
                let object_ownership = match &d.object_ownership {
                    None => "BucketOwnerEnforced".to_owned(),
                    Some(o) => match o.get_ref().as_str() {
                        v @ ("BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter") => {
                            v.to_owned()
                        }
                        other => {
                            self.c.error(
                                o.span(),
                                format!("unknown object ownership `{other}`"),
                                "invalid ownership",
                            );
                            self.c
                                .help("BucketOwnerEnforced (ACLs disabled), BucketOwnerPreferred or ObjectWriter");
                            String::new()
                        }
                    },
                };
                // Every setting of Block Public Access defaults to on, as AWS does.
                Spec::Bucket {
                    versioning: flag(&d.versioning, false),
                    bucket_key: flag(&d.bucket_key, true),
                    object_ownership,
                    public_access: PublicAccess {
                        block_public_acls: flag(&d.block_public_acls, true),
                        ignore_public_acls: flag(&d.ignore_public_acls, true),
                        block_public_policy: flag(&d.block_public_policy, true),
                        restrict_public_buckets: flag(&d.restrict_public_buckets, true),
                    },
                }
            }
            Kind::BucketPolicy => {
                // The one policy awslab writes; a bucket without it needs no policy resource.
                if !d.public_read.as_ref().is_some_and(|b| *b.get_ref()) {
                    let span = d.public_read.as_ref().map_or(name.span(), Spanned::span);
                    self.c.error(
                        span,
                        "a bucket policy resource needs `public_read = true`",
                        "the only policy awslab writes",
                    );
                    self.c
                        .help("for a private bucket, leave the s3_bucket_policy resource out");
                }
                Spec::BucketPolicy {
                    bucket: self.bucket_ref(name, kind, d),
                    public_read: true,
                }
            }
            Kind::Website => Spec::Website {
                bucket: self.bucket_ref(name, kind, d),
                index_document: d
                    .index_document
                    .as_ref()
                    .map_or_else(|| "index.html".to_owned(), |i| i.get_ref().clone()),
                error_document: d.error_document.as_ref().map(|e| e.get_ref().clone()),
            },
            Kind::Repository => {
                let repo_name = self
                    .required(name, kind, "repository_name", &d.repository_name)
                    .map(|n| n.get_ref().clone())
                    .unwrap_or_default();
                let valid = !repo_name.is_empty()
                    && repo_name.len() <= 256
                    && repo_name.split('/').all(|part| {
                        !part.is_empty()
                            && part.chars().all(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)
                            })
                    });
                if !valid && let Some(n) = &d.repository_name {
                    self.c.error(
                        n.span(),
                        format!("`{repo_name}` is not an ECR repository name"),
                        "lowercase letters, digits, `._-`, parts separated by `/`",
                    );
                }
                let immutable = match d.tag_mutability.as_ref().map(|m| m.get_ref().as_str()) {
                    None | Some("MUTABLE") => false,
                    Some("IMMUTABLE") => true,
                    Some(other) => {
                        let span = d.tag_mutability.as_ref().map_or(name.span(), Spanned::span);
                        self.c.error(
                            span,
                            format!("tag_mutability `{other}` must be MUTABLE or IMMUTABLE"),
                            "invalid mutability",
                        );
                        false
                    }
                };
                let count = |v: &mut Self, s: &Option<Spanned<i64>>| -> Option<u32> {
                    let s = s.as_ref()?;
                    match u32::try_from(*s.get_ref()) {
                        Ok(n) if n > 0 => Some(n),
                        _ => {
                            v.c.error(s.span(), "must be 1 or more", "invalid count");
                            None
                        }
                    }
                };
                let expire = count(self, &d.expire_untagged_after_days);
                let keep = count(self, &d.keep_last_tagged);
                let lifecycle = (expire.is_some() || keep.is_some()).then(|| Lifecycle {
                    expire_untagged_after_days: expire,
                    keep_last_tagged: keep,
                    tag_prefix: d
                        .tag_prefix
                        .as_ref()
                        .map_or_else(|| "v".to_owned(), |p| p.get_ref().clone()),
                });
                Spec::Repository {
                    name: repo_name,
                    scan_on_push: d.scan_on_push.as_ref().is_some_and(|b| *b.get_ref()),
                    immutable,
                    lifecycle,
                }
            }
            Kind::Image => {
                let repo = self
                    .required(name, kind, "repository", &d.repository)
                    .cloned();
                let tag = self
                    .required(name, kind, "tag", &d.tag)
                    .map(|t| t.get_ref().clone())
                    .unwrap_or_default();
                if let Some(t) = &d.tag
                    && let Err(why) = crate::push::check_tag(t.get_ref())
                {
                    self.c.error(t.span(), why, "invalid tag");
                }
                let (source, files) = self.source_files(name, kind, d);
                Spec::Image {
                    repository: repo
                        .and_then(|r| self.reference(&r, &[Kind::Repository]))
                        .unwrap_or_default(),
                    tag,
                    source,
                    files,
                }
            }
            Kind::Objects => {
                let bucket = self.bucket_ref(name, kind, d);
                let (source, files) = self.source_files(name, kind, d);
                Spec::Objects {
                    bucket,
                    source,
                    files,
                }
            }
            Kind::ScalingPolicy => {
                let group = self
                    .required(name, kind, "auto_scaling_group", &d.auto_scaling_group)
                    .cloned();
                let target_cpu = match &d.target_cpu {
                    None => 50.0,
                    Some(t) if *t.get_ref() > 0.0 && *t.get_ref() <= 100.0 => *t.get_ref(),
                    Some(t) => {
                        self.c.error(
                            t.span(),
                            format!("target_cpu {} is not a percentage in (0, 100]", t.get_ref()),
                            "invalid target",
                        );
                        50.0
                    }
                };
                Spec::ScalingPolicy {
                    group: group
                        .and_then(|g| self.reference(&g, &[Kind::AutoScalingGroup]))
                        .unwrap_or_default(),
                    target_cpu,
                }
            }
        };
        if !ok
            || self.c.issues[errors_before..]
                .iter()
                .any(|i| i.severity == super::Severity::Error)
        {
            return None;
        }
        Some(Resource {
            name: name.get_ref().clone(),
            stage,
            spec,
        })
    }

    /// `source`: a directory beside the lab file and its files (for `s3_objects`, `ecr_image`).
    fn source_files(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        d: &ResourceDef,
    ) -> (String, Vec<SiteFile>) {
        let Some(s) = self.required(name, kind, "source", &d.source).cloned() else {
            return (String::new(), Vec::new());
        };
        // An image's files are chosen as `awslab push` chooses them (.git, .dockerignore).
        let files = match (self.assets)(s.get_ref(), kind == Kind::Image) {
            Ok(f) if f.is_empty() => {
                self.c.error(
                    s.span(),
                    format!("`{}` holds no files", s.get_ref()),
                    "empty directory",
                );
                Vec::new()
            }
            Ok(f) => f,
            Err(why) => {
                self.c.error(
                    s.span(),
                    format!("cannot read `{}`: {why}", s.get_ref()),
                    "a directory relative to this lab file",
                );
                Vec::new()
            }
        };
        (s.into_inner(), files)
    }

    /// `bucket` of a bucket policy, website or objects resource.
    fn bucket_ref(&mut self, name: &Spanned<String>, kind: Kind, d: &ResourceDef) -> String {
        let b = self.required(name, kind, "bucket", &d.bucket).cloned();
        b.and_then(|b| self.reference(&b, &[Kind::Bucket]))
            .unwrap_or_default()
    }

    /// `ami`: an SSM public parameter (`ssm:/path`) or an image id.
    fn ami(&mut self, name: &Spanned<String>, kind: Kind, d: &ResourceDef) -> AmiRef {
        let parsed = self.required(name, kind, "ami", &d.ami).cloned().and_then(|a| {
            let text = self.text(&a)?;
            if let Some(path) = text.strip_prefix("ssm:") {
                Some(AmiRef::Ssm(path.to_owned()))
            } else if text.starts_with("ami-") {
                Some(AmiRef::Id(text))
            } else {
                self.c.error(
                    a.span(),
                    format!("`{text}` is neither `ssm:/path` nor an `ami-` id"),
                    "invalid image",
                );
                self.c.help("use the SSM public parameter, e.g. \"ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64\"");
                None
            }
        });
        parsed.unwrap_or(AmiRef::Id(String::new()))
    }

    fn groups(&mut self, d: &ResourceDef) -> Vec<String> {
        d.security_groups
            .iter()
            .flatten()
            .filter_map(|g| self.reference(g, &[Kind::SecurityGroup]))
            .collect()
    }

    /// `protocol` of a target group or listener: HTTP (the default) or HTTPS.
    fn http_protocol(&mut self, d: &ResourceDef) -> String {
        // HTTPS needs a certificate, which labs do not model yet.
        match &d.protocol {
            None => "HTTP".to_owned(),
            Some(p) => match p.get_ref().to_ascii_uppercase().as_str() {
                "HTTP" => "HTTP".to_owned(),
                other => {
                    self.c.error(
                        p.span(),
                        format!("protocol `{other}` is not supported: HTTP only"),
                        "invalid protocol",
                    );
                    if other == "HTTPS" {
                        self.c
                            .help("an HTTPS listener needs an ACM certificate, which lab files cannot declare yet");
                    }
                    "HTTP".to_owned()
                }
            },
        }
    }

    /// `port` of a target group or listener (default 80).
    fn service_port(&mut self, d: &ResourceDef) -> u16 {
        match &d.port {
            None => 80,
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n > 0 => n,
                _ => {
                    self.c.error(
                        p.span(),
                        format!("port {} is outside 1-65535", p.get_ref()),
                        "invalid port",
                    );
                    80
                }
            },
        }
    }

    fn auto_scaling_group(
        &mut self,
        name: &Spanned<String>,
        d: &ResourceDef,
        subnets: Vec<String>,
    ) -> Spec {
        let kind = Kind::AutoScalingGroup;
        let lt = self
            .required(name, kind, "launch_template", &d.launch_template)
            .cloned();
        if subnets.is_empty() {
            self.c.error(
                name.span(),
                format!("Auto Scaling group `{}` needs `subnets`", name.get_ref()),
                "missing key",
            );
        }
        let size = |v: &mut Self, key: &str, s: &Option<Spanned<i64>>, default: i64| -> i32 {
            match s {
                None => i32::try_from(default).unwrap_or(0),
                Some(n) => match i32::try_from(*n.get_ref()) {
                    Ok(x) if x >= 0 => x,
                    _ => {
                        v.c.error(
                            n.span(),
                            format!("{key} {} must be 0 or more", n.get_ref()),
                            "invalid size",
                        );
                        0
                    }
                },
            }
        };
        let min_size = size(self, "min_size", &d.min_size, 1);
        let max_size = size(self, "max_size", &d.max_size, i64::from(min_size.max(1)));
        let desired_capacity = size(
            self,
            "desired_capacity",
            &d.desired_capacity,
            i64::from(min_size),
        );
        if !(min_size <= desired_capacity && desired_capacity <= max_size) {
            let span = d
                .desired_capacity
                .as_ref()
                .or(d.max_size.as_ref())
                .map_or(name.span(), Spanned::span);
            self.c.error(
                span,
                format!(
                    "sizes must satisfy min_size <= desired_capacity <= max_size (here {min_size} <= {desired_capacity} <= {max_size})"
                ),
                "inconsistent sizes",
            );
        }
        let health_check_type = match &d.health_check_type {
            None => "EC2".to_owned(),
            Some(h) => match h.get_ref().to_ascii_uppercase().as_str() {
                t @ ("EC2" | "ELB") => t.to_owned(),
                other => {
                    self.c.error(
                        h.span(),
                        format!("health_check_type `{other}` must be EC2 or ELB"),
                        "invalid health check type",
                    );
                    "EC2".to_owned()
                }
            },
        };
        Spec::AutoScalingGroup {
            launch_template: lt
                .and_then(|l| self.reference(&l, &[Kind::LaunchTemplate]))
                .unwrap_or_default(),
            subnets,
            min_size,
            max_size,
            desired_capacity,
            target_groups: d
                .target_groups
                .iter()
                .flatten()
                .filter_map(|t| self.reference(t, &[Kind::TargetGroup]))
                .collect(),
            health_check_type,
        }
    }

    /// Subnet CIDRs inside their VPC's CIDR and not overlapping each other.
    fn check_subnet_cidrs(&mut self, file: &LabFile, resources: &[Resource]) {
        let span_of = |name: &str| -> Range<usize> {
            file.resources
                .iter()
                .find(|(k, _)| k.get_ref() == name)
                .and_then(|(_, d)| d.get_ref().cidr.as_ref().map(|c| c.span()))
                .unwrap_or(0..0)
        };
        let vpcs: BTreeMap<&str, Ipv4Net> = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::Vpc { cidr, .. } => Some((r.name.as_str(), *cidr)),
                _ => None,
            })
            .collect();
        let subnets: Vec<(&str, &str, Ipv4Net)> = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::Subnet { vpc, cidr, .. } => Some((r.name.as_str(), vpc.as_str(), *cidr)),
                _ => None,
            })
            .collect();
        for (i, (name, vpc, cidr)) in subnets.iter().enumerate() {
            if let Some(vnet) = vpcs.get(vpc)
                && !vnet.contains(cidr)
            {
                self.c.error(
                    span_of(name),
                    format!("subnet `{name}` {cidr} is outside VPC `{vpc}` {vnet}"),
                    "outside the VPC",
                );
            }
            for (other, ovpc, ocidr) in &subnets[..i] {
                if ovpc == vpc && (ocidr.contains(cidr) || cidr.contains(ocidr)) {
                    self.c.error(
                        span_of(name),
                        format!("subnet `{name}` {cidr} overlaps subnet `{other}` {ocidr}"),
                        "overlapping CIDR",
                    );
                }
            }
        }
    }

    /// Two buckets whose names differ only in case, `_` or `-` would be one bucket in S3.
    fn check_bucket_names(&mut self, file: &LabFile, resources: &[Resource]) {
        let span_of = |name: &str| {
            file.resources
                .keys()
                .find(|k| k.get_ref() == name)
                .map_or(0..0, Spanned::span)
        };
        let mut buckets: Vec<&str> = resources
            .iter()
            .filter(|r| r.kind() == Kind::Bucket)
            .map(|r| r.name.as_str())
            .collect();
        // In the order of the file: the later one is reported.
        buckets.sort_by_key(|n| span_of(n).start);
        for (i, later) in buckets.iter().enumerate() {
            if let Some(earlier) = buckets[..i]
                .iter()
                .find(|e| crate::resources::s3::same_bucket_name(e, later))
            {
                self.c.error(
                    span_of(later),
                    format!(
                        "`{later}` and `{earlier}` name the same bucket (bucket names are lowercase, with `-` for `_`)"
                    ),
                    "same bucket name",
                );
                self.c.help("rename one of them");
            }
        }
    }

    fn check_cycle(&mut self, file: &LabFile, resources: &[Resource]) {
        let graph = Graph::new(resources.iter().map(|r| (r.name.as_str(), r.spec.refs())));
        if let Some(cycle) = graph.find_cycle() {
            let span = file
                .resources
                .keys()
                .find(|k| *k.get_ref() == cycle[0])
                .map(|k| k.span())
                .unwrap_or(0..0);
            self.c.error(
                span,
                format!("dependency cycle: {}", cycle.join(" -> ")),
                "part of a cycle",
            );
        }
    }

    fn check(&mut self, d: &CheckDef) -> Option<Check> {
        let kind_name = d.kind.get_ref().as_str();
        let subnet_list = |v: &mut Self, list: &[Spanned<String>], key: &str| -> Vec<String> {
            if list.is_empty() {
                v.c.error(
                    d.kind.span(),
                    format!("a `{kind_name}` check needs `{key}`"),
                    "missing key",
                );
            }
            list.iter()
                .filter_map(|s| v.reference(s, &[Kind::Subnet]))
                .collect()
        };
        let kind = match kind_name {
            "public_subnet" => CheckKind::PublicSubnet {
                subnets: subnet_list(self, &d.subnets, "subnets"),
            },
            "private_subnet" => CheckKind::PrivateSubnet {
                subnets: subnet_list(self, &d.subnets, "subnets"),
            },
            "egress" => {
                match d.via.as_ref().map(|v| (v.get_ref().as_str(), v.span())) {
                    Some(("nat_gateway", _)) => {}
                    Some((other, span)) => {
                        self.c.error(
                            span,
                            format!("egress via `{other}` is not supported"),
                            "unsupported",
                        );
                        self.c.help("use via = \"nat_gateway\"");
                    }
                    None => self.c.error(
                        d.kind.span(),
                        "an `egress` check needs `via`",
                        "missing key",
                    ),
                }
                let from: Vec<Spanned<String>> = match &d.from {
                    Some(f) => match f.get_ref() {
                        OneOrMany::One(s) => vec![Spanned::new(f.span(), s.clone())],
                        OneOrMany::Many(list) => list
                            .iter()
                            .map(|s| Spanned::new(f.span(), s.clone()))
                            .collect(),
                    },
                    None => Vec::new(),
                };
                CheckKind::EgressViaNat {
                    from: subnet_list(self, &from, "from"),
                }
            }
            "multi_az" => {
                // One load balancer or group can span AZs on its own.
                let spans = d.resources.iter().any(|r| {
                    matches!(
                        self.kinds.get(r.get_ref()),
                        Some(Kind::LoadBalancer | Kind::AutoScalingGroup)
                    )
                });
                if d.resources.len() < 2 && !spans {
                    self.c.error(
                        d.kind.span(),
                        "a `multi_az` check needs at least two `resources` (or a load balancer or Auto Scaling group)",
                        "too few",
                    );
                }
                CheckKind::MultiAz {
                    resources: d
                        .resources
                        .iter()
                        .filter_map(|s| {
                            self.reference(
                                s,
                                &[
                                    Kind::Subnet,
                                    Kind::Instance,
                                    Kind::MountTarget,
                                    Kind::LoadBalancer,
                                    Kind::AutoScalingGroup,
                                ],
                            )
                        })
                        .collect(),
                }
            }
            "reachable" | "not_reachable" => self.reach_check(d, kind_name == "reachable")?,
            "efs_mountable" => {
                let Some(fs) = &d.file_system else {
                    self.c.error(
                        d.kind.span(),
                        "an `efs_mountable` check needs `file_system`",
                        "missing key",
                    );
                    return None;
                };
                if d.instances.is_empty() {
                    self.c.error(
                        d.kind.span(),
                        "an `efs_mountable` check needs `instances`",
                        "missing key",
                    );
                }
                CheckKind::EfsMountable {
                    file_system: self.reference(fs, &[Kind::FileSystem])?,
                    instances: d
                        .instances
                        .iter()
                        .filter_map(|i| self.reference(i, &[Kind::Instance]))
                        .collect(),
                    live: d.live,
                }
            }
            "ecr_image" => {
                let (Some(r), Some(t)) = (&d.repository, &d.tag) else {
                    self.c.error(
                        d.kind.span(),
                        "an `ecr_image` check needs `repository` and `tag`",
                        "missing key",
                    );
                    return None;
                };
                CheckKind::EcrImage {
                    repository: self.reference(r, &[Kind::Repository])?,
                    tag: t.get_ref().clone(),
                }
            }
            "s3_website" | "s3_encryption" | "s3_versioning" => {
                let Some(b) = &d.bucket else {
                    self.c.error(
                        d.kind.span(),
                        format!("a `{kind_name}` check needs `bucket`"),
                        "missing key",
                    );
                    return None;
                };
                let bucket = self.reference(b, &[Kind::Bucket])?;
                match kind_name {
                    "s3_website" => CheckKind::S3Website {
                        bucket,
                        live: d.live,
                    },
                    "s3_encryption" => CheckKind::S3Encryption { bucket },
                    _ => CheckKind::S3Versioning { bucket },
                }
            }
            "alb_serves_asg" => {
                let (Some(lb), Some(asg)) = (&d.load_balancer, &d.auto_scaling_group) else {
                    self.c.error(
                        d.kind.span(),
                        "an `alb_serves_asg` check needs `load_balancer` and `auto_scaling_group`",
                        "missing key",
                    );
                    return None;
                };
                CheckKind::AlbServesAsg {
                    load_balancer: self.reference(lb, &[Kind::LoadBalancer])?,
                    group: self.reference(asg, &[Kind::AutoScalingGroup])?,
                    live: d.live,
                }
            }
            other => {
                self.c.error(
                    d.kind.span(),
                    format!("unknown check kind `{other}`"),
                    "unknown kind",
                );
                self.c
                    .help(format!("one of: {}", CheckKind::NAMES.join(", ")));
                return None;
            }
        };
        let points = match &d.points {
            None => 1,
            Some(p) if (0..=100).contains(p.get_ref()) => u32::try_from(*p.get_ref()).unwrap_or(1),
            Some(p) => {
                self.c.error(
                    p.span(),
                    format!("points {} is outside 0-100", p.get_ref()),
                    "invalid points",
                );
                1
            }
        };
        Some(Check {
            id: d.id.get_ref().clone(),
            title: d.title.clone(),
            kind,
            points,
            hint: d.hint.clone(),
        })
    }
}

impl Validator<'_, '_, '_> {
    /// The resources and checks `[[include]]` takes from other labs: the listed resources and
    /// everything they reference, in the stage the include gives (default `setup`), and the
    /// listed checks, whose resources must all come along.
    fn includes(
        &mut self,
        file: &LabFile,
        included: Vec<Result<Lab, String>>,
    ) -> (Vec<Resource>, Vec<Check>) {
        let mut resources: Vec<Resource> = Vec::new();
        let mut checks: Vec<Check> = Vec::new();
        for (inc, loaded) in file.include.iter().zip(included) {
            let inc = inc.get_ref();
            let lab = match loaded {
                Ok(lab) => lab,
                Err(message) => {
                    self.c.error(
                        inc.lab.span(),
                        format!("cannot include `{}`: {message}", inc.lab.get_ref()),
                        "this lab",
                    );
                    continue;
                }
            };
            let stage = match inc.stage.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("setup") => Stage::Setup,
                Some("solution") => Stage::Solution,
                Some(other) => {
                    let span = inc.stage.as_ref().map_or(inc.lab.span(), Spanned::span);
                    self.c.error(
                        span,
                        format!("stage `{other}` must be `setup` or `solution`"),
                        "invalid stage",
                    );
                    Stage::Setup
                }
            };
            // The listed names, then what they reference, transitively.
            let mut wanted: Vec<String> = Vec::new();
            for name in &inc.resources {
                if lab.resource(name.get_ref()).is_some() {
                    wanted.push(name.get_ref().clone());
                } else {
                    self.c.error(
                        name.span(),
                        format!("lab `{}` has no resource `{}`", lab.id, name.get_ref()),
                        "not in that lab",
                    );
                    if let Some(close) = closest(
                        name.get_ref(),
                        lab.resources.iter().map(|r| r.name.as_str()),
                    ) {
                        let close = close.to_owned();
                        self.c.help(format!("did you mean `{close}`?"));
                    }
                }
            }
            let mut i = 0;
            while i < wanted.len() {
                if let Some(r) = lab.resource(&wanted[i]) {
                    for dep in r.spec.refs() {
                        if !wanted.iter().any(|w| w == dep) {
                            wanted.push(dep.to_owned());
                        }
                    }
                }
                i += 1;
            }
            for name in &wanted {
                if resources.iter().any(|r| r.name == *name) {
                    continue;
                }
                if let Some(r) = lab.resource(name) {
                    resources.push(Resource { stage, ..r.clone() });
                }
            }
            for id in &inc.checks {
                let Some(check) = lab.checks.iter().find(|c| c.id == *id.get_ref()) else {
                    self.c.error(
                        id.span(),
                        format!("lab `{}` has no check `{}`", lab.id, id.get_ref()),
                        "not in that lab",
                    );
                    continue;
                };
                let missing: Vec<&str> = check
                    .kind
                    .refs()
                    .into_iter()
                    .filter(|n| !wanted.iter().any(|w| w == n))
                    .collect();
                if missing.is_empty() {
                    checks.push(check.clone());
                } else {
                    self.c.error(
                        id.span(),
                        format!(
                            "check `{}` needs {}, which this include does not take",
                            id.get_ref(),
                            missing.join(", ")
                        ),
                        "resources missing",
                    );
                    self.c
                        .help(format!("add {} to `resources`", missing.join(", ")));
                }
            }
        }
        (resources, checks)
    }

    /// `reachable` / `not_reachable`: two endpoints, a protocol and (for TCP and UDP) a port.
    fn reach_check(&mut self, d: &CheckDef, expect: bool) -> Option<CheckKind> {
        let kind_name = d.kind.get_ref().as_str();
        let endpoint = |v: &mut Self,
                        value: Option<Spanned<String>>,
                        key: &str|
         -> Option<Endpoint> {
            let Some(value) = value else {
                v.c.error(
                    d.kind.span(),
                    format!("a `{kind_name}` check needs `{key}`"),
                    "missing key",
                );
                v.c.help(format!(
                        "`{key}` is `internet`, an instance, a subnet, a security group, an Auto Scaling group or a load balancer"
                    ));
                return None;
            };
            if value.get_ref() == Endpoint::INTERNET {
                return Some(Endpoint::Internet);
            }
            v.reference(
                &value,
                &[
                    Kind::Instance,
                    Kind::Subnet,
                    Kind::SecurityGroup,
                    Kind::AutoScalingGroup,
                    Kind::LoadBalancer,
                ],
            )
            .map(Endpoint::Resource)
        };
        let from_value = match &d.from {
            Some(f) => match f.get_ref() {
                OneOrMany::One(s) => Some(Spanned::new(f.span(), s.clone())),
                OneOrMany::Many(_) => {
                    self.c.error(
                        f.span(),
                        format!("`from` of a `{kind_name}` check is one endpoint"),
                        "a list",
                    );
                    self.c.help("write one check per source");
                    return None;
                }
            },
            None => None,
        };
        let from = endpoint(self, from_value, "from");
        let to = endpoint(self, d.to.clone(), "to");
        let proto = match &d.proto {
            None => Proto::Tcp,
            Some(p) => match Proto::parse(p.get_ref()) {
                Some(Proto::All) | None => {
                    self.c.error(
                        p.span(),
                        format!("protocol `{}` cannot be asked about", p.get_ref()),
                        "invalid protocol",
                    );
                    self.c.help("use tcp, udp or icmp");
                    return None;
                }
                Some(p) => p,
            },
        };
        let port = match (&d.port, proto.has_ports()) {
            (Some(p), true) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    self.c.error(
                        p.span(),
                        format!("port {} is outside 1-65535", p.get_ref()),
                        "invalid port",
                    );
                    return None;
                }
            },
            (None, true) => {
                self.c.error(
                    d.kind.span(),
                    format!("a `{kind_name}` check over {proto} needs `port`"),
                    "missing key",
                );
                return None;
            }
            (Some(p), false) => {
                self.c
                    .error(p.span(), format!("{proto} has no ports"), "remove this");
                return None;
            }
            (None, false) => None,
        };
        let (from, to) = (from?, to?);
        if from == to {
            let span = d.to.as_ref().map_or(d.kind.span(), Spanned::span);
            self.c
                .error(span, "`from` and `to` are the same", "same endpoint");
            return None;
        }
        if d.live && !(from == Endpoint::Internet && proto == Proto::Tcp) {
            self.c.error(
                d.kind.span(),
                "`live` tests TCP from the internet only",
                "live check",
            );
            return None;
        }
        Some(CheckKind::Reach {
            expect,
            from,
            to,
            proto,
            port,
            live: d.live,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance};

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("lab-vpcc", "lab-vpc"), 1);
        assert_eq!(
            closest("lab-vpcc", ["lab-vpc", "public-a"].into_iter()),
            Some("lab-vpc")
        );
        assert_eq!(closest("zzzzzz", ["lab-vpc"].into_iter()), None);
    }
}
