//! What a lab needs of each quota: per env, and summed over the envs to bring up. Each kind
//! says what one of its resources uses up ([`crate::resources::ResourceKind::quota_needs`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::catalog::Quota;
use crate::lab::{Lab, Resource, StageSel};

/// How much of each quota something needs; quotas it does not use are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Needs(BTreeMap<Quota, u32>);

impl Needs {
    /// What `res` of `lab` uses up.
    pub fn of_resource(res: &Resource, lab: &Lab) -> Needs {
        let mut n = Needs::default();
        for (quota, count) in res.kind().handler().quota_needs(res, lab) {
            n.add_one(quota, count);
        }
        n
    }

    /// What these resources of `lab` use up together.
    pub fn of_resources<'a>(lab: &Lab, resources: impl IntoIterator<Item = &'a Resource>) -> Needs {
        resources
            .into_iter()
            .map(|r| Needs::of_resource(r, lab))
            .fold(Needs::default(), |mut acc, n| {
                acc.add(&n);
                acc
            })
    }

    pub fn add_one(&mut self, quota: Quota, count: u32) {
        if count > 0 {
            let c = self.0.entry(quota).or_default();
            *c = c.saturating_add(count);
        }
    }

    pub fn add(&mut self, other: &Needs) {
        for (&quota, &count) in &other.0 {
            self.add_one(quota, count);
        }
    }

    /// How much of `quota` is needed (0 when none).
    pub fn get(&self, quota: Quota) -> u32 {
        self.0.get(&quota).copied().unwrap_or(0)
    }

    /// The quotas needed, with how much, in [`Quota::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Quota, u32)> + '_ {
        self.0.iter().map(|(&q, &c)| (q, c))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What one env of `lab` needs when none of it exists yet.
pub fn needs(lab: &Lab, stage: StageSel) -> Needs {
    Needs::of_resources(lab, lab.resources_for(stage))
}

/// What several envs need together.
pub fn sum<'a>(each: impl IntoIterator<Item = &'a Needs>) -> Needs {
    each.into_iter().fold(Needs::default(), |mut acc, n| {
        acc.add(n);
        acc
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::lab::catalog::load_lab;
    use crate::resources::SpecOf;

    fn lab(id: &str) -> Lab {
        load_lab(id, &BTreeMap::new())
            .unwrap_or_else(|e| panic!("{id}: {e:?}"))
            .lab
    }

    fn of(n: &Needs) -> Vec<(Quota, u32)> {
        n.iter().collect()
    }

    #[test]
    fn vpc_lab_needs_one_of_each_network_quota_and_two_micro_instances() {
        let n = needs(&lab("vpc-public-private"), StageSel::Full);
        assert_eq!(
            of(&n),
            vec![
                (Quota::Vpcs, 1),
                (Quota::InternetGateways, 1),
                (Quota::ElasticIps, 1),
                (Quota::NatGatewaysPerAz, 1),
                // Two declared groups and the VPC's default one.
                (Quota::SecurityGroups, 3),
                // Two t3.micro instances, two vCPUs each.
                (Quota::OnDemandStandardVcpus, 4),
            ]
        );
    }

    #[test]
    fn alb_lab_counts_the_groups_largest_size_in_vcpus() {
        let l = lab("alb-asg-web");
        let n = needs(&l, StageSel::Full);
        assert_eq!(n.get(Quota::Vpcs), 1);
        assert_eq!(n.get(Quota::ApplicationLoadBalancers), 1);
        assert_eq!(n.get(Quota::TargetGroups), 1);
        assert_eq!(n.get(Quota::AutoScalingGroups), 1);
        let max = l
            .resources
            .iter()
            .find_map(|r| crate::resources::AutoScalingGroupSpec::of(&r.spec))
            .map(|g| u32::try_from(g.max_size).unwrap_or(0));
        // t3.micro: two vCPUs per instance the group may run.
        assert_eq!(
            Some(n.get(Quota::OnDemandStandardVcpus)),
            max.map(|m| m * 2)
        );
        assert_eq!(n.get(Quota::EfsFileSystems), 0);
    }

    #[test]
    fn efs_lab_needs_a_file_system_and_two_instances() {
        let n = needs(&lab("efs-shared-storage"), StageSel::Full);
        assert_eq!(n.get(Quota::EfsFileSystems), 1);
        assert_eq!(n.get(Quota::Vpcs), 1);
        assert_eq!(n.get(Quota::InternetGateways), 1);
        assert_eq!(n.get(Quota::OnDemandStandardVcpus), 4);
        assert_eq!(n.get(Quota::NatGatewaysPerAz), 0);
    }

    #[test]
    fn s3_lab_needs_one_bucket_and_ecr_lab_nothing_counted() {
        let s3 = needs(&lab("s3-static-website"), StageSel::Full);
        assert_eq!(of(&s3), vec![(Quota::S3Buckets, 1)]);
        assert!(needs(&lab("ecr-push"), StageSel::Full).is_empty());
    }

    #[test]
    fn setup_stage_needs_only_what_the_student_starts_from() {
        let l = lab("vpc-public-private");
        let setup = needs(&l, StageSel::Setup);
        let full = needs(&l, StageSel::Full);
        for (q, c) in setup.iter() {
            assert!(c <= full.get(q), "{q}");
        }
    }

    #[test]
    fn thirty_envs_need_thirty_times_one() {
        let one = needs(&lab("vpc-public-private"), StageSel::Full);
        let all = sum(std::iter::repeat_n(&one, 30));
        for (q, c) in one.iter() {
            assert_eq!(all.get(q), 30 * c, "{q}");
        }
        assert_eq!(all.get(Quota::Vpcs), 30);
    }

    #[test]
    fn standard_vcpus_follow_the_instance_types() {
        use crate::resources::instance::standard_vcpus;
        assert_eq!(standard_vcpus("t2.micro"), Some(1));
        assert_eq!(standard_vcpus("t2.medium"), Some(2));
        assert_eq!(standard_vcpus("t3.nano"), Some(2));
        assert_eq!(standard_vcpus("t3a.small"), Some(2));
        assert_eq!(standard_vcpus("m5.xlarge"), Some(4));
        assert_eq!(standard_vcpus("c5.4xlarge"), Some(16));
        assert_eq!(standard_vcpus("g4dn.xlarge"), None);
        assert_eq!(standard_vcpus("p3.2xlarge"), None);
        assert_eq!(standard_vcpus("inf1.xlarge"), None);
    }
}
