//! The `[[checks]]`: their kinds, resources and endpoints.

use super::*;

impl Validator<'_, '_, '_> {
    pub(super) fn check(&mut self, d: &CheckDef) -> Option<Check> {
        let kind_name = d.kind.get_ref().as_str();
        let subnet_list = |v: &mut Self, list: &[Spanned<String>], key: &str| -> Vec<String> {
            if list.is_empty() {
                v.check_needs(d, &[key]);
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
                    None => self.check_needs(d, &["via"]),
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
                        Some(Kind::LoadBalancer | Kind::AutoScalingGroup | Kind::EcsService)
                    )
                });
                if d.resources.len() < 2 && !spans {
                    if d.resources.is_empty() {
                        self.needed.push("resources".to_owned());
                    }
                    self.c.error(
                        d.kind.span(),
                        "a `multi_az` check needs at least two `resources` (or a load balancer, Auto Scaling group or ECS service)",
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
                                    Kind::EcsService,
                                ],
                            )
                        })
                        .collect(),
                }
            }
            "reachable" | "not_reachable" => self.reach_check(d, kind_name == "reachable")?,
            "efs_mountable" => {
                if d.file_system.is_none() {
                    self.check_needs(d, &["file_system"]);
                }
                if d.instances.is_empty() {
                    self.check_needs(d, &["instances"]);
                }
                let fs = d.file_system.as_ref()?;
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
                    self.check_needs(d, &["repository", "tag"]);
                    return None;
                };
                CheckKind::EcrImage {
                    repository: self.reference(r, &[Kind::Repository])?,
                    tag: t.get_ref().clone(),
                }
            }
            "s3_website" | "s3_encryption" | "s3_versioning" => {
                let Some(b) = &d.bucket else {
                    self.check_needs(d, &["bucket"]);
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
                    self.check_needs(d, &["load_balancer", "auto_scaling_group"]);
                    return None;
                };
                CheckKind::AlbServesAsg {
                    load_balancer: self.reference(lb, &[Kind::LoadBalancer])?,
                    group: self.reference(asg, &[Kind::AutoScalingGroup])?,
                    tasks: false,
                    live: d.live,
                }
            }
            "alb_serves_ecs" => {
                let (Some(lb), Some(service)) = (&d.load_balancer, &d.ecs_service) else {
                    self.check_needs(d, &["load_balancer", "ecs_service"]);
                    return None;
                };
                CheckKind::AlbServesAsg {
                    load_balancer: self.reference(lb, &[Kind::LoadBalancer])?,
                    group: self.reference(service, &[Kind::EcsService])?,
                    tasks: true,
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

    /// A check lacks `keys`, which its kind cannot do without (the schema requires them).
    fn check_needs(&mut self, d: &CheckDef, keys: &[&str]) {
        let kind = d.kind.get_ref();
        self.needed.extend(keys.iter().map(|k| (*k).to_owned()));
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let keys = keys
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        self.c.error(
            d.kind.span(),
            format!("{article} `{kind}` check needs {keys}"),
            "missing key",
        );
    }

    /// `reachable` / `not_reachable`: two endpoints, a protocol and (for TCP and UDP) a port.
    pub(super) fn reach_check(&mut self, d: &CheckDef, expect: bool) -> Option<CheckKind> {
        let kind_name = d.kind.get_ref().as_str();
        let endpoint = |v: &mut Self,
                        value: Option<Spanned<String>>,
                        key: &str|
         -> Option<Endpoint> {
            let Some(value) = value else {
                v.check_needs(d, &[key]);
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
                    Kind::EcsService,
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
