//! An in-memory cloud for the engine's unit tests: a handler for every kind ([`FakeCloud`] is a
//! [`Handlers`]), backed by one list of resources with their tags. It creates, lists and deletes
//! in memory, keeps the order of what it did, and fails the calls it is told to fail.
//!
//! What it holds to, like AWS: a create needs every resource it references to exist; a delete of
//! something still in use (what the real kind's `blockers` name) is a dependency violation; an
//! instance takes [`SHUTDOWN`] to terminate, holding what it uses until then, and stays listed
//! as history; a VPC comes with its main route table and default security group (untagged) and
//! takes them when it goes. A call takes effect when the cloud receives it; its answer comes
//! back [`LATENCY`] later. What a resource must be is not modelled attribute by attribute:
//! `compare` holds a resource to the spec it was last created or updated from, and
//! [`FakeCloud::drift`] changes that as a hand-made change would. Relations and metadata
//! (`blockers`, `claims`, `placement`, deadlines) are the real kinds'.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{EngineOptions, Handlers};
use crate::aws::tags;
use crate::aws::{Aws, AwsError, AwsSettings, ErrorClass, Timing};
use crate::lab::{Kind, Resource, Spec};
use crate::resources::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, InstanceFacts, InstanceSpec, InternetGatewayFacts,
    InternetGatewaySpec, Observed, Placement, Poll, ResourceKind, RouteEntry, RouteTableFacts,
    RouteTableSpec, RouteTarget, Scope, SecurityGroupFacts, SecurityGroupSpec, Stamped,
    SubnetFacts, SubnetSpec, VpcFacts, VpcSpec, World,
};

/// How long the answer to every create, update and delete takes to come back, on tokio's clock
/// (the tests pause it, so this costs no real time): calls the engine runs side by side overlap.
const LATENCY: Duration = Duration::from_millis(50);

/// How long an instance takes from terminate to terminated.
const SHUTDOWN: Duration = Duration::from_secs(30);

/// The region's availability zones.
const AZS: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// A documentation address (RFC 5737): nothing answers there.
const NOWHERE: &str = "http://192.0.2.1";

/// A call the fake can be told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    Create,
    Update,
    Delete,
}

impl Call {
    fn op(self) -> &'static str {
        match self {
            Call::Create => "fake:Create",
            Call::Update => "fake:Update",
            Call::Delete => "fake:Delete",
        }
    }
}

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `DependencyViolation`: something still uses it (the kind's delete retries it).
    Dependency,
    /// Refused for good.
    Fatal,
    /// Not found, although the resource exists: not visible to that call yet.
    NotFound,
    /// No answer, ever: the process is killed in the middle of the call.
    Hang,
}

/// How many calls a failure is told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Once,
    First(u32),
    Always,
}

#[derive(Debug)]
struct Rule {
    call: Call,
    name: String,
    failure: Failure,
    /// `None`: every call.
    left: Option<u32>,
}

#[derive(Debug, Default)]
struct State {
    items: Vec<Observed>,
    /// The spec each resource was last created or updated from, as text, by id.
    applied: BTreeMap<String, String>,
    /// The logical name of every id ever made (the log outlives the resources).
    names: BTreeMap<String, String>,
    rules: Vec<Rule>,
    log: Vec<(&'static str, String)>,
    attempts: BTreeMap<(Call, String), u32>,
    next_id: u32,
    in_flight: usize,
    peak: usize,
    /// Listings asked (one per `discover` call).
    listings: usize,
    /// Instances shutting down, and when they are terminated.
    shutting_down: BTreeMap<String, Instant>,
}

/// The state as it is now (instances whose shutdown is over are terminated).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    s.settle();
    s
}

fn spec_text(res: &Resource) -> String {
    format!("{:?}", res.spec)
}

fn error(call: Call, target: &str, failure: Failure) -> AwsError {
    let (code, message, class) = match failure {
        Failure::Dependency => (
            "DependencyViolation",
            "something still uses it",
            ErrorClass::Dependency,
        ),
        Failure::NotFound => ("NotFound", "no such resource", ErrorClass::Gone),
        Failure::Fatal | Failure::Hang => ("UnauthorizedOperation", "refused", ErrorClass::Fatal),
    };
    AwsError::answer(call.op(), target, code, message).with_class(class)
}

impl State {
    /// Terminates the instances whose shutdown is over.
    fn settle(&mut self) {
        let now = Instant::now();
        let done: Vec<String> = self
            .shutting_down
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in done {
            self.shutting_down.remove(&id);
            self.set_instance_state(&id, "terminated");
        }
    }

    fn set_instance_state(&mut self, id: &str, state: &str) {
        for o in self.items.iter_mut().filter(|o| o.id == id) {
            if let Facts::Instance(f) = &mut o.facts {
                f.state = state.to_owned();
            }
        }
    }

    /// The failure the next `call` on `name` is told to give, counting the rule down.
    fn take_failure(&mut self, call: Call, name: &str) -> Option<Failure> {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.call == call && r.name == name && r.left != Some(0))?;
        if let Some(left) = &mut rule.left {
            *left -= 1;
        }
        Some(rule.failure)
    }

    fn live(&self, id: &str) -> Option<&Observed> {
        self.items.iter().find(|o| o.id == id && !o.is_gone())
    }

    /// The id `name` is bound to, which must still exist.
    fn existing(&self, bound: &Bindings, name: &str, of: &str) -> Result<String, AwsError> {
        let id = bound.require(name, of)?;
        match self.live(id) {
            Some(_) => Ok(id.to_owned()),
            None => Err(error(Call::Create, of, Failure::NotFound)),
        }
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:04}", self.next_id)
    }

    /// What a new resource is, from its spec and what it references.
    fn facts_for(
        &mut self,
        cx: &ApplyCx<'_>,
        res: &Resource,
    ) -> Result<(&'static str, Facts), AwsError> {
        for r in res.spec.refs() {
            self.existing(cx.bound, r, &res.name)?;
        }
        let id = |name: &str| cx.bound.id(name).map(str::to_owned);
        Ok(match &res.spec {
            Spec::Vpc(VpcSpec {
                cidr,
                dns_hostnames,
            }) => (
                "vpc",
                Facts::Vpc(VpcFacts {
                    cidr: Some(*cidr),
                    dns_hostnames: Some(*dns_hostnames),
                    is_default: false,
                }),
            ),
            Spec::Subnet(SubnetSpec {
                vpc,
                cidr,
                az,
                map_public_ip,
            }) => (
                "subnet",
                Facts::Subnet(SubnetFacts {
                    vpc_id: id(vpc),
                    cidr: Some(*cidr),
                    az: cx.azs.get(*az).cloned(),
                    map_public_ip: *map_public_ip,
                }),
            ),
            Spec::InternetGateway(InternetGatewaySpec { vpc }) => (
                "igw",
                Facts::InternetGateway(InternetGatewayFacts {
                    attached_vpcs: id(vpc).into_iter().collect(),
                }),
            ),
            Spec::RouteTable(RouteTableSpec {
                vpc,
                subnets,
                routes,
            }) => {
                let mut associations = Vec::new();
                for s in subnets {
                    let assoc = self.new_id("rtbassoc");
                    associations.extend(id(s).map(|s| (assoc, s)));
                }
                let routes = routes
                    .iter()
                    .map(|r| RouteEntry {
                        dest: r.cidr.to_string(),
                        target: cx.bound.get(&r.target).map(|t| match t.kind {
                            Kind::InternetGateway => RouteTarget::InternetGateway(t.id.clone()),
                            Kind::NatGateway => RouteTarget::NatGateway(t.id.clone()),
                            Kind::Instance => RouteTarget::Instance(t.id.clone()),
                            _ => RouteTarget::Other(t.id.clone()),
                        }),
                        state: "active".to_owned(),
                    })
                    .collect();
                (
                    "rtb",
                    Facts::RouteTable(RouteTableFacts {
                        vpc_id: id(vpc),
                        main: false,
                        associations,
                        routes,
                    }),
                )
            }
            Spec::SecurityGroup(SecurityGroupSpec { vpc, .. }) => (
                "sg",
                Facts::SecurityGroup(SecurityGroupFacts {
                    vpc_id: id(vpc),
                    group_name: res.name.clone(),
                    ingress: Vec::new(),
                    egress: Vec::new(),
                }),
            ),
            Spec::Instance(InstanceSpec {
                subnet,
                instance_type,
                security_groups,
                key,
                ..
            }) => {
                let subnet_id = id(subnet);
                let vpc_id = subnet_id
                    .as_deref()
                    .and_then(|s| self.live(s))
                    .and_then(|s| s.vpc_id().map(str::to_owned));
                (
                    "i",
                    Facts::Instance(InstanceFacts {
                        image_id: None,
                        az: None,
                        launch_template: None,
                        vpc_id,
                        subnet_id,
                        state: "running".to_owned(),
                        instance_type: instance_type.clone(),
                        security_groups: security_groups.iter().filter_map(|g| id(g)).collect(),
                        key_name: key.clone(),
                        public_ip: None,
                        private_ip: None,
                        instance_profile: None,
                    }),
                )
            }
            other => {
                return Err(AwsError::answer(
                    Call::Create.op(),
                    &res.name,
                    "NotModelled",
                    format!("the fake has no {}", other.kind()),
                ));
            }
        })
    }

    /// Creates `res`, tagged for `cx.owner`.
    fn create(&mut self, cx: &ApplyCx<'_>, res: &Resource) -> Result<Observed, AwsError> {
        let (prefix, facts) = self.facts_for(cx, res)?;
        let id = self.new_id(prefix);
        let obs = Observed {
            kind: res.kind(),
            id: id.clone(),
            tags: cx.owner.tags_for(&res.name).into_iter().collect(),
            facts,
        };
        self.items.push(obs.clone());
        if obs.kind == Kind::Vpc {
            self.vpc_defaults(&id);
        }
        self.applied.insert(id.clone(), spec_text(res));
        self.names.insert(id, res.name.clone());
        self.log.push(("create", res.name.clone()));
        Ok(obs)
    }

    /// The main route table and default security group a new VPC comes with.
    fn vpc_defaults(&mut self, vpc: &str) {
        let rtb = self.new_id("rtb");
        let sg = self.new_id("sg");
        self.items.push(Observed {
            kind: Kind::RouteTable,
            id: rtb,
            tags: tags::Tags::new(),
            facts: Facts::RouteTable(RouteTableFacts {
                vpc_id: Some(vpc.to_owned()),
                main: true,
                associations: Vec::new(),
                routes: Vec::new(),
            }),
        });
        self.items.push(Observed {
            kind: Kind::SecurityGroup,
            id: sg,
            tags: tags::Tags::new(),
            facts: Facts::SecurityGroup(SecurityGroupFacts {
                vpc_id: Some(vpc.to_owned()),
                group_name: "default".to_owned(),
                ingress: Vec::new(),
                egress: Vec::new(),
            }),
        });
    }

    /// Deletes `id` unless something still uses it.
    fn delete(&mut self, id: &str) -> Result<(), AwsError> {
        let Some(obs) = self.live(id) else {
            return Err(error(Call::Delete, id, Failure::NotFound));
        };
        let world = World {
            items: self.items.clone(),
            ..World::default()
        };
        let users = obs.kind.handler().blockers(obs, &world);
        if !users.is_empty() {
            return Err(AwsError::answer(
                Call::Delete.op(),
                id,
                "DependencyViolation",
                format!("in use by {}", users.join(", ")),
            )
            .with_class(ErrorClass::Dependency));
        }
        match obs.kind {
            // Still there while it shuts down, then listed as history.
            Kind::Instance => {
                self.set_instance_state(id, "shutting-down");
                self.shutting_down
                    .entry(id.to_owned())
                    .or_insert_with(|| Instant::now() + SHUTDOWN);
            }
            Kind::Vpc => self
                .items
                .retain(|o| o.id != id && !(o.vpc_id() == Some(id) && o.is_vpc_default())),
            _ => self.items.retain(|o| o.id != id),
        }
        self.log.push(("delete", id.to_owned()));
        Ok(())
    }
}

/// Counts a call in flight while it lives.
struct InFlight<'a>(&'a Mutex<State>);

impl<'a> InFlight<'a> {
    fn start(state: &'a Mutex<State>) -> Self {
        let mut s = lock(state);
        s.in_flight += 1;
        s.peak = s.peak.max(s.in_flight);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(self.0).in_flight -= 1;
    }
}

/// The fake handler of one kind.
#[derive(Debug)]
struct FakeKind {
    kind: Kind,
    state: Arc<Mutex<State>>,
}

impl FakeKind {
    /// One mutating call on `name`: it fails if told to, else `effect` takes place at once, as
    /// the cloud sees the call; the answer comes back [`LATENCY`] later.
    async fn call<T>(
        &self,
        call: Call,
        name: &str,
        effect: impl FnOnce(&mut State) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let _busy = InFlight::start(&self.state);
        let answer = {
            let mut s = lock(&self.state);
            *s.attempts.entry((call, name.to_owned())).or_default() += 1;
            match s.take_failure(call, name) {
                None => Some(effect(&mut s)),
                Some(Failure::Hang) => None,
                Some(f) => Some(Err(error(call, name, f))),
            }
        };
        tokio::time::sleep(LATENCY).await;
        match answer {
            Some(a) => a,
            None => std::future::pending().await,
        }
    }
}

#[async_trait]
impl ResourceKind for FakeKind {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn placement(&self) -> Placement {
        self.kind.handler().placement()
    }

    fn lookup(&self) -> crate::resources::Lookup {
        self.kind.handler().lookup()
    }

    /// What the cloud holds of it now (a VPC's DNS hostnames included).
    async fn read_details(&self, _aws: &Aws, obs: &mut Observed) -> Result<(), AwsError> {
        match lock(&self.state).live(&obs.id) {
            Some(now) => {
                obs.facts = now.facts.clone();
                Ok(())
            }
            None => Err(error(Call::Create, &obs.id, Failure::NotFound)),
        }
    }

    fn price(&self, res: &Resource, lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        self.kind.handler().price(res, lab, e);
    }

    fn price_observed(&self, obs: &Observed, eips: &[&str], e: &mut crate::cost::Estimate) {
        self.kind.handler().price_observed(obs, eips, e);
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<Stamped, AwsError> {
        Ok(Stamped::Ec2)
    }

    async fn discover(&self, _aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let mut s = lock(&self.state);
        s.listings += 1;
        Ok(s.items
            .iter()
            .filter(|o| o.kind == self.kind)
            .filter(|o| match scope {
                Scope::Owned(owner) => owner.owns(&o.tags),
                Scope::Owners(owners) => Scope::any_owns(owners, &o.tags),
                Scope::InVpcs(vpcs) => o.vpc_id().is_some_and(|v| vpcs.iter().any(|x| x == v)),
                Scope::Named(names) => o.name_tag().is_some_and(|n| names.iter().any(|x| x == n)),
                Scope::Region => true,
                Scope::AnyLab => o.tags.contains_key(tags::LAB),
            })
            .cloned()
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        match existing {
            Some(o) => {
                self.call(Call::Update, &res.name, |s| {
                    s.applied.insert(o.id.clone(), spec_text(res));
                    s.log.push(("update", res.name.clone()));
                    Ok(o.clone())
                })
                .await
            }
            None => {
                self.call(Call::Create, &res.name, |s| s.create(cx, res))
                    .await
            }
        }
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["applied"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let s = lock(&self.state);
        let found = s.applied.get(&obs.id).map_or("none", String::as_str);
        vec![Attr::new("applied", spec_text(res), found)]
    }

    fn claims(&self, obs: &Observed, owner: &tags::Owner) -> bool {
        self.kind.handler().claims(obs, owner)
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        self.kind.handler().blockers(obs, world)
    }

    /// Deletes in memory, retrying dependency violations as every real kind does.
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let name = {
            let s = lock(&self.state);
            s.names
                .get(&obs.id)
                .cloned()
                .unwrap_or_else(|| obs.id.clone())
        };
        cx.wait
            .dependency(&obs.id, || {
                self.call(Call::Delete, &name, |s| s.delete(&obs.id))
            })
            .await?;
        if self.kind != Kind::Instance {
            return Ok(());
        }
        cx.wait
            .until(&obs.id, "terminated", SHUTDOWN, || async {
                Ok(match lock(&self.state).live(&obs.id) {
                    Some(_) => Poll::Waiting("shutting-down".to_owned()),
                    None => Poll::Done,
                })
            })
            .await
    }

    fn delete_deadline(&self) -> Duration {
        self.kind.handler().delete_deadline()
    }

    fn lives_in_vpc(&self) -> bool {
        self.kind.handler().lives_in_vpc()
    }

    fn holds_what_is_inside(&self) -> bool {
        self.kind.handler().holds_what_is_inside()
    }
}

/// The in-memory cloud: every kind's handler, and what the tests ask of it.
#[derive(Debug)]
pub struct FakeCloud {
    state: Arc<Mutex<State>>,
    /// One per kind, in the order of [`Kind::ALL`].
    kinds: Vec<FakeKind>,
}

#[async_trait]
impl Handlers for FakeCloud {
    fn handler(&self, kind: Kind) -> &dyn ResourceKind {
        &self.kinds[kind as usize]
    }

    async fn availability_zones(&self, _aws: &Aws) -> Result<Vec<String>, AwsError> {
        Ok(AZS.iter().map(|z| (*z).to_owned()).collect())
    }
}

impl FakeCloud {
    pub fn new() -> Arc<FakeCloud> {
        let state = Arc::new(Mutex::new(State::default()));
        let kinds = Kind::ALL
            .iter()
            .map(|&kind| FakeKind {
                kind,
                state: Arc::clone(&state),
            })
            .collect();
        Arc::new(FakeCloud { state, kinds })
    }

    /// Engine options that work through this cloud (keys would go to the temporary directory).
    pub fn options(self: &Arc<Self>) -> EngineOptions {
        EngineOptions {
            keys_dir: std::env::temp_dir(),
            handlers: Arc::clone(self) as Arc<dyn Handlers>,
            ..EngineOptions::default()
        }
    }

    /// Makes `call` on the resource named `name` fail with `failure`, `times` times.
    pub fn fail(&self, call: Call, name: &str, failure: Failure, times: Times) {
        lock(&self.state).rules.push(Rule {
            call,
            name: name.to_owned(),
            failure,
            left: match times {
                Times::Once => Some(1),
                Times::First(n) => Some(n),
                Times::Always => None,
            },
        });
    }

    /// What took effect, in order: `("create", name)`, `("update", name)`, `("delete", id)`.
    pub fn log(&self) -> Vec<(&'static str, String)> {
        lock(&self.state).log.clone()
    }

    /// How many times `call` was made on `name`, failed or not.
    pub fn attempts(&self, call: Call, name: &str) -> u32 {
        let s = lock(&self.state);
        s.attempts
            .get(&(call, name.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The id of the resource named `name` that exists now.
    pub fn id_of(&self, name: &str) -> Option<String> {
        let s = lock(&self.state);
        s.items
            .iter()
            .find(|o| !o.is_gone() && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(name))
            .map(|o| o.id.clone())
    }

    /// The logical name of an id the fake made.
    pub fn name_of(&self, id: &str) -> Option<String> {
        lock(&self.state).names.get(id).cloned()
    }

    /// What exists (terminated instances aside): logical names, else ids, sorted.
    pub fn live(&self) -> Vec<String> {
        let s = lock(&self.state);
        let mut out: Vec<String> = s
            .items
            .iter()
            .filter(|o| !o.is_gone())
            .map(|o| s.names.get(&o.id).cloned().unwrap_or_else(|| o.id.clone()))
            .collect();
        out.sort();
        out
    }

    /// Changes the resource named `name` by hand: it no longer matches its spec.
    pub fn drift(&self, name: &str) {
        if let Some(id) = self.id_of(name) {
            lock(&self.state)
                .applied
                .insert(id, "changed by hand".to_owned());
        }
    }

    /// The most calls that were in flight at once.
    /// How many listings were asked so far.
    pub fn listings(&self) -> usize {
        lock(&self.state).listings
    }

    pub fn peak_in_flight(&self) -> usize {
        lock(&self.state).peak
    }
}

/// Clients for a region, pointed where nothing answers and holding no credentials: what the
/// fake's handlers are given and never call.
pub fn unreachable_aws() -> Aws {
    macro_rules! client {
        ($sdk:ident) => {
            $sdk::Client::from_conf(
                $sdk::Config::builder()
                    .behavior_version($sdk::config::BehaviorVersion::latest())
                    .region($sdk::config::Region::new(AZS_REGION))
                    .endpoint_url(NOWHERE)
                    .build(),
            )
        };
    }
    const AZS_REGION: &str = "us-east-1";
    Aws {
        ec2: client!(aws_sdk_ec2),
        ssm: client!(aws_sdk_ssm),
        sts: client!(aws_sdk_sts),
        iam: client!(aws_sdk_iam),
        efs: client!(aws_sdk_efs),
        elbv2: client!(aws_sdk_elasticloadbalancingv2),
        autoscaling: client!(aws_sdk_autoscaling),
        s3: client!(aws_sdk_s3),
        ecr: client!(aws_sdk_ecr),
        ecs: client!(aws_sdk_ecs),
        logs: client!(aws_sdk_cloudwatchlogs),
        servicequotas: client!(aws_sdk_servicequotas),
        region: AZS_REGION.to_owned(),
        endpoint: Some(NOWHERE.to_owned()),
        stats: Arc::default(),
        timing: Timing::default(),
        account: Arc::default(),
        settings: AwsSettings::default(),
    }
}
