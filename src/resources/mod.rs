//! Resource kinds. Each kind knows how to find itself (one batched describe), create itself with
//! its tags, compare itself with the lab (the attributes `check` and `plan` report), and delete
//! itself (with its drain and wait steps). The engine knows only the [`ResourceKind`] trait.

mod ami;
pub mod autoscaling;
mod ebs_snapshot;
mod ebs_volume;
pub mod ec2util;
pub mod ecr;
pub mod ecs;
pub mod efs;
mod elastic_ip;
pub mod elbv2;
pub mod iam;
pub mod instance;
mod internet_gateway;
pub mod key_pair;
mod launch_template;
mod log_group;
mod nat_gateway;
mod network_acl;
pub mod registry;
mod route_table;
pub mod s3;
mod security_group;
pub mod storage;
pub mod subnet;
pub mod vpc;
mod vpc_endpoint;
pub mod wait;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, Fault};
use crate::check::{FoundBy, Names};
use crate::lab::{Lab, Ports, Resource};

pub use instance::AmiCache;
pub use key_pair::key_name;
pub use network_acl::NaclEntry;
pub use registry::*;

/// What every kind's spec type (the lab file's declaration) answers.
pub trait KindSpec: std::fmt::Debug + Send + Sync {
    /// Every logical name this resource depends on (the edges of the graph).
    fn refs(&self) -> Vec<&str>;
}

/// What every kind's facts type (what AWS says of a resource) answers.
pub trait KindFacts: std::fmt::Debug + Send + Sync {
    /// The VPC the resource is in; `id` is the resource's own (a VPC is in itself).
    fn vpc_id<'a>(&'a self, id: &'a str) -> Option<&'a str>;

    /// Every subnet the resource occupies (a load balancer or an Auto Scaling group spans
    /// several).
    fn subnet_ids(&self) -> Vec<&str> {
        Vec::new()
    }

    /// The security groups of its network interfaces (an instance's, a load balancer's, a
    /// service's tasks'): a group cannot go while they use it.
    fn security_groups(&self) -> Vec<&str> {
        Vec::new()
    }

    /// The target groups it registers into or forwards to: a target group cannot go while
    /// they use it.
    fn target_groups(&self) -> Vec<&str> {
        Vec::new()
    }

    /// Whether what AWS still lists is only history (a terminated instance, a deleted NAT
    /// gateway): AWS keeps listing some kinds for a while after they are gone.
    fn is_gone(&self) -> bool {
        false
    }

    /// A default VPC object (main route table, default NACL or security group) that goes away
    /// with its VPC and cannot be deleted on its own.
    fn is_vpc_default(&self) -> bool {
        false
    }

    /// Storage in GiB that bills until this resource itself is deleted, whatever became of
    /// what it was made from or belonged to (a snapshot outlives its image and its volume).
    fn kept_gib(&self) -> Option<i32> {
        None
    }

    /// The public address of an Elastic IP (charged on its own, so an instance holding it is
    /// not charged for it again).
    fn elastic_address(&self) -> Option<&str> {
        None
    }
}
pub use route_table::{RouteEntry, RouteTarget};
pub use security_group::{SgPeer, SgPermission, rule_text};
pub use wait::{Poll, Step, Waiter};

/// A kind's own spec type, taken out of a [`Spec`].
pub trait SpecOf: Sized {
    /// The kind whose spec it is.
    const KIND: Kind;

    fn of(spec: &Spec) -> Option<&Self>;
}

/// The spec of `res` as the kind's own type `S`; a resource of another kind handed to the
/// kind's handler is a bug in awslab, never in the lab file.
pub(crate) fn spec_of<S: SpecOf>(res: &Resource) -> Result<&S, AwsError> {
    S::of(&res.spec).ok_or_else(|| wrong_spec(res, S::KIND))
}

/// A handler given a resource of another kind: a bug in awslab, never in the lab file.
pub(crate) fn wrong_spec(res: &Resource, kind: Kind) -> AwsError {
    AwsError::from_fault(
        "apply",
        &res.name,
        Fault::WrongKind {
            name: res.name.clone(),
            is: res.kind().label(),
            handler: kind.label(),
        },
    )
}

/// What to discover.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Everything carrying this owner's tags.
    Owned(Owner),
    /// Everything inside these VPCs (kinds that live outside a VPC return nothing).
    InVpcs(Vec<String>),
    /// Resources whose `Name` tag is one of these (used to find a hand-built VPC).
    Named(Vec<String>),
    /// Every resource of the kind in the region (for the few kinds with no VPC: EIPs, key pairs).
    Region,
    /// Everything carrying an `awslab:lab` tag, whatever the lab and env (`status`, `sweep`).
    AnyLab,
    /// At least what [`Scope::Owned`] finds for each of these owners (the envs of a class in
    /// one account and region, listed once rather than once per env); a listing may return
    /// more, and the caller keeps each owner's own.
    Owners(Vec<Owner>),
}

impl Scope {
    /// Whether these tags are one of the owners' ([`Scope::Owners`]).
    pub fn any_owns(owners: &[Owner], tags: &Tags) -> bool {
        owners.iter().any(|o| o.owns(tags))
    }
}

/// A resource as AWS describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub kind: Kind,
    pub id: String,
    pub tags: Tags,
    pub facts: Facts,
}

impl Observed {
    /// Whether what AWS still lists is only history: a terminated instance, a deleted NAT
    /// gateway, file system or mount target (AWS keeps listing them for a while). The one
    /// definition of "gone" for listed resources.
    pub fn is_gone(&self) -> bool {
        self.facts.of_kind().is_gone()
    }

    /// Storage in GiB that bills until it is deleted ([`KindFacts::kept_gib`]).
    pub fn kept_gib(&self) -> Option<i32> {
        self.facts.of_kind().kept_gib()
    }

    pub fn name_tag(&self) -> Option<&str> {
        self.tags.get(tags::NAME).map(String::as_str)
    }

    pub fn vpc_id(&self) -> Option<&str> {
        self.facts.of_kind().vpc_id(&self.id)
    }

    /// Every subnet the resource occupies (a load balancer or an Auto Scaling group spans
    /// several).
    pub fn subnet_ids(&self) -> Vec<&str> {
        self.facts.of_kind().subnet_ids()
    }

    /// The subnet of a resource that sits in exactly one.
    pub fn subnet_id(&self) -> Option<&str> {
        match self.subnet_ids().as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Default VPC objects (main route table, default NACL and security group) that go away with
    /// their VPC and cannot be deleted on their own.
    pub fn is_vpc_default(&self) -> bool {
        self.facts.of_kind().is_vpc_default()
    }
}

/// An instance of an Auto Scaling group, as the group reports it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupInstance {
    pub id: String,
    pub az: Option<String>,
    /// `Pending`, `InService`, `Terminating`, …
    pub lifecycle: String,
    /// `Healthy` or `Unhealthy`.
    pub health: String,
}

/// Everything discovered for one command.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub items: Vec<Observed>,
    /// The region's availability zones, sorted by name.
    pub azs: Vec<String>,
    /// Kinds that could not be listed: what they hold was not looked at.
    pub unlisted: Vec<Unlisted>,
}

/// A kind that could not be listed, and the error that said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unlisted {
    pub kind: Kind,
    pub error: String,
}

impl World {
    /// Adds what is not there yet (by id).
    pub fn merge(&mut self, more: Vec<Observed>) {
        for o in more {
            if let Some(existing) = self.items.iter_mut().find(|i| i.id == o.id) {
                *existing = o;
            } else {
                self.items.push(o);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&Observed> {
        self.items.iter().find(|o| o.id == id)
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Observed> {
        self.items.iter().filter(move |o| o.kind == kind)
    }

    /// The default NACL of a VPC (subnets go back to it when a custom NACL is deleted).
    pub fn default_nacl(&self, vpc_id: &str) -> Option<&Observed> {
        self.of_kind(Kind::NetworkAcl)
            .find(|o| o.vpc_id() == Some(vpc_id) && o.is_vpc_default())
    }

    /// The route table that governs a subnet: its explicit association, else the VPC's main table.
    pub fn route_table_of(&self, subnet_id: &str) -> Option<&Observed> {
        let explicit = self.of_kind(Kind::RouteTable).find(|o| match &o.facts {
            Facts::RouteTable(RouteTableFacts { associations, .. }) => {
                associations.iter().any(|(_, s)| s == subnet_id)
            }
            _ => false,
        });
        explicit.or_else(|| {
            let vpc = self.get(subnet_id)?.vpc_id()?.to_owned();
            self.of_kind(Kind::RouteTable)
                .find(|o| o.vpc_id() == Some(vpc.as_str()) && o.is_vpc_default())
        })
    }

    /// The network ACL a subnet is associated with.
    pub fn nacl_of(&self, subnet_id: &str) -> Option<&Observed> {
        self.of_kind(Kind::NetworkAcl).find(|o| match &o.facts {
            Facts::NetworkAcl(NetworkAclFacts { associations, .. }) => {
                associations.iter().any(|(_, s)| s == subnet_id)
            }
            _ => false,
        })
    }
}

/// Logical names bound to what AWS has, for one command.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    by_name: BTreeMap<String, Observed>,
}

impl Bindings {
    pub fn insert(&mut self, name: &str, o: Observed) {
        self.by_name.insert(name.to_owned(), o);
    }

    pub fn get(&self, name: &str) -> Option<&Observed> {
        self.by_name.get(name)
    }

    pub fn id(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(|o| o.id.as_str())
    }

    /// Each bound resource as `world` now describes it (after attributes were read into it).
    pub fn refresh(&mut self, world: &World) {
        for o in self.by_name.values_mut() {
            if let Some(now) = world.items.iter().find(|w| w.id == o.id) {
                *o = now.clone();
            }
        }
    }

    /// The id of a dependency that the engine has already applied.
    pub fn require(&self, name: &str, of: &str) -> Result<&str, AwsError> {
        self.id(name).ok_or_else(|| {
            AwsError::from_fault(
                "resolve",
                of,
                Fault::NotCreated {
                    name: name.to_owned(),
                },
            )
        })
    }

    /// A logical name for an id, for messages (`sg-0abc` -> `bastion-sg`).
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(_, o)| o.id == id)
            .map(|(n, _)| n.as_str())
    }

    /// The logical name bound to an id, else the id itself (`sg-0abc` -> `bastion-sg`).
    pub fn label(&self, id: &str) -> String {
        match self.name_of(id) {
            Some(n) => n.to_owned(),
            None => id.to_owned(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Observed)> {
        self.by_name.iter()
    }
}

/// One declared attribute compared with what AWS has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attr {
    pub key: String,
    pub expected: String,
    pub found: String,
    pub ok: bool,
}

impl Attr {
    pub fn new(key: &str, expected: impl ToString, found: impl ToString) -> Attr {
        let expected = expected.to_string();
        let found = found.to_string();
        Attr {
            key: key.to_owned(),
            ok: expected == found,
            expected,
            found,
        }
    }
}

/// What `apply` needs besides the resource itself.
pub struct ApplyCx<'a> {
    pub aws: &'a Aws,
    pub owner: &'a Owner,
    /// The dependencies, already applied.
    pub bound: &'a Bindings,
    /// The region's availability zones, sorted; a lab's `az = N` indexes this.
    pub azs: &'a [String],
    /// Where private keys are written.
    pub keys_dir: &'a PathBuf,
    /// Image lookups, shared by the instances of one run.
    pub amis: &'a instance::AmiCache,
    /// How waits are paced and reported.
    pub wait: Waiter<'a>,
}

/// What `delete` needs besides the resource itself.
pub struct DestroyCx<'a> {
    pub aws: &'a Aws,
    pub world: &'a World,
    /// How waits are paced and reported; its timeout is the kind's delete deadline at most.
    pub wait: Waiter<'a>,
}

#[async_trait]
pub trait ResourceKind: Sync {
    fn kind(&self) -> Kind;

    /// Where its resources live, which decides how they are found.
    fn placement(&self) -> Placement;

    /// How `check` looks for resources of this kind.
    fn lookup(&self) -> Lookup;

    /// The names `check` asks for resources of this kind by, when they are looked for by name
    /// ([`Lookup::Named`]): the names the lab gives them.
    async fn lookup_names(
        &self,
        _aws: &Aws,
        lab: &Lab,
        _owner: &Owner,
        names: &Names,
    ) -> Result<Vec<String>, AwsError> {
        let kind = self.kind();
        Ok(names.all(
            lab.resources
                .iter()
                .filter(|r| r.kind() == kind)
                .map(|r| r.name.as_str()),
        ))
    }

    /// Adds the tag `key = value` to an existing resource of this kind (`up --ttl`). Asking
    /// again about something not visible yet is the kind's to do ([`Aws::known`]).
    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<Stamped, AwsError>;

    /// One batched describe of everything of this kind in scope.
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError>;

    /// Reads what its listing does not return (a VPC's DNS-hostnames attribute: one call per
    /// resource), only for the resources a command compares with the lab.
    async fn read_details(&self, _aws: &Aws, _obs: &mut Observed) -> Result<(), AwsError> {
        Ok(())
    }

    /// Creates the resource if `existing` is `None`, then brings what the lab declares in line
    /// (attributes, routes, rules, associations) so that a run cut short converges. Waits where
    /// AWS needs it. Returns the resource as it now is.
    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError>;

    /// The keys `compare` reports for this resource, in order (so a missing resource still
    /// counts them in the maximum score).
    fn attr_keys(&self, res: &Resource) -> Vec<&'static str>;

    /// Declared attributes against what AWS has. `bound` resolves references; `world` holds
    /// relations (associations, attachments).
    fn compare(&self, res: &Resource, obs: &Observed, bound: &Bindings, world: &World)
    -> Vec<Attr>;

    /// The owner's existing resource for `res`, by the `awslab:resource` tag. Kinds that cannot
    /// carry tags find theirs through what they belong to (`bound` holds the dependencies).
    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let _ = bound;
        world.of_kind(res.kind()).find(|o| {
            owner.owns(&o.tags)
                && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
        })
    }

    /// Whether `down` of `owner` takes up this resource although it does not carry the owner's
    /// tags (a bucket found by the name awslab gives it); its `delete` decides what may go.
    fn claims(&self, obs: &Observed, owner: &Owner) -> bool {
        let _ = (obs, owner);
        false
    }

    /// Ids that must be gone before this one can be deleted.
    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        let _ = (obs, world);
        Vec::new()
    }

    /// Runs for every resource of a teardown before any delete (revoking cross-references).
    async fn prepare_delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let _ = (cx, obs);
        Ok(())
    }

    /// Deletes the resource, draining and waiting as AWS needs. A not-found answer is returned
    /// as the error it is: the engine asks a listing whether the resource is gone or not visible
    /// to this call yet ([`crate::engine::destroy`]).
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError>;

    /// How long `delete` keeps retrying dependency errors (lingering network interfaces of ALB,
    /// EFS and NAT gateways take minutes on real AWS) before the resource is reported as left.
    fn delete_deadline(&self) -> Duration {
        Duration::from_secs(600)
    }

    /// What the resource costs per hour once up, by the lab (`cost`, `up`); a free kind says
    /// so with an empty body.
    fn price(&self, res: &Resource, lab: &crate::lab::Lab, e: &mut crate::cost::Estimate);

    /// What the resource costs per hour as AWS describes it (`status`, `down`). `eips`: the
    /// Elastic IP addresses among what is priced (an instance holding one is not charged for
    /// it twice). A free kind, or one whose charge AWS's description does not show, says so
    /// with an empty body.
    fn price_observed(&self, obs: &Observed, eips: &[&str], e: &mut crate::cost::Estimate);

    /// Whether its resources sit in a VPC's subnets (network interfaces, addresses): what
    /// cannot be listed of such a kind may hold the VPC. Kinds placed in a VPC do; a child
    /// kind says so itself (a file system's mount targets).
    fn lives_in_vpc(&self) -> bool {
        self.placement() == Placement::InVpc
    }

    /// Whether it cannot go while something lives inside it (a VPC, a subnet, a security
    /// group): when some of what lives in VPCs could not be listed, it is tried once.
    fn holds_what_is_inside(&self) -> bool {
        false
    }

    /// The kind's own name of `o` (a security group's group name, a key pair's key name) when
    /// it is the name `res` is given in a hand-built setup, with how it matched. The `Name` tag
    /// is tried after; kinds without a name of their own have none.
    fn own_name(
        &self,
        _o: &Observed,
        _res: &Resource,
        _owner: &Owner,
        _names: &Names,
    ) -> Option<FoundBy> {
        None
    }

    /// A resource nobody names, found through what it belongs to or is attached to (the route
    /// table associated with a subnet), with how; `bound` holds what is found so far.
    fn related<'w>(
        &self,
        _world: &'w World,
        _owner: &Owner,
        _lab: &Lab,
        _res: &Resource,
        _bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        None
    }

    /// Why `check` found no resource for `res`.
    fn missing(&self, res: &Resource, names: &Names) -> String {
        missing_by_name(res, names)
    }

    /// What a student does when `check` finds `attr` of `res` not as the lab declares, in the
    /// student's terms; `None` for the plain "set KEY of NAME to: EXPECTED".
    fn attr_hint(&self, _res: &Resource, _attr: &Attr) -> Option<String> {
        None
    }

    /// What a student does when `check` finds none: `name` is the name it is looked for by.
    fn create_hint(&self, res: &Resource, name: &str) -> String {
        format!(
            "create the {} `{}` as the instructions say (Name tag `{name}`)",
            res.kind().label(),
            res.name
        )
    }

    /// The id the resource will have, known before it exists (a bucket's name, from its lab,
    /// env and account); `None` for ids AWS assigns.
    fn planned_id(&self, _res: &Resource, _owner: &Owner, _account: &str) -> Option<String> {
        None
    }

    /// Whether what `show` says of it before it exists needs the account id (a bucket's
    /// name, a repository's registry host).
    fn named_by_account(&self) -> bool {
        false
    }

    /// Where to look once it is up, known before it exists (a website's endpoint, from its
    /// bucket's planned name); `id_of` gives a resource's id, bound or planned.
    fn planned_url(
        &self,
        _res: &Resource,
        _id_of: &dyn Fn(&str) -> Option<String>,
        _region: &str,
    ) -> Option<String> {
        None
    }

    /// Where to look once it is up (a load balancer's URL, a website's endpoint).
    fn url(&self, _obs: &Observed, _region: &str) -> Option<String> {
        None
    }

    /// What instructions may name of it besides its id and URL (`${NAME.root_snapshot}`: an
    /// image's root snapshot), once it exists.
    fn ref_attr(&self, _obs: &Observed, _attr: &str) -> Option<String> {
        None
    }

    /// What to know when looking at its [`ResourceKind::url`] right after `up`.
    fn url_note(&self) -> &'static str {
        ""
    }

    /// What to tell the user about it once `up` is done (where a key pair's private key is,
    /// or that it is missing and how to get one back).
    fn after_up(
        &self,
        _name: &str,
        _obs: &Observed,
        _owner: &Owner,
        _keys_dir: &std::path::Path,
    ) -> Option<Notice> {
        None
    }

    /// How long creation usually takes on real AWS, for the progress line.
    fn typical(&self) -> Option<&'static str> {
        None
    }

    /// The quotas creating `res` uses up, and by how much (a VPC: one VPC and its default
    /// security group; an instance: its vCPUs); `lab` answers for what it refers to (an Auto
    /// Scaling group's launch template). Kinds that use up no quota the preflight knows say
    /// nothing.
    fn quota_needs(&self, res: &Resource, lab: &Lab) -> Vec<(crate::quota::Quota, u32)> {
        let _ = (res, lab);
        Vec::new()
    }
}

/// Something a kind tells the user after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Info(String),
    Warn(String),
}

/// `o` found by its kind's own `name` (`what` says which), when that is the name `res` is given.
pub(crate) fn named_as(
    o: &Observed,
    res: &Resource,
    names: &Names,
    what: &str,
    name: &str,
) -> Option<FoundBy> {
    (name == names.of(&res.name)).then(|| FoundBy::name(&o.id, what, name))
}

/// Why nothing was found for `res` when it is looked for by name.
pub(crate) fn missing_by_name(res: &Resource, names: &Names) -> String {
    format!("no {} named `{}`", res.kind().label(), names.of(&res.name))
}

/// Where to look once it is up: a load balancer's URL, a bucket's website endpoint.
pub fn url(o: &Observed, region: &str) -> Option<String> {
    o.kind.handler().url(o, region)
}

/// A port range as text for messages: `all` when none.
pub fn ports_text(p: Option<Ports>) -> String {
    p.map_or_else(|| "all".to_owned(), |p| p.to_string())
}
