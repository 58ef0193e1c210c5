//! The quota preflight as text: one table of needed / used / quota per account and Region, then
//! what to do when something does not fit.

use std::fmt::Write;

use super::Printer;
use crate::quota::Preflight;

/// The preflight's table, and for a refusal the ways out (the same help the error carries).
pub fn preflight(p: &Printer, pf: &Preflight) -> String {
    if pf.rows.is_empty() {
        return "quota preflight: nothing new to create\n".to_owned();
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(vec![
        "", "ACCOUNT", "REGION", "QUOTA", "CODE", "NEEDED", "USED", "LIMIT", "SOURCE",
    ]);
    for r in &pf.rows {
        let mark = if r.ok { p.green("✓") } else { p.red("✗") };
        t.add_row(vec![
            mark,
            r.account.clone(),
            r.region.clone(),
            r.name.to_owned(),
            format!("{}/{}", r.service, r.code),
            r.needed.to_string(),
            r.used.to_string(),
            r.limit.to_string(),
            r.source.to_string(),
        ]);
    }
    let mut s = format!("{}\n{t}\n", p.bold("quota preflight"));
    if let Some(refusal) = pf.refusal() {
        let _ = writeln!(
            s,
            "{}",
            p.red(&format!("not enough quota: {}", refusal.summary))
        );
        let _ = writeln!(s, "{}", refusal.help);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Limit, Quota, Source, row_of};

    fn documented(q: Quota) -> Limit {
        Limit {
            value: q.documented_default(),
            source: Source::Documented,
        }
    }

    #[test]
    fn thirty_vpc_envs_in_one_region_are_refused_with_the_vpc_row_named() {
        let pf = Preflight::new(vec![
            row_of(
                "123456789012",
                "us-east-1",
                Quota::Vpcs,
                (30, 1),
                1,
                documented(Quota::Vpcs),
            ),
            row_of(
                "123456789012",
                "us-east-1",
                Quota::SecurityGroups,
                (90, 3),
                1,
                documented(Quota::SecurityGroups),
            ),
        ]);
        assert!(!pf.ok);
        let problems: Vec<_> = pf.problems().map(|r| r.quota).collect();
        assert_eq!(problems, vec![Quota::Vpcs]);
        let text = preflight(&Printer::plain(), &pf);
        let vpc_line = text
            .lines()
            .find(|l| l.contains("VPCs per Region") && l.contains("✗"))
            .unwrap_or_else(|| panic!("no VPC row in:\n{text}"));
        let cells: Vec<&str> = vpc_line.split_whitespace().collect();
        // needed 30, used 1, quota 5, from the documented default.
        assert!(
            cells.ends_with(&["30", "1", "5", "documented"]),
            "{vpc_line}"
        );
        assert!(text.contains(
            "https://console.aws.amazon.com/servicequotas/home/services/vpc/quotas/L-F678F1CE"
        ));
        assert!(text.contains("has room for 4 more env(s)"), "{text}");
        assert!(text.contains("--skip-preflight"));
        assert!(text.contains("another Region"));
        let refusal = pf.refusal().unwrap_or_else(|| panic!("not refused"));
        let err = crate::error::Error::from(Box::new(refusal));
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
    }

    #[test]
    fn a_preflight_that_fits_is_not_refused_and_serializes() {
        let pf = Preflight::new(vec![row_of(
            "123456789012",
            "eu-west-1",
            Quota::S3Buckets,
            (30, 1),
            12,
            Limit {
                value: 10_000,
                source: Source::Applied,
            },
        )]);
        assert!(pf.ok && pf.refusal().is_none());
        let json = serde_json::to_value(&pf).unwrap_or_default();
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["rows"][0]["quota"], "s3-buckets");
        assert_eq!(json["rows"][0]["code"], "L-DC2B2D3D");
        assert_eq!(json["rows"][0]["region"], "all regions");
        assert_eq!(json["rows"][0]["source"], "applied");
        assert_eq!(json["rows"][0]["scope"], "account");
        assert!(!preflight(&Printer::plain(), &pf).contains("not enough"));
    }
}
