//! Network ACL associations as AWS documents them, in front of MiniStack 1.5.33, which keeps
//! none: its subnets have no association, its `DescribeNetworkAcls` ignores the
//! `association.*` filters, its `ReplaceNetworkAclAssociation` takes any association id and
//! stores an empty subnet id, and it deletes a network ACL whatever uses it. On AWS every subnet
//! is associated with exactly one network ACL, its VPC's default one until that association is
//! replaced ("Control subnet traffic with network access control lists", VPC User Guide).
//!
//! The test harness puts this shim in front of MiniStack (`endpoint()` in `mod.rs`, one per test
//! process, on its own thread), behind the fault proxies, as the proxy's `Faults::shim` hook.
//! Moto models associations itself and gets no shim. What the shim does:
//!
//! - **Associations.** Every subnet of MiniStack's `DescribeSubnets` is associated with its VPC's
//!   default network ACL unless the shim moved it. Association ids are `aclassoc-` and 17 hex
//!   digits, invented here: a default association's id is derived from the region and the subnet
//!   (so it is the same in every test process), a replacement's is random. Moved associations
//!   live in this process's memory: another test process sees its subnets on the default ACL.
//! - **`DescribeNetworkAcls`** is forwarded (MiniStack applies the `NetworkAclId` list and the
//!   `vpc-id`, `default` and `tag` filters); each ACL's `associationSet` in the answer becomes the
//!   shim's associations, and the `association.subnet-id`, `association.association-id` and
//!   `association.network-acl-id` filters are applied to the answer (an ACL matches a filter when
//!   one of its associations does; filters AND, values OR).
//! - **`ReplaceNetworkAclAssociation`** is answered here: `InvalidNetworkAclID.NotFound` for an
//!   ACL MiniStack does not have, `InvalidAssociationID.NotFound` for an association id that is
//!   no subnet's current one, otherwise the subnet moves and the answer carries its
//!   `newAssociationId`.
//! - **`DeleteNetworkAcl`** of an ACL that still has associations: `DependencyViolation`, as AWS
//!   answers (the ACL stays); otherwise forwarded.
//! - **`DeleteSubnet`** is forwarded; once MiniStack has deleted the subnet, its association is
//!   gone too.
//!
//! Not modelled: NACL entry port ranges (MiniStack drops them on `CreateNetworkAclEntry`; the
//! shim does not keep entries), the refusal to delete a VPC's default ACL, and moving a subnet to
//! an ACL of another VPC (MiniStack's answers carry no VPC check, nor does the shim's).

use std::collections::HashMap;

use tokio::sync::Mutex;

use super::aws_model::{Doc, El, HttpResponse, Node, Req, http, with_length};
use super::proxy::{Call, Fault, error_response, forward_raw};

/// A subnet's association after the shim moved it.
#[derive(Debug, Clone)]
struct Moved {
    association: String,
    acl: String,
}

#[derive(Debug, Default)]
pub struct MinistackShim {
    /// (region, subnet id) -> its association, for subnets no longer on the default ACL. One
    /// lock for every change, held across the emulator calls a change depends on.
    moved: Mutex<HashMap<(String, String), Moved>>,
}

/// The association filters of `DescribeNetworkAcls` MiniStack ignores.
const FILTERS: [&str; 3] = [
    "association.subnet-id",
    "association.association-id",
    "association.network-acl-id",
];

/// An EC2 answer from the emulator: the parsed document, or the response to pass back as it is
/// (an error).
type Answer = Result<Doc, Vec<u8>>;

/// Starts the shim in front of the MiniStack at `upstream` on a thread of its own (the tests'
/// runtimes end with each test; the shim serves the whole process) and returns its URL.
pub fn start(upstream: &str) -> String {
    super::proxy::start_serving(
        "ministack-shim",
        upstream,
        super::proxy::Faults {
            shim: Some(std::sync::Arc::new(MinistackShim::default())),
            ..super::proxy::Faults::default()
        },
    )
}

/// The region of a signed request (`Credential=AKID/20261123/us-east-1/ec2/aws4_request`).
fn region(head: &[u8]) -> String {
    let head = String::from_utf8_lossy(head);
    head.split("Credential=")
        .nth(1)
        .and_then(|c| c.split([',', ' ', '\r']).next())
        .and_then(|scope| scope.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_owned()
}

/// `aclassoc-` and 17 hex digits, the shape of AWS's association ids.
fn association_id(n: u64) -> String {
    format!("aclassoc-{n:017x}")
}

/// The id of a subnet's association with its VPC's default ACL: the same in every process.
fn default_association(region: &str, subnet: &str) -> String {
    // FNV-1a: stable across processes and builds.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in region.bytes().chain([b'/']).chain(subnet.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    association_id(h)
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An EC2 query error as AWS sends it.
fn ec2_error(call: &Call, code: &str, message: &str) -> Vec<u8> {
    error_response(call, &Fault::new(400, code, message))
}

/// One EC2 call to the emulator with the request's head (its region and credentials).
async fn ec2(upstream: &str, call: &Call, body: &str) -> std::io::Result<Answer> {
    let head = with_length(&call.head, body.len());
    let raw = forward_raw(upstream, &head, body.as_bytes()).await?;
    Ok(parse_ok(raw))
}

/// The document of a successful answer, else the answer itself.
fn parse_ok(raw: Vec<u8>) -> Answer {
    let doc = HttpResponse::parse(&raw)
        .filter(|r| r.status < 300)
        .and_then(|r| Doc::parse(&String::from_utf8_lossy(&r.body)));
    doc.ok_or(raw)
}

/// The `item`s of the root's `set`.
fn items<'a>(doc: &'a Doc, set: &str) -> impl Iterator<Item = &'a El> {
    doc.root
        .child(set)
        .into_iter()
        .flat_map(|s| s.elements().filter(|e| e.name == "item"))
}

/// (subnet id, VPC id) of every subnet of the request's region.
async fn subnets(
    upstream: &str,
    call: &Call,
) -> std::io::Result<Result<Vec<(String, String)>, Vec<u8>>> {
    let doc = match ec2(upstream, call, "Action=DescribeSubnets&Version=2016-11-15").await? {
        Ok(doc) => doc,
        Err(raw) => return Ok(Err(raw)),
    };
    Ok(Ok(items(&doc, "subnetSet")
        .filter_map(|s| Some((s.child_text("subnetId")?, s.child_text("vpcId")?)))
        .collect()))
}

/// The VPC of a network ACL and whether it is the VPC's default one; `None` if the emulator does
/// not have it.
async fn acl(
    upstream: &str,
    call: &Call,
    id: &str,
) -> std::io::Result<Result<Option<(String, bool)>, Vec<u8>>> {
    let body = format!(
        "Action=DescribeNetworkAcls&Version=2016-11-15&NetworkAclId.1={}",
        encode(id)
    );
    let doc = match ec2(upstream, call, &body).await? {
        Ok(doc) => doc,
        Err(raw) => return Ok(Err(raw)),
    };
    Ok(Ok(items(&doc, "networkAclSet")
        .find(|a| a.child_text("networkAclId").as_deref() == Some(id))
        .map(|a| {
            (
                a.child_text("vpcId").unwrap_or_default(),
                a.child_text("default").as_deref() == Some("true"),
            )
        })))
}

impl MinistackShim {
    /// The proxy's hook: the answer to a call the shim handles, `None` to forward the call.
    pub(super) async fn answer(
        &self,
        upstream: &str,
        call: &Call,
    ) -> std::io::Result<Option<Vec<u8>>> {
        if call.service != "ec2" || call.json {
            return Ok(None);
        }
        let answer = match call.action.as_str() {
            "DescribeNetworkAcls" => self.describe(upstream, call).await?,
            "ReplaceNetworkAclAssociation" => self.replace(upstream, call).await?,
            "DeleteNetworkAcl" => return self.delete_acl(upstream, call).await,
            "DeleteSubnet" => self.delete_subnet(upstream, call).await?,
            _ => return Ok(None),
        };
        Ok(Some(answer))
    }

    /// (association id, subnet id) of every subnet associated with the ACL `acl` (of `vpc`,
    /// the VPC's default ACL if `default`).
    fn associations_of(
        moved: &HashMap<(String, String), Moved>,
        region: &str,
        subnets: &[(String, String)],
        acl: &str,
        vpc: &str,
        default: bool,
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = subnets
            .iter()
            .filter_map(|(subnet, subnet_vpc)| {
                match moved.get(&(region.to_owned(), subnet.clone())) {
                    Some(m) => (m.acl == acl).then(|| m.association.clone()),
                    None => {
                        (default && subnet_vpc == vpc).then(|| default_association(region, subnet))
                    }
                }
                .map(|a| (a, subnet.clone()))
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    async fn describe(&self, upstream: &str, call: &Call) -> std::io::Result<Vec<u8>> {
        let req = Req::parse(call);
        let raw = forward_raw(upstream, &call.head, &call.body).await?;
        let Some(mut response) = HttpResponse::parse(&raw).filter(|r| r.status < 300) else {
            return Ok(raw);
        };
        let Some(mut doc) = Doc::parse(&String::from_utf8_lossy(&response.body)) else {
            return Ok(raw);
        };
        let subnets = match subnets(upstream, call).await? {
            Ok(s) => s,
            Err(raw) => return Ok(raw),
        };
        let region = region(&call.head);
        let filters: Vec<(&str, Vec<String>)> = FILTERS
            .iter()
            .filter_map(|f| req.filter_values(f).map(|v| (*f, v)))
            .collect();
        let moved = self.moved.lock().await;
        let Some(set) = doc.root.child_mut("networkAclSet") else {
            return Ok(raw);
        };
        let mut kept = Vec::with_capacity(set.children.len());
        for node in std::mem::take(&mut set.children) {
            let mut item = match node {
                Node::El(e) if e.name == "item" => e,
                other => {
                    kept.push(other);
                    continue;
                }
            };
            let id = item.child_text("networkAclId").unwrap_or_default();
            let vpc = item.child_text("vpcId").unwrap_or_default();
            let default = item.child_text("default").as_deref() == Some("true");
            let assocs = Self::associations_of(&moved, &region, &subnets, &id, &vpc, default);
            let matches = filters.iter().all(|(name, values)| {
                assocs.iter().any(|(assoc, subnet)| {
                    let v = match *name {
                        "association.subnet-id" => subnet,
                        "association.association-id" => assoc,
                        _ => &id,
                    };
                    values.contains(v)
                })
            });
            if !matches {
                continue;
            }
            let set_items: Vec<Node> = assocs
                .iter()
                .map(|(assoc, subnet)| {
                    Node::El(El::new(
                        "item",
                        vec![
                            El::leaf("networkAclAssociationId", assoc),
                            El::leaf("networkAclId", &id),
                            El::leaf("subnetId", subnet),
                        ],
                    ))
                })
                .collect();
            let set_el = El::new("associationSet", set_items);
            match item
                .children
                .iter_mut()
                .find(|n| matches!(n, Node::El(e) if e.name == "associationSet"))
            {
                Some(n) => *n = Node::El(set_el),
                None => item.children.push(Node::El(set_el)),
            }
            kept.push(Node::El(item));
        }
        set.children = kept;
        response.body = doc.write().into_bytes();
        Ok(response.to_bytes())
    }

    async fn replace(&self, upstream: &str, call: &Call) -> std::io::Result<Vec<u8>> {
        let req = Req::parse(call);
        let (Some(association), Some(acl_id)) = (req.get("AssociationId"), req.get("NetworkAclId"))
        else {
            return Ok(ec2_error(
                call,
                "MissingParameter",
                "The request must contain the parameters AssociationId and NetworkAclId",
            ));
        };
        let region = region(&call.head);
        let mut moved = self.moved.lock().await;
        match acl(upstream, call, acl_id).await? {
            Err(raw) => return Ok(raw),
            Ok(None) => {
                return Ok(ec2_error(
                    call,
                    "InvalidNetworkAclID.NotFound",
                    &format!("The networkAcl ID '{acl_id}' does not exist"),
                ));
            }
            Ok(Some(_)) => {}
        }
        let subnets = match subnets(upstream, call).await? {
            Ok(s) => s,
            Err(raw) => return Ok(raw),
        };
        let subnet = subnets.iter().map(|(s, _)| s).find(|s| {
            let current = match moved.get(&(region.clone(), (*s).clone())) {
                Some(m) => m.association.clone(),
                None => default_association(&region, s),
            };
            current == association
        });
        let Some(subnet) = subnet else {
            return Ok(ec2_error(
                call,
                "InvalidAssociationID.NotFound",
                &format!("The association ID '{association}' does not exist"),
            ));
        };
        let new = association_id(fastrand::u64(..));
        moved.insert(
            (region, subnet.clone()),
            Moved {
                association: new.clone(),
                acl: acl_id.to_owned(),
            },
        );
        Ok(http(
            200,
            "text/xml;charset=UTF-8",
            &format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ReplaceNetworkAclAssociationResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>ministack-shim</requestId><newAssociationId>{new}</newAssociationId></ReplaceNetworkAclAssociationResponse>"
            ),
        ))
    }

    async fn delete_acl(&self, upstream: &str, call: &Call) -> std::io::Result<Option<Vec<u8>>> {
        let req = Req::parse(call);
        let Some(acl_id) = req.get("NetworkAclId") else {
            return Ok(None);
        };
        let region = region(&call.head);
        let mut moved = self.moved.lock().await;
        let (vpc, default) = match acl(upstream, call, acl_id).await? {
            Err(raw) => return Ok(Some(raw)),
            // MiniStack answers for an ACL it does not have.
            Ok(None) => return Ok(None),
            Ok(Some(found)) => found,
        };
        let subnets = match subnets(upstream, call).await? {
            Ok(s) => s,
            Err(raw) => return Ok(Some(raw)),
        };
        if !Self::associations_of(&moved, &region, &subnets, acl_id, &vpc, default).is_empty() {
            return Ok(Some(ec2_error(
                call,
                "DependencyViolation",
                &format!("The networkAcl '{acl_id}' has dependencies and cannot be deleted."),
            )));
        }
        let raw = forward_raw(upstream, &call.head, &call.body).await?;
        if HttpResponse::parse(&raw).is_some_and(|r| r.status < 300) {
            moved.retain(|(r, _), m| !(*r == region && m.acl == acl_id));
        }
        Ok(Some(raw))
    }

    async fn delete_subnet(&self, upstream: &str, call: &Call) -> std::io::Result<Vec<u8>> {
        let req = Req::parse(call);
        let raw = forward_raw(upstream, &call.head, &call.body).await?;
        if let Some(subnet) = req.get("SubnetId")
            && HttpResponse::parse(&raw).is_some_and(|r| r.status < 300)
        {
            let region = region(&call.head);
            self.moved.lock().await.remove(&(region, subnet.to_owned()));
        }
        Ok(raw)
    }
}
