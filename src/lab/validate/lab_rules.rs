//! Rules over the whole lab: subnets inside their VPC and apart, bucket names apart, no
//! reference cycle.

use super::*;
use crate::resources::{SubnetSpec, VpcSpec};

impl Validator<'_, '_, '_> {
    /// Subnet CIDRs inside their VPC's CIDR and not overlapping each other.
    pub(super) fn check_subnet_cidrs(&mut self, file: &LabFile, resources: &[Resource]) {
        let span_of = |name: &str| -> Range<usize> {
            file.resources
                .iter()
                .find(|(k, _)| k.get_ref() == name)
                .and_then(|(_, d)| d.get_ref().value_span("cidr"))
                .unwrap_or(0..0)
        };
        let vpcs: BTreeMap<&str, Ipv4Net> = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::Vpc(VpcSpec { cidr, .. }) => Some((r.name.as_str(), *cidr)),
                _ => None,
            })
            .collect();
        let subnets: Vec<(&str, &str, Ipv4Net)> = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::Subnet(SubnetSpec { vpc, cidr, .. }) => {
                    Some((r.name.as_str(), vpc.as_str(), *cidr))
                }
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
    pub(super) fn check_bucket_names(&mut self, file: &LabFile, resources: &[Resource]) {
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

    pub(super) fn check_cycle(&mut self, file: &LabFile, resources: &[Resource]) {
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
}
