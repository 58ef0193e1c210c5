//! One resource table to its [`Spec`]: the keys of each kind.

use super::*;
use crate::resources::{
    AutoScalingGroupSpec, BucketPolicySpec, BucketSpec, ElasticIpSpec, FileSystemSpec, IamRoleSpec,
    ImageSpec, InstanceProfileSpec, InstanceSpec, InternetGatewaySpec, KeyPairSpec,
    LaunchTemplateSpec, ListenerSpec, LoadBalancerSpec, MountTargetSpec, NatGatewaySpec,
    NetworkAclSpec, ObjectsSpec, RepositorySpec, RouteTableSpec, ScalingPolicySpec,
    SecurityGroupSpec, SubnetSpec, TargetGroupSpec, VpcEndpointSpec, VpcSpec, WebsiteSpec,
};

impl Validator<'_, '_, '_> {
    pub(super) fn resource(
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
                    format!("`{key}` does not apply to {}", with_article(kind.label())),
                    "not for this type",
                );
                self.c.help(if allowed.is_empty() {
                    format!("{} takes no settings", with_article(kind.label()))
                } else {
                    format!(
                        "{} takes: {}",
                        with_article(kind.label()),
                        allowed.join(", ")
                    )
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
                Spec::Vpc(VpcSpec {
                    cidr: cidr.unwrap_or_default(),
                    dns_hostnames: d.dns_hostnames.as_ref().is_some_and(|b| *b.get_ref()),
                })
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
                Spec::Subnet(SubnetSpec {
                    vpc: vpc.unwrap_or_default(),
                    cidr: cidr.unwrap_or_default(),
                    az,
                    map_public_ip: d.map_public_ip.as_ref().is_some_and(|b| *b.get_ref()),
                })
            }
            Kind::InternetGateway => Spec::InternetGateway(InternetGatewaySpec {
                vpc: vpc(self).unwrap_or_default(),
            }),
            Kind::VpcEndpoint => {
                let vpc = vpc(self);
                let service = self
                    .required(name, kind, "service", &d.service)
                    .cloned()
                    .and_then(|s| {
                        if GATEWAY_SERVICES.contains(&s.get_ref().as_str()) {
                            return Some(s.into_inner());
                        }
                        self.c.error(
                            s.span(),
                            format!("`{}` has no gateway endpoint", s.get_ref()),
                            "not a gateway service",
                        );
                        self.c
                            .help(format!("one of: {}", GATEWAY_SERVICES.join(", ")));
                        None
                    });
                let route_tables = d
                    .route_tables
                    .iter()
                    .flatten()
                    .filter_map(|t| self.reference(t, &[Kind::RouteTable]))
                    .collect();
                Spec::VpcEndpoint(VpcEndpointSpec {
                    vpc: vpc.unwrap_or_default(),
                    service: service.unwrap_or_default(),
                    route_tables,
                })
            }
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
                Spec::RouteTable(RouteTableSpec {
                    vpc: vpc.unwrap_or_default(),
                    subnets,
                    routes,
                })
            }
            Kind::ElasticIp => Spec::ElasticIp(ElasticIpSpec),
            Kind::NatGateway => {
                let subnet = self.required(name, kind, "subnet", &d.subnet).cloned();
                let subnet = subnet.and_then(|s| self.reference(&s, &[Kind::Subnet]));
                let eip = self.required(name, kind, "eip", &d.eip).cloned();
                let eip = eip.and_then(|s| self.reference(&s, &[Kind::ElasticIp]));
                Spec::NatGateway(NatGatewaySpec {
                    subnet: subnet.unwrap_or_default(),
                    eip: eip.unwrap_or_default(),
                })
            }
            Kind::NetworkAcl => {
                let vpc = vpc(self);
                let subnets = subnets(self);
                let inbound = self.nacl_rules(d.inbound.as_deref().unwrap_or_default());
                let outbound = self.nacl_rules(d.outbound.as_deref().unwrap_or_default());
                Spec::NetworkAcl(NetworkAclSpec {
                    vpc: vpc.unwrap_or_default(),
                    subnets,
                    inbound,
                    outbound,
                })
            }
            Kind::SecurityGroup => {
                let vpc = vpc(self);
                let ingress = self.sg_rules(d.ingress.as_deref().unwrap_or_default(), false);
                let egress = d.egress.as_deref().map(|e| self.sg_rules(e, true));
                Spec::SecurityGroup(SecurityGroupSpec {
                    vpc: vpc.unwrap_or_default(),
                    description: d
                        .description
                        .clone()
                        .unwrap_or_else(|| format!("awslab {}", name.get_ref())),
                    ingress,
                    egress,
                })
            }
            Kind::KeyPair => Spec::KeyPair(KeyPairSpec),
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
                Spec::Instance(InstanceSpec {
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
                })
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
                Spec::IamRole(IamRoleSpec {
                    service,
                    managed_policies,
                })
            }
            Kind::InstanceProfile => {
                let role = self.required(name, kind, "role", &d.role).cloned();
                Spec::InstanceProfile(InstanceProfileSpec {
                    role: role
                        .and_then(|r| self.reference(&r, &[Kind::IamRole]))
                        .unwrap_or_default(),
                })
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
                Spec::FileSystem(FileSystemSpec {
                    encrypted: d.encrypted.as_ref().is_none_or(|e| *e.get_ref()),
                    performance_mode,
                    transition_to_ia,
                })
            }
            Kind::MountTarget => {
                let fs = self
                    .required(name, kind, "file_system", &d.file_system)
                    .cloned();
                let subnet = self.required(name, kind, "subnet", &d.subnet).cloned();
                Spec::MountTarget(MountTargetSpec {
                    file_system: fs
                        .and_then(|f| self.reference(&f, &[Kind::FileSystem]))
                        .unwrap_or_default(),
                    subnet: subnet
                        .and_then(|s| self.reference(&s, &[Kind::Subnet]))
                        .unwrap_or_default(),
                    security_groups: self.groups(d),
                })
            }
            Kind::LaunchTemplate => Spec::LaunchTemplate(LaunchTemplateSpec {
                ami: self.ami(name, kind, d),
                instance_type: instance_type(d),
                security_groups: self.groups(d),
                instance_profile: d
                    .instance_profile
                    .as_ref()
                    .and_then(|p| self.reference(p, &[Kind::InstanceProfile])),
                user_data: d.user_data.as_ref().and_then(|u| self.text(u)),
            }),
            Kind::TargetGroup => Spec::TargetGroup(TargetGroupSpec {
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
            }),
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
                Spec::LoadBalancer(LoadBalancerSpec {
                    subnets,
                    security_groups: self.groups(d),
                    internet_facing,
                })
            }
            Kind::Listener => {
                let lb = self
                    .required(name, kind, "load_balancer", &d.load_balancer)
                    .cloned();
                let tg = self
                    .required(name, kind, "target_group", &d.target_group)
                    .cloned();
                Spec::Listener(ListenerSpec {
                    load_balancer: lb
                        .and_then(|l| self.reference(&l, &[Kind::LoadBalancer]))
                        .unwrap_or_default(),
                    protocol: self.http_protocol(d),
                    port: self.service_port(d),
                    target_group: tg
                        .and_then(|t| self.reference(&t, &[Kind::TargetGroup]))
                        .unwrap_or_default(),
                })
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
                Spec::Bucket(BucketSpec {
                    versioning: flag(&d.versioning, false),
                    bucket_key: flag(&d.bucket_key, true),
                    object_ownership,
                    public_access: PublicAccess {
                        block_public_acls: flag(&d.block_public_acls, true),
                        ignore_public_acls: flag(&d.ignore_public_acls, true),
                        block_public_policy: flag(&d.block_public_policy, true),
                        restrict_public_buckets: flag(&d.restrict_public_buckets, true),
                    },
                })
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
                Spec::BucketPolicy(BucketPolicySpec {
                    bucket: self.bucket_ref(name, kind, d),
                    public_read: true,
                })
            }
            Kind::Website => Spec::Website(WebsiteSpec {
                bucket: self.bucket_ref(name, kind, d),
                index_document: d
                    .index_document
                    .as_ref()
                    .map_or_else(|| "index.html".to_owned(), |i| i.get_ref().clone()),
                error_document: d.error_document.as_ref().map(|e| e.get_ref().clone()),
            }),
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
                Spec::Repository(RepositorySpec {
                    name: repo_name,
                    scan_on_push: d.scan_on_push.as_ref().is_some_and(|b| *b.get_ref()),
                    immutable,
                    lifecycle,
                })
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
                Spec::Image(ImageSpec {
                    repository: repo
                        .and_then(|r| self.reference(&r, &[Kind::Repository]))
                        .unwrap_or_default(),
                    tag,
                    source,
                    files,
                })
            }
            Kind::Objects => {
                let bucket = self.bucket_ref(name, kind, d);
                let (source, files) = self.source_files(name, kind, d);
                Spec::Objects(ObjectsSpec {
                    bucket,
                    source,
                    files,
                })
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
                Spec::ScalingPolicy(ScalingPolicySpec {
                    group: group
                        .and_then(|g| self.reference(&g, &[Kind::AutoScalingGroup]))
                        .unwrap_or_default(),
                    target_cpu,
                })
            }
        };
        if !ok
            || self.c.issues[errors_before..]
                .iter()
                .any(|i| i.severity == crate::lab::Severity::Error)
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
    pub(super) fn source_files(
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
    pub(super) fn bucket_ref(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        d: &ResourceDef,
    ) -> String {
        let b = self.required(name, kind, "bucket", &d.bucket).cloned();
        b.and_then(|b| self.reference(&b, &[Kind::Bucket]))
            .unwrap_or_default()
    }

    /// `ami`: an SSM public parameter (`ssm:/path`) or an image id.
    pub(super) fn ami(&mut self, name: &Spanned<String>, kind: Kind, d: &ResourceDef) -> AmiRef {
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

    pub(super) fn groups(&mut self, d: &ResourceDef) -> Vec<String> {
        d.security_groups
            .iter()
            .flatten()
            .filter_map(|g| self.reference(g, &[Kind::SecurityGroup]))
            .collect()
    }

    /// `protocol` of a target group or listener: HTTP (the default) or HTTPS.
    pub(super) fn http_protocol(&mut self, d: &ResourceDef) -> String {
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
    pub(super) fn service_port(&mut self, d: &ResourceDef) -> u16 {
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

    pub(super) fn auto_scaling_group(
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
        Spec::AutoScalingGroup(AutoScalingGroupSpec {
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
        })
    }
}
