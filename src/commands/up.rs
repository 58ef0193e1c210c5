//! `up` of one env: the quota preflight, provisioning with its stamps (created, expiry,
//! budget), and what the user is told after.

use std::time::Instant;

use super::{class, confirm, engine_options, stats};
use crate::aws::tags::{self, Owner};
use crate::aws::{self, Aws};
use crate::cost;
use crate::engine::{self, Verb};
use crate::error::{Error, exit};
use crate::lab::{Lab, StageSel};
use crate::settings::{Format, Settings};
use crate::ui::{Printer, TermReporter, render};

/// What `up` is asked to do, besides the lab.
pub struct UpArgs {
    pub stage: StageSel,
    pub yes: bool,
    pub force: bool,
    /// The `awslab:expires-at` stamp of `--ttl`.
    pub expires: Option<String>,
    pub budget: Option<f64>,
    pub skip_preflight: bool,
}

impl UpArgs {
    pub(super) fn stage_text(&self) -> &'static str {
        match self.stage {
            StageSel::Setup => "setup stage",
            StageSel::Full => "full solution",
        }
    }
}

/// What `up` did in one env.
pub struct Provisioned {
    pub owner: Owner,
    pub keys_dir: std::path::PathBuf,
    pub outcome: engine::apply::ApplyOutcome,
    /// Each load balancer's address and each bucket website's endpoint.
    pub urls: Vec<(String, String)>,
}

impl Provisioned {
    pub(super) fn complete(&self) -> bool {
        self.outcome.failed.is_empty() && self.outcome.skipped.is_empty()
    }

    /// The resources that could not be made, and why.
    pub(super) fn detail(&self) -> String {
        self.outcome
            .failed
            .iter()
            .map(|(n, e)| match &e.help {
                Some(h) => format!("{n}: {e}\n  {h}"),
                None => format!("{n}: {e}"),
            })
            .chain(
                self.outcome
                    .skipped
                    .iter()
                    .map(|(n, c)| format!("{n}: not attempted, {c} failed")),
            )
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Brings one env of `lab` up in the account `aws` reaches: stamps (created, expiry, budget) on
/// what it creates, and the expiry and budget on what was there already.
pub(super) async fn provision(
    s: &Settings,
    aws: &Aws,
    account: &str,
    lab: &Lab,
    env: &str,
    args: &UpArgs,
    reporter: &dyn engine::Reporter,
) -> Result<Provisioned, Error> {
    let mut opts = engine_options(s);
    opts.keys_dir = crate::resources::key_pair::key_dir(
        &opts.keys_dir,
        account,
        &aws.region,
        aws.endpoint.as_deref(),
    );
    let mut owner = Owner::new(&lab.id, env);
    let now = std::time::SystemTime::now();
    owner
        .stamps
        .push((tags::CREATED.to_owned(), engine::fleet::timestamp(now)));
    let budget = args.budget.map(|b| b.to_string());
    let restamp: Vec<(&str, &String)> = [
        (tags::EXPIRES, args.expires.as_ref()),
        (tags::BUDGET, budget.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect();
    for (key, value) in &restamp {
        owner.stamps.push(((*key).to_owned(), (*value).clone()));
    }
    let outcome = engine::apply::apply(aws, lab, args.stage, &owner, &opts, reporter).await?;
    // What existed before this run gets the new expiry and budget too.
    let items: Vec<crate::resources::Observed> =
        outcome.bound.iter().map(|(_, o)| o.clone()).collect();
    for (key, value) in &restamp {
        engine::fleet::stamp(aws, &items, key, value).await?;
    }
    let urls = outcome
        .bound
        .iter()
        .filter_map(|(name, o)| Some((name.clone(), crate::resources::url(o, &aws.region)?)))
        .collect();
    Ok(Provisioned {
        owner,
        keys_dir: opts.keys_dir,
        outcome,
        urls,
    })
}

pub(super) async fn up(s: &Settings, p: &Printer, lab: &Lab, args: &UpArgs) -> Result<u8, Error> {
    let aws = aws::connect(&s.aws).await;
    let account = confirm(
        p,
        s,
        &aws,
        &format!(
            "create lab {} ({}), env {}",
            lab.id,
            args.stage_text(),
            s.env
        ),
        args.yes,
        args.force,
    )
    .await?;
    if !args.skip_preflight {
        let envs = vec![Owner::new(&lab.id, &s.env)];
        let found = class::quota_of(&aws, &account, envs, lab, args.stage).await?;
        class::refuse_if_short(p, &[found])?;
    }
    let started = Instant::now();
    let reporter = TermReporter::new(p);
    let done = provision(s, &aws, &account, lab, &s.env, args, &reporter).await?;
    if let Some(at) = &args.expires {
        p.info(&format!(
            "expires at {at}: `awslab sweep --expired --yes` deletes it after that"
        ));
    }
    if let Some(b) = args.budget {
        p.info(&format!(
            "budget ${b:.2}: `awslab status` shows the spend so far, `awslab sweep --over-budget --yes` deletes the env past it"
        ));
    }
    let outcome = &done.outcome;
    let summary = format!(
        "up {}: {} created, {} updated, {} unchanged in {:.1}s",
        lab.id,
        outcome.count(Verb::Create),
        outcome.count(Verb::Update),
        outcome.count(Verb::Keep),
        started.elapsed().as_secs_f64()
    );
    if p.format == Format::Json {
        p.json(&engine::report::UpReport::of(
            &lab.id, &s.env, outcome, &done.urls,
        ));
    }
    p.info(&summary);
    p.info(&render::cost_while_up(&cost::of_lab(lab, args.stage)));
    after_up(p, &done.owner, &done.keys_dir, &outcome.bound);
    stats(p, "up", &aws, started);
    for (name, url) in &done.urls {
        let wait = lab
            .resource(name)
            .map_or("", |r| r.kind().handler().url_note());
        p.info(&format!("{name}: {url}{wait}"));
    }
    if done.complete() {
        p.info(&format!(
            "next: awslab check {} · when done: awslab down {}",
            lab.id, lab.id
        ));
        Ok(exit::OK)
    } else {
        Err(Error::Incomplete {
            what: format!("up {}", lab.id),
            summary: crate::error::incomplete_summary(&[(
                outcome.failed.len() + outcome.skipped.len(),
                "resource(s) could not be created",
            )]),
            detail: format!(
                "{}\nrun `awslab up {}` again to resume; it creates only what is missing",
                done.detail(),
                lab.id
            ),
        })
    }
}

/// What the kinds tell the user once `up` is done (where each key pair's private key is).
fn after_up(
    p: &Printer,
    owner: &Owner,
    keys_dir: &std::path::Path,
    bound: &crate::resources::Bindings,
) {
    use crate::resources::Notice;
    for (name, o) in bound.iter() {
        match o.kind.handler().after_up(name, o, owner, keys_dir) {
            Some(Notice::Info(text)) => p.info(&text),
            Some(Notice::Warn(text)) => p.warn(&text),
            None => {}
        }
    }
}
