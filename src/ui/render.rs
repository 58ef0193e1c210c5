//! Text renderings of reports, plans and labs (pure functions returning strings, so they can be
//! snapshot-tested).

use std::fmt::Write;

use super::Printer;
use crate::aws::stats::StatsSummary;
use crate::check::{Method, Report, Status};
use crate::cost::{self, Dollars, Estimate};
use crate::engine::Verb;
use crate::engine::fleet::EnvStatus;
use crate::engine::plan::Plan;
use crate::error::Error;
use crate::lab::Lab;

pub fn report(p: &Printer, r: &Report) -> String {
    let mut s = String::new();
    let scope = match &r.name_prefix {
        Some(prefix) => format!("env {}, names prefixed `{prefix}`", r.env),
        None => format!("env {}", r.env),
    };
    let _ = writeln!(s, "{}", p.bold(&format!("check {} ({scope})", r.lab)));
    for c in &r.checks {
        let mark = match c.status {
            Status::Pass => p.green("✓"),
            Status::Fail => p.red("✗"),
            Status::Error => p.red("!"),
            Status::Skip => p.dim("-"),
        };
        // What a resource was bound to, and how: by name means hand-built and adopted.
        let found = c
            .found_by
            .as_ref()
            .map(|f| format!(" {}", p.dim(&format!("{} {}", f.id, f.how))))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{mark} {} {}{found}",
            c.title,
            p.dim(&format!("[{}/{}]", c.points, c.max_points))
        );
        if c.status != Status::Pass {
            let _ = writeln!(s, "    {}", c.message);
            if !c.hint.is_empty() {
                let _ = writeln!(s, "    hint: {}", c.hint);
            }
        }
    }
    let mut summary = format!(
        "score {}/{}: {} passed, {} failed",
        r.score,
        r.max_score,
        r.count(Status::Pass),
        r.count(Status::Fail) + r.count(Status::Error)
    );
    if r.count(Status::Skip) > 0 {
        let _ = write!(summary, ", {} skipped", r.count(Status::Skip));
    }
    let by_name = r.found_by_name().len();
    if by_name > 0 {
        let _ = writeln!(
            s,
            "{by_name} resource(s) found by name, not by awslab's tags: hand-built, adopted by {}",
            match &r.name_prefix {
                Some(prefix) => format!("the prefix `{prefix}`"),
                None => "the lab's names; in an account students share, have each add a prefix to every name and grade with --name-prefix".to_owned(),
            }
        );
    }
    let _ = writeln!(
        s,
        "{}",
        if r.passed() {
            p.green(&summary)
        } else {
            p.red(&summary)
        }
    );
    s
}

/// The JSON report (schema in `check::report`).
pub fn json(r: &Report) -> Result<String, Error> {
    serde_json::to_string_pretty(r)
        .map_err(|e| Error::usage(format!("cannot serialise the report: {e}"), None))
}

/// A check's JUnit status: a failure or error carries the message, and its text expected, found
/// and the hint.
pub fn junit_status(c: &crate::check::CheckResult) -> quick_junit::TestCaseStatus {
    use quick_junit::{NonSuccessKind, TestCaseStatus};
    match c.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(c.message.clone());
            s
        }
        Status::Fail | Status::Error => {
            let kind = if c.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(c.message.clone());
            let mut text = String::new();
            if let Some(e) = &c.expected {
                let _ = writeln!(text, "expected: {e}");
            }
            if let Some(f) = &c.found {
                let _ = writeln!(text, "found: {f}");
            }
            if !c.hint.is_empty() {
                let _ = writeln!(text, "hint: {}", c.hint);
            }
            s.set_description(text);
            s
        }
    }
}

/// JUnit XML: one testsuite per lab (named `lab` or `lab (env)`), one testcase per check. A
/// failure carries the message; its text adds expected, found and the hint. Points go in
/// properties so a CI system keeps them.
pub fn junit(r: &Report) -> Result<String, Error> {
    use quick_junit::{Property, TestCase, TestSuite};
    let mut suite = TestSuite::new(format!("{} (env {})", r.lab, r.env));
    suite.add_properties([
        Property::new("schema_version", r.schema_version.to_string()),
        Property::new("stage", r.stage),
        Property::new("score", r.score.to_string()),
        Property::new("max_score", r.max_score.to_string()),
    ]);
    if let Some(prefix) = &r.name_prefix {
        suite.add_property(Property::new("name_prefix", prefix.clone()));
    }
    for c in &r.checks {
        let mut case = TestCase::new(format!("{}: {}", c.id, c.title), junit_status(c));
        case.set_classname(r.lab.clone());
        case.add_properties([
            Property::new("id", c.id.clone()),
            Property::new("points", c.points.to_string()),
            Property::new("max_points", c.max_points.to_string()),
        ]);
        if let Some(f) = &c.found_by {
            let method = match f.method {
                Method::Tags => "tags",
                Method::Name => "name",
                Method::Relation => "relation",
            };
            case.add_properties([
                Property::new("found_id", f.id.clone()),
                Property::new("found_by", method),
                Property::new("found_how", f.how.clone()),
            ]);
        }
        suite.add_test_case(case);
    }
    let mut report = quick_junit::Report::new("awslab check");
    report.add_test_suite(suite);
    report
        .to_string()
        .map_err(|e| Error::usage(format!("cannot write the JUnit report: {e}"), None))
}

pub fn plan(p: &Printer, plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}",
        p.bold(&format!("plan {} (env {})", plan.lab, plan.env))
    );
    for i in &plan.items {
        let (mark, what) = match i.verb {
            Verb::Create => (p.green("+"), "create".to_owned()),
            Verb::Update => ("~".to_owned(), "update".to_owned()),
            Verb::Keep => (p.dim("="), "exists".to_owned()),
            Verb::Delete => (p.red("-"), "delete".to_owned()),
        };
        let id =
            i.id.as_deref()
                .map(|id| format!(" {id}"))
                .unwrap_or_default();
        let _ = writeln!(s, "{mark} {what} {} ({}){id}", i.name, i.kind);
        for c in &i.changes {
            let _ = writeln!(s, "    {}: {} -> {}", c.key, c.found, c.expected);
        }
    }
    let _ = writeln!(
        s,
        "{} to create, {} to update, {} unchanged",
        plan.count(Verb::Create),
        plan.count(Verb::Update),
        plan.count(Verb::Keep)
    );
    s
}

pub fn list(labs: &[Lab]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(vec!["ID", "TITLE", "RESOURCES", "CHECKS", "$/HOUR"]);
    for l in labs {
        t.add_row(vec![
            l.id.clone(),
            l.title.clone(),
            l.resources.len().to_string(),
            (l.checks.len()).to_string(),
            format!(
                "~{}",
                Dollars(cost::of_lab(l, crate::lab::StageSel::Full).per_hour())
            ),
        ]);
    }
    format!(
        "{t}\n$/HOUR: while up, us-east-1 prices of {} (awslab cost <lab> for details)\n",
        cost::PRICES_DATE
    )
}

/// The lab environments table of `status` and `sweep`.
pub fn status(p: &Printer, envs: &[EnvStatus], now: std::time::SystemTime) -> String {
    if envs.is_empty() {
        return "no lab environments (nothing tagged awslab:lab)\n".to_owned();
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    // The account, when several were looked at (`--roster`).
    let accounts = envs.iter().any(|e| e.account.is_some());
    let mut header = vec!["LAB", "ENV"];
    if accounts {
        header.push("ACCOUNT");
    }
    header.extend(["REGION", "RESOURCES", "AGE", "EXPIRES", "$/HOUR", "SPENT"]);
    t.set_header(header);
    for e in envs {
        let age = match e.age(now) {
            None => "-".to_owned(),
            Some(a) if a.as_secs() < 60 => "<1m".to_owned(),
            Some(a) => {
                humantime::format_duration(std::time::Duration::from_secs(a.as_secs() / 60 * 60))
                    .to_string()
            }
        };
        let expires = match (&e.expires_at, e.expired(now)) {
            (None, _) => "-".to_owned(),
            (Some(at), true) => p.red(&format!("{at} (expired)")),
            (Some(at), false) => at.clone(),
        };
        // Spent so far, against the budget when there is one.
        let spent = match e.budget {
            None => format!("~{}", Dollars(e.spent)),
            Some(b) if e.over_budget() => {
                p.red(&format!("~{} of ${b:.2} (over)", Dollars(e.spent)))
            }
            Some(b) => format!("~{} of ${b:.2}", Dollars(e.spent)),
        };
        let mut row = vec![e.lab.clone(), e.env.clone()];
        if accounts {
            row.push(e.account.clone().unwrap_or_default());
        }
        row.extend([
            e.region.clone(),
            e.resources.to_string(),
            age,
            expires,
            format!("~{}", Dollars(e.per_hour)),
            spent,
        ]);
        t.add_row(row);
    }
    let total: f64 = envs.iter().map(|e| e.per_hour).sum();
    // Stamps that are not a time count for nothing: say where they are.
    let unreadable: String = envs
        .iter()
        .flat_map(|e| {
            e.unreadable_expiry.iter().map(move |b| {
                format!(
                    "{} env {} in {}: awslab:expires-at `{}` on {} ({}) is not a time: ignored\n",
                    e.lab, e.env, e.region, b.value, b.name, b.id
                )
            })
        })
        .collect();
    // Storage that outlives what made it: the charge students miss.
    let kept: String = envs
        .iter()
        .flat_map(|e| {
            e.kept.iter().map(move |k| {
                format!(
                    "{} env {} in {}: {} {}{} ({} GB) bill ~{}/month until deleted: awslab down {} --env {}\n",
                    e.lab,
                    e.env,
                    e.region,
                    k.count,
                    k.what,
                    if k.count == 1 { "" } else { "s" },
                    k.gib,
                    Dollars(k.per_month),
                    e.lab,
                    e.env
                )
            })
        })
        .collect();
    format!(
        "{t}\n{unreadable}{kept}{} environment(s), ~{}/h now (prices of {})\n",
        envs.len(),
        Dollars(total),
        cost::PRICES_DATE
    )
}

/// `this lab costs ~$0.077/h while up (NAT gateway $0.045/h, ...)`.
pub fn cost_while_up(e: &Estimate) -> String {
    if e.per_hour() == 0.0 {
        return "this lab costs nothing per hour while up (no NAT gateway, address or instance)"
            .to_owned();
    }
    format!(
        "this lab costs ~{}/h while up (~{}/day); run `awslab down` when done",
        Dollars(e.per_hour()),
        Dollars(e.per_hour() * 24.0)
    )
}

/// `down stopped ~$0.077/h`, and what is left still costs.
pub fn cost_after_down(stopped: &Estimate, still: &Estimate) -> String {
    let mut s = format!("down stopped ~{}/h", Dollars(stopped.per_hour()));
    if still.per_hour() > 0.0 {
        let _ = write!(
            s,
            "; what is left still costs ~{}/h",
            Dollars(still.per_hour())
        );
    }
    s
}

/// The cost table of a lab.
pub fn cost(lab: &Lab, e: &Estimate, hours: Option<f64>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(vec!["RESOURCE", "$/HOUR"]);
    for l in &e.lines {
        t.add_row(vec![l.what.clone(), format!("{:.4}", l.per_hour)]);
    }
    let mut s = format!("{t}\n");
    let _ = writeln!(
        s,
        "{}: ~{}/hour, ~{}/day, ~{}/month while up",
        lab.id,
        Dollars(e.per_hour()),
        Dollars(e.per_hour() * 24.0),
        Dollars(e.per_hour() * cost::HOURS_PER_MONTH)
    );
    if let Some(h) = hours {
        let _ = writeln!(s, "for {h} hours: ~{}", Dollars(e.per_hour() * h));
    }
    for u in &e.unknown {
        let _ = writeln!(s, "not priced (counted as free): {u}");
    }
    let _ = writeln!(s, "prices of {}: {}", cost::PRICES_DATE, cost::ASSUMPTIONS);
    s
}

pub fn show(p: &Printer, lab: &Lab) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", p.bold(&format!("{} — {}", lab.id, lab.title)));
    if !lab.summary.is_empty() {
        let _ = writeln!(s, "{}", lab.summary);
    }
    if let Some(src) = &lab.source {
        let _ = writeln!(s, "source: {src}");
    }
    if !lab.params.is_empty() {
        let _ = writeln!(s, "\nparameters (--set NAME=VALUE):");
        for (k, v) in &lab.params {
            let default = match v.default_from {
                Some(crate::lab::DefaultFrom::CallerIp) => {
                    format!("this machine's public address /32, else {}", v.default)
                }
                None => v.default.clone(),
            };
            let _ = writeln!(
                s,
                "  {k} = {} (default {default}) {}",
                v.value,
                p.dim(&v.description)
            );
        }
    }
    let _ = writeln!(s, "\n{}", p.bold("instructions"));
    let _ = writeln!(s, "{}", lab.instructions.trim_end());
    let _ = writeln!(s, "\n{}", p.bold("resources"));
    for r in &lab.resources {
        let stage = match r.stage {
            crate::lab::Stage::Setup => " [setup]",
            crate::lab::Stage::Solution => "",
        };
        let _ = writeln!(s, "  {} ({}){stage}", r.name, r.kind());
    }
    let _ = writeln!(
        s,
        "\ncost: ~{}/h while up (awslab cost {} for details)",
        Dollars(cost::of_lab(lab, crate::lab::StageSel::Full).per_hour()),
        lab.id
    );
    if !lab.checks.is_empty() {
        let _ = writeln!(s, "\n{}", p.bold("checks"));
        for c in &lab.checks {
            let _ = writeln!(s, "  {} [{} pt]: {}", c.id, c.points, c.title);
        }
    }
    s
}

pub fn stats(command: &str, st: &StatsSummary, elapsed: std::time::Duration) -> String {
    let mut s = format!(
        "{command}: {} API calls, {} retries, {:.1}s\n",
        st.calls,
        st.retries,
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "  throttled {} times; {:.1}s waited for the request budget; {} not visible yet, asked again",
        st.throttled,
        st.budget_wait.as_secs_f64(),
        st.not_visible
    );
    for (op, c) in &st.by_operation {
        let _ = write!(s, "  {op} {}", c.calls);
        if c.retries() > 0 {
            let _ = write!(s, " (+{} retries)", c.retries());
        }
        if c.budget_wait_ms >= 100 {
            let _ = write!(
                s,
                " ({:.1}s waited for the budget)",
                c.budget_wait_ms as f64 / 1000.0
            );
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{junit, report};
    use crate::check::{CheckResult, FoundBy, Report};
    use crate::ui::Printer;

    #[test]
    fn check_report_text() {
        let p = Printer::plain();
        let mut routes = CheckResult::fail(
            "private-rt.routes".into(),
            "route table `private-rt` routes".into(),
            1,
            "expected 0.0.0.0/0 -> lab-nat, found 0.0.0.0/0 -> lab-igw".into(),
            "set routes of `private-rt` to: 0.0.0.0/0 -> lab-nat".into(),
        );
        routes.expected = Some("0.0.0.0/0 -> lab-nat".into());
        routes.found = Some("0.0.0.0/0 -> lab-igw".into());
        let mut vpc = CheckResult::pass(
            "lab-vpc".into(),
            "VPC `lab-vpc` exists".into(),
            1,
            "found vpc-1 (by Name tag `bob-lab-vpc`)".into(),
        );
        vpc.found_by = Some(FoundBy::name("vpc-1", "Name tag", "bob-lab-vpc"));
        let mut r = Report::new(
            "vpc-public-private".into(),
            "bob".into(),
            crate::lab::StageSel::Full,
            vec![
                vpc,
                routes,
                CheckResult::fail(
                    "private-subnets".into(),
                    "private-a and private-b are private".into(),
                    2,
                    "private-a: route table private-rt sends 0.0.0.0/0 to internet gateway lab-igw, so the subnet is public".into(),
                    "route 0.0.0.0/0 to the NAT gateway instead".into(),
                ),
            ],
        );
        r.name_prefix = Some("bob-".into());
        insta::assert_snapshot!(report(&p, &r));
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["name_prefix"], "bob-");
        assert_eq!(json["checks"][0]["found_by"]["method"], "name");
        assert_eq!(json["checks"][0]["found_by"]["name"], "bob-lab-vpc");
        assert_eq!(json["checks"][0]["found_by"]["id"], "vpc-1");
        assert!(json["checks"][1].get("found_by").is_none());
        assert_eq!(json["score"], 1);
        assert_eq!(json["max_score"], 4);
        assert_eq!(json["checks"][1]["status"], "fail");
        assert_eq!(json["checks"][1]["max_points"], 1);
    }

    #[test]
    fn junit_report() {
        let mut fail = CheckResult::fail(
            "ssh-bastion-to-app".into(),
            "The bastion can SSH to the app server".into(),
            2,
            "bastion -> app is blocked: NACL private-nacl (acl-1) rule 50 denies TCP 22 inbound to private-a from 10.0.1.10 (50 deny tcp 22 0.0.0.0/0)".into(),
            "app-sg must allow TCP 22 from bastion-sg & private-nacl must allow <22> in".into(),
        );
        fail.expected = Some("TCP 22 from bastion gets to app".into());
        fail.found = Some(fail.message.clone());
        let r = Report::new(
            "vpc-public-private".into(),
            "alice".into(),
            crate::lab::StageSel::Full,
            vec![
                {
                    let mut vpc = CheckResult::pass(
                        "lab-vpc".into(),
                        "VPC `lab-vpc` exists".into(),
                        1,
                        "found vpc-1 (by awslab tags)".into(),
                    );
                    vpc.found_by = Some(FoundBy::tags("vpc-1"));
                    vpc
                },
                {
                    let mut key = CheckResult::pass(
                        "lab-key".into(),
                        "key pair `lab-key` exists".into(),
                        1,
                        "found key-1 (by key name `lab-key`)".into(),
                    );
                    key.found_by = Some(FoundBy::name("key-1", "key name", "lab-key"));
                    key
                },
                fail,
                CheckResult::skip(
                    "ssh-to-bastion.live".into(),
                    "SSH from the internet reaches the bastion (live)".into(),
                    "not run: add --live to also connect from this machine".into(),
                ),
            ],
        );
        let xml = junit(&r).expect("junit");
        insta::assert_snapshot!(xml);
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("invalid XML: {e}"),
            }
        }
    }

    #[test]
    fn status_and_cost_text() {
        use crate::engine::fleet::EnvStatus;
        let p = Printer::plain();
        let now = humantime::parse_rfc3339("2026-11-23T12:00:00Z").expect("time");
        let env = |lab: &str, env: &str, created: Option<&str>, expires: Option<&str>, per_hour| {
            EnvStatus {
                lab: lab.into(),
                env: env.into(),
                region: "us-east-1".into(),
                resources: 16,
                created_at: created.map(Into::into),
                expires_at: expires.map(Into::into),
                unreadable_expiry: Vec::new(),
                per_hour,
                spent: per_hour * 2.5,
                budget: None,
                account: None,
                kept: Vec::new(),
                items: Vec::new(),
            }
        };
        let envs = vec![
            EnvStatus {
                budget: Some(0.15),
                ..env(
                    "vpc-public-private",
                    "alice",
                    Some("2026-11-23T09:30:00Z"),
                    Some("2026-11-23T11:00:00Z"),
                    0.0775,
                )
            },
            EnvStatus {
                budget: Some(5.0),
                ..env(
                    "efs-shared-storage",
                    "bob",
                    Some("2026-11-23T11:59:30Z"),
                    None,
                    0.033,
                )
            },
            env(
                "efs-shared-storage",
                "carol",
                None,
                Some("2026-11-24T12:00:00Z"),
                0.0,
            ),
            // An image deregistered by hand: its snapshot and the data snapshot still bill.
            EnvStatus {
                resources: 2,
                kept: vec![crate::engine::fleet::KeptStorage {
                    what: "EBS snapshot",
                    count: 2,
                    gib: 9,
                    per_month: 9.0 * crate::cost::SNAPSHOT_GB_MONTH,
                }],
                ..env(
                    "golden-ami",
                    "dave",
                    Some("2026-11-22T12:00:00Z"),
                    None,
                    9.0 * crate::cost::SNAPSHOT_GB_MONTH / crate::cost::HOURS_PER_MONTH,
                )
            },
        ];
        insta::assert_snapshot!("status", super::status(&p, &envs, now));
        let lab = crate::lab::catalog::load_lab("vpc-public-private", &Default::default())
            .expect("lab")
            .lab;
        let estimate = crate::cost::of_lab(&lab, crate::lab::StageSel::Full);
        insta::assert_snapshot!("cost", super::cost(&lab, &estimate, Some(3.0)));
        // The image lab: the snapshots bill by the GB-month until deleted.
        let golden = crate::lab::catalog::load_lab("golden-ami", &Default::default())
            .expect("lab")
            .lab;
        let golden_estimate = crate::cost::of_lab(&golden, crate::lab::StageSel::Full);
        insta::assert_snapshot!(
            "cost_golden_ami",
            super::cost(&golden, &golden_estimate, None)
        );
        assert_eq!(
            super::cost_while_up(&estimate),
            "this lab costs ~$0.078/h while up (~$1.861/day); run `awslab down` when done"
        );
    }
}
