//! Sets of IPv4 addresses as sorted, disjoint, inclusive ranges: what the reachability analysis
//! narrows hop by hop ("the internet addresses that the route table, the NACL and the security
//! group all let through").

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::{Ipv4Net, Ipv4Subnets};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpSet {
    /// Sorted, disjoint, non-adjacent inclusive ranges.
    ranges: Vec<(u32, u32)>,
}

impl IpSet {
    pub fn empty() -> Self {
        IpSet::default()
    }

    pub fn net(net: Ipv4Net) -> Self {
        IpSet {
            ranges: vec![(u32::from(net.network()), u32::from(net.broadcast()))],
        }
    }

    pub fn addr(a: Ipv4Addr) -> Self {
        let a = u32::from(a);
        IpSet {
            ranges: vec![(a, a)],
        }
    }

    /// Parses a CIDR as EC2 reports it; `None` for anything else (IPv6, prefix lists).
    pub fn parse(cidr: &str) -> Option<Self> {
        cidr.parse::<Ipv4Net>().ok().map(|n| IpSet::net(n.trunc()))
    }

    /// Where internet clients come from: every address except the private, shared, loopback and
    /// link-local ranges (RFC 1918, RFC 6598, RFC 1122, RFC 3927).
    pub fn internet() -> Self {
        let mut s = IpSet::net(Ipv4Net::default());
        for reserved in [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "224.0.0.0/3",
        ] {
            if let Some(r) = IpSet::parse(reserved) {
                s = s.minus(&r);
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of addresses (as u64: the whole space has 2^32).
    pub fn size(&self) -> u64 {
        self.ranges
            .iter()
            .map(|(a, b)| u64::from(*b) - u64::from(*a) + 1)
            .sum()
    }

    pub fn contains_all(&self, other: &IpSet) -> bool {
        other.minus(self).is_empty()
    }

    pub fn intersect(&self, other: &IpSet) -> IpSet {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a1, b1) = self.ranges[i];
            let (a2, b2) = other.ranges[j];
            let lo = a1.max(a2);
            let hi = b1.min(b2);
            if lo <= hi {
                out.push((lo, hi));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        IpSet { ranges: out }
    }

    pub fn union(&self, other: &IpSet) -> IpSet {
        let mut all: Vec<(u32, u32)> = self.ranges.iter().chain(&other.ranges).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match out.last_mut() {
                Some((_, hi)) if u64::from(a) <= u64::from(*hi) + 1 => *hi = (*hi).max(b),
                _ => out.push((a, b)),
            }
        }
        IpSet { ranges: out }
    }

    pub fn minus(&self, other: &IpSet) -> IpSet {
        let mut out = Vec::new();
        for &(a, b) in &self.ranges {
            let mut lo = u64::from(a);
            let hi = u64::from(b);
            for &(c, d) in &other.ranges {
                let (c, d) = (u64::from(c), u64::from(d));
                if d < lo || c > hi {
                    continue;
                }
                if c > lo {
                    out.push((lo, c - 1));
                }
                lo = d + 1;
                if lo > hi {
                    break;
                }
            }
            if lo <= hi {
                out.push((lo, hi));
            }
        }
        IpSet {
            ranges: out
                .into_iter()
                .filter_map(|(a, b)| Some((u32::try_from(a).ok()?, u32::try_from(b).ok()?)))
                .collect(),
        }
    }

    /// The set as the fewest CIDRs.
    pub fn cidrs(&self) -> Vec<Ipv4Net> {
        self.ranges
            .iter()
            .flat_map(|&(a, b)| Ipv4Subnets::new(Ipv4Addr::from(a), Ipv4Addr::from(b), 0))
            .collect()
    }
}

impl fmt::Display for IpSet {
    /// `10.0.1.4`, `10.0.0.0/16`, `10.0.1.0/24, 10.0.2.0/24`, or `the internet` for the whole
    /// public space; long lists are cut.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no address");
        }
        if *self == IpSet::internet() {
            return f.write_str("any internet address");
        }
        let cidrs = self.cidrs();
        let shown: Vec<String> = cidrs
            .iter()
            .take(3)
            .map(|n| {
                if n.prefix_len() == 32 {
                    n.addr().to_string()
                } else {
                    n.to_string()
                }
            })
            .collect();
        f.write_str(&shown.join(", "))?;
        if cidrs.len() > 3 {
            write!(f, " and {} more ranges", cidrs.len() - 3)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::IpSet;

    fn s(c: &str) -> IpSet {
        IpSet::parse(c).expect("cidr")
    }

    #[test]
    fn set_algebra() {
        let vpc = s("10.0.0.0/16");
        let a = s("10.0.1.0/24");
        let b = s("10.0.2.0/24");
        assert_eq!(vpc.intersect(&a), a);
        assert!(a.intersect(&b).is_empty());
        assert_eq!(a.union(&b).to_string(), "10.0.1.0/24, 10.0.2.0/24");
        assert_eq!(s("10.0.0.0/23").minus(&s("10.0.0.0/24")), s("10.0.1.0/24"));
        assert_eq!(vpc.minus(&vpc), IpSet::empty());
        assert_eq!(s("0.0.0.0/0").minus(&s("0.0.0.0/1")), s("128.0.0.0/1"));
        assert!(vpc.contains_all(&a));
        assert!(!a.contains_all(&vpc));
        assert_eq!(s("10.0.1.5/32").to_string(), "10.0.1.5");
        assert_eq!(s("0.0.0.0/0").size(), 1 << 32);
    }

    #[test]
    fn internet_excludes_private_space() {
        let i = IpSet::internet();
        assert!(i.intersect(&s("10.0.0.0/16")).is_empty());
        assert!(i.contains_all(&s("203.0.113.7/32")));
        assert_eq!(i.to_string(), "any internet address");
        assert_eq!(
            i.intersect(&s("203.0.113.0/24")).to_string(),
            "203.0.113.0/24"
        );
    }
}
