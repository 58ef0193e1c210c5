//! What a lab costs while it is up: a static us-east-1 price table with its date, applied to a
//! lab's resources (before `up`) or to what AWS has (`down`, `status`). An estimate for
//! students, not a bill: the assumptions are stated with every figure.

use std::fmt;

use serde::Serialize;

use crate::lab::{Lab, StageSel};
use crate::resources::Observed;

/// When the table was written. Prices: AWS on-demand list prices for us-east-1.
pub const PRICES_DATE: &str = "2026-11-23";

pub const NAT_GATEWAY_HOUR: f64 = 0.045;
pub const PUBLIC_IPV4_HOUR: f64 = 0.005;
pub const ALB_HOUR: f64 = 0.0225;
pub const EFS_GB_MONTH: f64 = 0.30;
pub const ECR_GB_MONTH: f64 = 0.10;
pub const S3_GB_MONTH: f64 = 0.023;
pub const EBS_GP3_GB_MONTH: f64 = 0.08;
/// EBS snapshots, standard tier (what a snapshot or an image's snapshot bills while it exists).
pub const SNAPSHOT_GB_MONTH: f64 = 0.05;
/// EBS volumes by type, $/GB-month (provisioned IOPS and throughput extra).
const VOLUME_GB_MONTH: &[(&str, f64)] = &[
    ("gp3", 0.08),
    ("gp2", 0.10),
    ("io1", 0.125),
    ("io2", 0.125),
    ("st1", 0.045),
    ("sc1", 0.015),
    ("standard", 0.05),
];
/// Fargate (Linux/x86), per vCPU-hour and per GB-hour of memory a task requests.
pub const FARGATE_VCPU_HOUR: f64 = 0.04048;
pub const FARGATE_GB_HOUR: f64 = 0.004445;
/// CloudWatch Logs (standard class): per GB ingested and per GB-month stored.
pub const LOGS_INGEST_GB: f64 = 0.50;
pub const LOGS_GB_MONTH: f64 = 0.03;

/// What one Fargate task of `cpu` units (1024 = 1 vCPU) and `memory` MiB costs per hour.
pub fn fargate_hourly(cpu: u32, memory: u32) -> f64 {
    f64::from(cpu) / 1024.0 * FARGATE_VCPU_HOUR + f64::from(memory) / 1024.0 * FARGATE_GB_HOUR
}

/// The root volume of an Amazon Linux 2023 instance.
pub const ROOT_VOLUME_GB: f64 = 8.0;
pub const HOURS_PER_MONTH: f64 = 730.0;

/// On-demand Linux $/hour of the instance types labs use.
const INSTANCE_HOUR: &[(&str, f64)] = &[
    ("t3.nano", 0.0052),
    ("t3.micro", 0.0104),
    ("t3.small", 0.0208),
    ("t3.medium", 0.0416),
    ("t2.micro", 0.0116),
    ("t4g.micro", 0.0084),
];

pub const ASSUMPTIONS: &str = "us-east-1 on-demand list prices; excludes data transfer, NAT data processing ($0.045/GB) and load balancer capacity units ($0.008/LCU-hour), free-tier credits and taxes; every public IPv4 address counts, attached or not; instances have an 8 GB gp3 root volume";

/// One priced item.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub what: String,
    pub per_hour: f64,
}

/// An hourly estimate.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Estimate {
    pub lines: Vec<Line>,
    /// Resources whose price the table does not know (counted as free, and said so).
    pub unknown: Vec<String>,
}

impl Estimate {
    pub fn per_hour(&self) -> f64 {
        self.lines.iter().map(|l| l.per_hour).sum()
    }

    pub fn add(&mut self, what: String, per_hour: f64) {
        self.lines.push(Line { what, per_hour });
    }

    pub fn instance(&mut self, name: &str, itype: &str, public_ip: bool) {
        self.instance_in_state(name, itype, public_ip, true);
    }

    /// An application load balancer: the hour (LCUs come with traffic) and, internet-facing, a
    /// public IPv4 address in each AZ.
    pub fn load_balancer(&mut self, name: &str, internet_facing: bool, azs: usize) {
        self.add(format!("load balancer {name} (hour; LCUs extra)"), ALB_HOUR);
        if internet_facing {
            for i in 0..azs {
                self.add(
                    format!("load balancer {name} public IPv4 #{}", i + 1),
                    PUBLIC_IPV4_HOUR,
                );
            }
        }
    }

    /// An EBS volume of `gib` GiB of `volume_type`, whether attached or not.
    pub fn volume(&mut self, name: &str, gib: i32, volume_type: &str) {
        match VOLUME_GB_MONTH.iter().find(|(t, _)| *t == volume_type) {
            Some((_, price)) => self.add(
                format!("volume {name} ({gib} GB {volume_type})"),
                f64::from(gib) * price / HOURS_PER_MONTH,
            ),
            None => self.unknown.push(format!("volume {name} ({volume_type})")),
        }
    }

    /// An EBS snapshot of a `gib` GiB volume, counted whole (AWS bills the blocks it holds:
    /// at most the volume's size, less for a later snapshot of the same volume). It bills
    /// until it is deleted, whether an image still uses it or not.
    pub fn snapshot(&mut self, name: &str, gib: i32) {
        self.add(
            format!("snapshot {name} ({gib} GB, until deleted)"),
            f64::from(gib) * SNAPSHOT_GB_MONTH / HOURS_PER_MONTH,
        );
    }

    /// A stopped instance costs its volume (and an Elastic IP, counted with the address).
    pub fn instance_in_state(&mut self, name: &str, itype: &str, public_ip: bool, running: bool) {
        if running {
            match INSTANCE_HOUR.iter().find(|(t, _)| *t == itype) {
                Some((_, price)) => self.add(format!("instance {name} ({itype})"), *price),
                None => self.unknown.push(format!("instance {name} ({itype})")),
            }
        }
        self.add(
            format!("instance {name} root volume ({ROOT_VOLUME_GB} GB gp3)"),
            ROOT_VOLUME_GB * EBS_GP3_GB_MONTH / HOURS_PER_MONTH,
        );
        if public_ip {
            self.add(format!("instance {name} public IPv4"), PUBLIC_IPV4_HOUR);
        }
    }
}

/// What a lab (or its setup stage) costs per hour once up.
pub fn of_lab(lab: &Lab, stage: StageSel) -> Estimate {
    let mut e = Estimate::default();
    for r in lab.resources_for(stage) {
        r.kind().handler().price(r, lab, &mut e);
    }
    e
}

/// What these resources cost per hour as AWS describes them (terminated instances and deleted
/// NAT gateways cost nothing).
pub fn of_observed<'a>(items: impl IntoIterator<Item = &'a Observed>) -> Estimate {
    let items: Vec<&Observed> = items.into_iter().collect();
    // Addresses of Elastic IPs, so an instance holding one is not charged for it twice.
    let eips: Vec<&str> = items
        .iter()
        .filter_map(|o| o.facts.of_kind().elastic_address())
        .collect();
    let mut e = Estimate::default();
    for o in items {
        o.kind.handler().price_observed(o, &eips, &mut e);
    }
    e
}

/// Each item's price per hour, in order (an address an instance holds is charged once, on the
/// Elastic IP).
pub fn per_item(items: &[Observed]) -> Vec<f64> {
    let eips: Vec<&str> = items
        .iter()
        .filter_map(|o| o.facts.of_kind().elastic_address())
        .collect();
    items
        .iter()
        .map(|o| {
            let mut e = Estimate::default();
            o.kind.handler().price_observed(o, &eips, &mut e);
            e.per_hour()
        })
        .collect()
}

/// `$0.078`; small amounts keep three decimals.
pub struct Dollars(pub f64);

impl fmt::Display for Dollars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No `-0.000` from sums of nothing.
        let v = if self.0.abs() < 5e-4 { 0.0 } else { self.0 };
        if v >= 10.0 {
            write!(f, "${v:.2}")
        } else {
            write!(f, "${v:.3}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::Kind;
    use crate::lab::catalog;
    use crate::resources::{ElasticIpFacts, Facts, InstanceFacts};

    #[test]
    fn vpc_lab_costs_the_nat_gateway_and_two_instances() {
        let lab = catalog::load_lab("vpc-public-private", &Default::default())
            .expect("bundled lab")
            .lab;
        let e = of_lab(&lab, StageSel::Full);
        // NAT 0.045 + EIP 0.005 + 2 x t3.micro 0.0104 + bastion public IP 0.005 + 2 root volumes.
        let expected = 0.045 + 0.005 + 2.0 * 0.0104 + 0.005 + 2.0 * 8.0 * 0.08 / 730.0;
        assert!((e.per_hour() - expected).abs() < 1e-9, "{e:?}");
        assert!(e.unknown.is_empty());
        // The setup stage (a key pair) costs nothing.
        assert_eq!(of_lab(&lab, StageSel::Setup).per_hour(), 0.0);
        assert_eq!(Dollars(e.per_hour()).to_string(), "$0.078");
        assert_eq!(Dollars(-0.0).to_string(), "$0.000");
    }

    fn instance(state: &str, public_ip: Option<&str>) -> Observed {
        Observed {
            kind: Kind::Instance,
            id: "i-1".into(),
            tags: Default::default(),
            facts: Facts::Instance(InstanceFacts {
                image_id: None,
                az: None,
                launch_template: None,
                vpc_id: None,
                subnet_id: None,
                state: state.into(),
                instance_type: "t3.micro".into(),
                security_groups: vec![],
                key_name: None,
                public_ip: public_ip.map(Into::into),
                private_ip: None,
                instance_profile: None,
            }),
        }
    }

    #[test]
    fn stopped_instances_and_elastic_ips_are_not_charged_twice() {
        let volume = 8.0 * 0.08 / 730.0;
        let running = of_observed([&instance("running", Some("54.0.0.1"))]);
        assert!((running.per_hour() - (0.0104 + volume + 0.005)).abs() < 1e-9);
        // Stopped: the volume only.
        let stopped = of_observed([&instance("stopped", None)]);
        assert!((stopped.per_hour() - volume).abs() < 1e-9, "{stopped:?}");
        // An Elastic IP on the instance is counted once, as the address.
        let eip = Observed {
            kind: Kind::ElasticIp,
            id: "eipalloc-1".into(),
            tags: Default::default(),
            facts: Facts::ElasticIp(ElasticIpFacts {
                public_ip: Some("54.0.0.1".into()),
                association_id: Some("eipassoc-1".into()),
            }),
        };
        let both = of_observed([&instance("running", Some("54.0.0.1")), &eip]);
        assert!(
            (both.per_hour() - (0.0104 + volume + 0.005)).abs() < 1e-9,
            "{both:?}"
        );
    }
}
