//! Listeners: known by load balancer and port, listed with their load balancer.

use super::*;
use crate::check::Names;
use crate::lab::Lab;
use crate::lab::validate::{ParseSpec, SpecCx};
use toml::Spanned;

/// A listener forwarding to one target group.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    pub load_balancer: String,
    pub protocol: String,
    pub port: u16,
    pub target_group: String,
}

/// What AWS says of a listener.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListenerFacts {
    pub load_balancer: String,
    pub vpc_id: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    /// Target groups the default action forwards to.
    pub target_groups: Vec<String>,
}

impl crate::resources::KindSpec for ListenerSpec {
    fn refs(&self) -> Vec<&str> {
        let ListenerSpec {
            load_balancer,
            target_group,
            ..
        } = self;
        vec![load_balancer.as_str(), target_group.as_str()]
    }
}

impl crate::resources::KindFacts for ListenerFacts {
    fn target_groups(&self) -> Vec<&str> {
        self.target_groups.iter().map(String::as_str).collect()
    }

    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let ListenerFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }
}

/// The keys of a `listener` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct ListenerKeys {
    /// The load balancer the listener belongs to.
    #[schemars(with = "Option<String>")]
    pub load_balancer: Option<toml::Spanned<String>>,
    /// `HTTP` (the default; HTTPS is not supported).
    #[schemars(with = "Option<String>")]
    pub protocol: Option<toml::Spanned<String>>,
    /// The port the listener listens on (default 80).
    #[schemars(with = "Option<i64>")]
    pub port: Option<toml::Spanned<i64>>,
    /// The target group the listener forwards to.
    #[schemars(with = "Option<String>")]
    pub target_group: Option<toml::Spanned<String>>,
}

impl ParseSpec for ListenerSpec {
    type Keys = ListenerKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &ListenerKeys) -> Self {
        let kind = Kind::Listener;
        let lb = cx
            .required(name, kind, "load_balancer", &d.load_balancer)
            .cloned();
        let tg = cx
            .required(name, kind, "target_group", &d.target_group)
            .cloned();
        ListenerSpec {
            load_balancer: lb
                .and_then(|l| cx.reference(&l, &[Kind::LoadBalancer]))
                .unwrap_or_default(),
            protocol: cx.http_protocol(&d.protocol),
            port: cx.service_port(&d.port),
            target_group: tg
                .and_then(|t| cx.reference(&t, &[Kind::TargetGroup]))
                .unwrap_or_default(),
        }
    }
}

pub struct Listener;

#[async_trait]
impl ResourceKind for Listener {
    fn kind(&self) -> Kind {
        Kind::Listener
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Child(Kind::LoadBalancer)
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::WithParent
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        Ok(crate::resources::Stamped::WithParent)
    }

    /// Listed with their load balancers.
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let ListenerSpec {
            load_balancer,
            protocol,
            port,
            target_group,
        } = crate::resources::spec_of(res)?;
        let lb_arn = cx.bound.require(load_balancer, &res.name)?;
        let tg_arn = cx.bound.require(target_group, &res.name)?;
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg_arn)
            .build();
        match existing {
            Some(o) => {
                cx.aws
                    .known("elasticloadbalancing:ModifyListener", &res.name, || {
                        cx.aws
                            .elbv2
                            .modify_listener()
                            .listener_arn(&o.id)
                            .protocol(ProtocolEnum::from(protocol.as_str()))
                            .port(i32::from(*port))
                            .default_actions(forward.clone())
                            .send()
                    })
                    .await?;
            }
            None => {
                cx.aws
                    .known("elasticloadbalancing:CreateListener", &res.name, || {
                        cx.aws
                            .elbv2
                            .create_listener()
                            .load_balancer_arn(lb_arn)
                            .protocol(ProtocolEnum::from(protocol.as_str()))
                            .port(i32::from(*port))
                            .default_actions(forward.clone())
                            .set_tags(Some(elb_tags(cx.owner, &res.name)))
                            .send()
                    })
                    .await?;
            }
        }
        let lb = cx
            .bound
            .get(load_balancer)
            .ok_or_else(|| AwsError::from_fault("resolve", &res.name, Fault::NoLoadBalancer))?;
        cx.aws
            .settle(|| async {
                // Just created: asked again while not visible.
                let found = listeners_of(cx.aws, lb, Some(SystemTime::now()))
                    .await?
                    .into_iter()
                    .find(
                    |l| matches!(&l.facts, Facts::Listener(ListenerFacts { port: Some(p), .. }) if *p == i32::from(*port)),
                );
                listed(found, "elasticloadbalancing:DescribeListeners", &res.name)
            })
            .await
    }

    /// Listeners carry no awslab resource tag of their own here: they are known by load balancer
    /// and port.
    fn find_existing<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::Listener(ListenerSpec {
            load_balancer,
            port,
            ..
        }) = &res.spec
        else {
            return None;
        };
        let lb = bound.id(load_balancer)?;
        world.of_kind(Kind::Listener).find(|l| {
            matches!(&l.facts, Facts::Listener(ListenerFacts { load_balancer: b, port: Some(p), .. }) if b == lb && *p == i32::from(*port))
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["protocol", "port", "forwards_to"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Listener(ListenerSpec {
                protocol,
                port,
                target_group,
                ..
            }),
            Facts::Listener(ListenerFacts {
                protocol: p,
                port: found_port,
                target_groups,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new("protocol", protocol, p.as_deref().unwrap_or("none")),
            Attr::new(
                "port",
                port,
                found_port.map_or_else(|| "none".to_owned(), |p| p.to_string()),
            ),
            Attr::new(
                "forwards_to",
                target_group,
                if target_groups.is_empty() {
                    "nothing".to_owned()
                } else {
                    sorted_labels(bound, target_groups.iter())
                },
            ),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.aws
            .elbv2
            .delete_listener()
            .listener_arn(&obs.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DeleteListener", &obs.id, e))
            .map(drop)
    }

    fn related<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::Listener(s) = &res.spec else {
            return None;
        };
        self.find_existing(world, owner, res, bound).map(|l| {
            (
                l,
                format!("as the listener on port {} of {}", s.port, s.load_balancer),
            )
        })
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::Listener(s) => format!("{} has no listener on port {}", s.load_balancer, s.port),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
