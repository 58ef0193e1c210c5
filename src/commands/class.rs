//! A class at once (`--roster`): every student's env, each through the profile, role and region
//! the roster gives them, several at once (`--jobs`), sharing one request budget per account and
//! region. Who acts where (account id, alias, region) is shown and guarded per account before
//! anything is created or deleted; one student's failure never stops the others, and the summary
//! names who failed and why.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures::StreamExt;
use futures::future::join_all;

use super::fleet::{Looked, SweepArgs, environments, sweep_targets};
use super::{Provisioned, UpArgs, engine_options, provision, write_report};
use crate::aws::config::AssumeRole;
use crate::aws::tags::Owner;
use crate::aws::{self, Aws, AwsSettings, CallStats};
use crate::check::{self, Names};
use crate::engine::fleet::EnvStatus;
use crate::engine::{Prefixed, teardown};
use crate::error::{Error, exit};
use crate::gradebook::{self, Gradebook, StudentOutcome, StudentRow};
use crate::lab::{Lab, StageSel};
use crate::roster::{self, Student};
use crate::settings::{Class, Format, ReportFormat, Settings};
use crate::ui::class::{self as view, Line};
use crate::ui::{Printer, TermReporter, render};

/// One student, connected: the clients of their account and region, and who that account is.
pub struct Seat {
    pub student: Student,
    pub aws: Aws,
    /// The account id, or why it could not be had (credentials, the role).
    pub account: Result<String, String>,
    pub alias: Option<String>,
}

impl Line {
    fn of(seat: &Seat, ok: bool, detail: String) -> Line {
        Line {
            env: seat.student.env.clone(),
            name: seat.student.name.clone(),
            account: seat.account.as_ref().ok().cloned(),
            region: seat.aws.region.clone(),
            ok,
            detail,
        }
    }
}

impl Seat {
    fn owner(&self, lab: &str) -> Owner {
        Owner::new(lab, &self.student.env)
    }

    /// How awslab reaches the account: the role, the profile, or the default credentials.
    pub fn via(&self) -> String {
        match (&self.student.role, &self.aws.settings.profile) {
            (Some(role), _) => format!("role {}", role.arn.rsplit('/').next().unwrap_or("?")),
            (None, Some(profile)) => format!("profile {profile}"),
            (None, None) => "default credentials".to_owned(),
        }
    }
}

/// The role session name CloudTrail shows for a student: `awslab-<env>`, at most 64 characters.
fn session_name(env: &str) -> String {
    let mut name = format!("awslab-{env}");
    name.truncate(64);
    name
}

/// The settings a student's env is reached with: the roster's profile, role and region over the
/// command line's.
fn settings_of(base: &AwsSettings, student: &Student) -> AwsSettings {
    AwsSettings {
        profile: student.profile.clone().or_else(|| base.profile.clone()),
        region: student.region.clone().or_else(|| base.region.clone()),
        role: student.role.as_ref().map(|r| AssumeRole {
            arn: r.arn.clone(),
            external_id: r.external_id.clone(),
            session_name: session_name(&student.env),
        }),
        ..base.clone()
    }
}

/// The roster's students (those `--only` names), connected, their accounts asked once per set of
/// credentials, shown in a table. With `guard`, each account is checked against the allow-list
/// and the production guard, and the user confirms (unless `--yes`).
async fn seats(
    s: &Settings,
    p: &Printer,
    class: &Class,
    guard: Option<(&str, bool, bool)>,
) -> Result<(Vec<Seat>, Arc<CallStats>), Error> {
    let roster = roster::load(&class.roster)?.only(&class.only)?;
    let stats = Arc::new(CallStats::default());
    // Students reached the same way share clients, and so one credentials cache.
    let mut clients: BTreeMap<String, Aws> = BTreeMap::new();
    let mut keys = Vec::new();
    for student in &roster.students {
        let settings = settings_of(&s.aws, student);
        let key = format!(
            "{:?}|{:?}|{:?}",
            settings.profile, settings.region, settings.role
        );
        if !clients.contains_key(&key) {
            let aws = aws::config::connect_counting(&settings, Arc::clone(&stats)).await;
            clients.insert(key.clone(), aws);
        }
        keys.push(key);
    }
    let accounts: BTreeMap<String, Result<String, String>> = join_all(
        clients
            .iter()
            .map(|(key, aws)| async move { (key.clone(), aws.account_id().await) }),
    )
    .await
    .into_iter()
    .map(|(k, r)| (k, r.map_err(|e| e.to_string())))
    .collect();
    // Clients again, now that their accounts are known: one request budget per account and
    // region, whichever profile or role reaches it.
    for (key, aws) in clients.iter_mut() {
        if let Some(Ok(id)) = accounts.get(key) {
            let settings = AwsSettings {
                account: Some(id.clone()),
                ..aws.settings.clone()
            };
            let again = aws::config::connect_counting(&settings, Arc::clone(&stats)).await;
            let _ = again.account.set(id.clone());
            *aws = again;
        }
    }
    // One alias look-up per account.
    let mut first_client: BTreeMap<String, &Aws> = BTreeMap::new();
    for (key, aws) in &clients {
        if let Some(Ok(id)) = accounts.get(key) {
            first_client.entry(id.clone()).or_insert(aws);
        }
    }
    let aliases: BTreeMap<String, Option<String>> =
        join_all(first_client.iter().map(|(id, aws)| async move {
            let alias = aws
                .account_aliases()
                .await
                .ok()
                .and_then(|a| a.into_iter().next());
            (id.clone(), alias)
        }))
        .await
        .into_iter()
        .collect();
    let seats: Vec<Seat> = roster
        .students
        .into_iter()
        .zip(keys)
        .map(|(student, key)| {
            let account = accounts
                .get(&key)
                .cloned()
                .unwrap_or_else(|| Err("not connected".to_owned()));
            let alias = account
                .as_ref()
                .ok()
                .and_then(|id| aliases.get(id).cloned().flatten());
            Seat {
                aws: clients[&key].clone(),
                student,
                account,
                alias,
            }
        })
        .collect();
    let rows: Vec<view::SeatRow> = seats
        .iter()
        .map(|st| view::SeatRow {
            env: st.student.env.clone(),
            name: st.student.name.clone(),
            account: st.account.clone(),
            alias: st.alias.clone(),
            region: st.aws.region.clone(),
            via: st.via(),
        })
        .collect();
    // On stderr: stdout keeps the command's own report.
    for line in view::seats(p, &rows).lines() {
        p.info(line);
    }
    if let Some((action, yes, force)) = guard {
        for (id, aws) in &first_client {
            let names: Vec<&str> = seats
                .iter()
                .filter(|st| st.account.as_deref() == Ok(id.as_str()))
                .map(|st| st.student.env.as_str())
                .collect();
            let what = format!("{action} of {}", names.join(", "));
            if let Some(warning) =
                crate::guard::check(aws, id, &what, s.allowed_accounts.as_ref(), force).await?
            {
                p.warn(&warning);
            }
        }
        confirm(p, action, seats.len(), yes)?;
    }
    Ok((seats, stats))
}

/// Asks once for the whole class, unless `--yes`; refuses without a terminal rather than hang.
fn confirm(p: &Printer, action: &str, students: usize, yes: bool) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    let what = format!("{action} for {students} student(s)");
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            format!("refusing to {what} without confirmation: stdin is not a terminal"),
            Some("pass --yes to confirm non-interactively"),
        ));
    }
    if p.confirm(&format!("{what}: continue?")) {
        Ok(())
    } else {
        Err(Error::usage("cancelled", None))
    }
}

/// Runs `work` for every seat whose account is known, at most `jobs` at once, in roster order;
/// a seat whose credentials failed gets that error without running.
async fn each<'a, T, F, Fut>(seats: &'a [Seat], jobs: usize, work: F) -> Vec<Result<T, String>>
where
    F: Fn(&'a Seat, &'a str) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + 'a,
{
    let work = &work;
    // Unordered: a slow student does not hold a slot once the others are done.
    let mut done: Vec<(usize, Result<T, String>)> =
        futures::stream::iter(seats.iter().enumerate().map(|(i, seat)| async move {
            let r = match &seat.account {
                Ok(account) => work(seat, account).await,
                Err(e) => Err(format!("cannot act as this student: {e}")),
            };
            (i, r)
        }))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The class's result: 0 when every student succeeded, else an error naming who did not.
fn verdict(what: &str, lines: &[Line], again: &str) -> Result<u8, Error> {
    let failed: Vec<&Line> = lines.iter().filter(|l| !l.ok).collect();
    if failed.is_empty() {
        return Ok(exit::OK);
    }
    let only: Vec<&str> = failed.iter().map(|l| l.env.as_str()).collect();
    Err(Error::Incomplete {
        what: what.to_owned(),
        summary: format!("{} of {} student(s) failed", failed.len(), lines.len()),
        detail: failed
            .iter()
            .map(|l| format!("{}: {}", l.env, l.detail))
            .chain(std::iter::once(format!(
                "once the cause is fixed, run the same `{again}` again with `--only {}`: it does only what is left",
                only.join(",")
            )))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// `up --roster`: the quota preflight for the whole class, then every student's env.
pub async fn up(
    s: &Settings,
    p: &Printer,
    lab: &Lab,
    args: &UpArgs,
    class: &Class,
    jobs: usize,
) -> Result<u8, Error> {
    let action = format!("create lab {} ({})", lab.id, args.stage_text());
    let (seats, stats_) = seats(s, p, class, Some((&action, args.yes, args.force))).await?;
    // Per account and region: what could not be read there stops its students only.
    let mut unread: BTreeMap<(String, String), String> = BTreeMap::new();
    if !args.skip_preflight {
        let mut groups: BTreeMap<(String, String), (&Aws, Vec<Owner>)> = BTreeMap::new();
        for seat in &seats {
            if let Ok(account) = &seat.account {
                groups
                    .entry((account.clone(), seat.aws.region.clone()))
                    .or_insert((&seat.aws, Vec::new()))
                    .1
                    .push(seat.owner(&lab.id));
            }
        }
        // All at once, so account-wide quotas add up across regions; only when that cannot be
        // read, each account and region alone, to stop only the students of what failed.
        let all: Vec<crate::quota::Target<'_>> = groups
            .iter()
            .map(|((account, _), (aws, envs))| crate::quota::Target {
                aws,
                account: account.clone(),
                lab,
                stage: args.stage,
                envs: envs.clone(),
            })
            .collect();
        let whole = crate::quota::preflight(&all).await;
        let read = match whole {
            Ok(pf) => vec![(None, Ok(pf))],
            Err(_) => {
                join_all(groups.into_iter().map(|(key, (aws, envs))| async move {
                    let pf = quota_of(aws, &key.0, envs, lab, args.stage).await;
                    (Some(key), pf)
                }))
                .await
            }
        };
        let mut found = Vec::new();
        for (key, pf) in read {
            match pf {
                Ok(pf) => found.push(pf),
                Err(e) => {
                    if let Some(key) = key {
                        p.warn(&format!(
                            "quota preflight: cannot read account {} in {}: {e}",
                            key.0, key.1
                        ));
                        unread.insert(key, e.to_string());
                    }
                }
            }
        }
        refuse_if_short(p, &found)?;
    }
    let started = Instant::now();
    let reporter = TermReporter::new(p);
    let unread = &unread;
    let results = each(&seats, jobs, |seat, account| {
        let reporter = &reporter;
        async move {
            if let Some(e) = unread.get(&(account.to_owned(), seat.aws.region.clone())) {
                return Err(format!("quota preflight failed: {e}"));
            }
            let prefixed = Prefixed {
                inner: reporter,
                label: seat.student.env.clone(),
            };
            provision(
                s,
                &seat.aws,
                account,
                lab,
                &seat.student.env,
                args,
                &prefixed,
            )
            .await
            .map_err(|e| e.to_string())
        }
    })
    .await;
    let lines: Vec<Line> = seats
        .iter()
        .zip(&results)
        .map(|(seat, r)| match r {
            Ok(done) => Line::of(seat, done.complete(), up_text(done)),
            Err(e) => Line::of(seat, false, e.clone()),
        })
        .collect();
    for (seat, r) in seats.iter().zip(&results) {
        if let Ok(done) = r {
            for (name, url) in &done.urls {
                p.info(&format!("{}: {name}: {url}", seat.student.env));
            }
        }
    }
    if p.format == Format::Json {
        p.json(&view::class_json(&lab.id, "up", &lines));
    } else {
        p.out(&view::lines(p, "up", &lines));
    }
    p.info(&format!(
        "up {} for {} student(s) in {:.1}s, {jobs} at a time",
        lab.id,
        seats.len(),
        started.elapsed().as_secs_f64()
    ));
    stats_summary(p, "up", &stats_, started);
    verdict(&format!("up {}", lab.id), &lines, "awslab up")
}

fn up_text(done: &Provisioned) -> String {
    use crate::engine::Verb;
    let o = &done.outcome;
    let counts = format!(
        "{} created, {} updated, {} unchanged",
        o.count(Verb::Create),
        o.count(Verb::Update),
        o.count(Verb::Keep)
    );
    if done.complete() {
        counts
    } else {
        format!("{counts}; {}", done.detail().replace('\n', "; "))
    }
}

/// What `check --roster` is asked.
pub struct CheckArgs {
    pub stage: StageSel,
    pub output: Vec<(PathBuf, ReportFormat)>,
    pub live: bool,
    /// `--name-prefix` as written: the prefix of students the roster gives none.
    pub name_prefix: Option<String>,
}

/// `check --roster`: every student graded, then one gradebook for the class.
pub async fn check(
    s: &Settings,
    p: &Printer,
    lab: &Lab,
    args: CheckArgs,
    class: &Class,
    jobs: usize,
) -> Result<u8, Error> {
    let (seats, stats_) = seats(s, p, class, None).await?;
    // Live checks run commands on instances: with an allow-list, only in its accounts.
    if args.live {
        let mut accounts: BTreeMap<&str, &Aws> = BTreeMap::new();
        for seat in &seats {
            if let Ok(a) = &seat.account {
                accounts.entry(a).or_insert(&seat.aws);
            }
        }
        for aws in accounts.values() {
            crate::guard::check_allowed(
                aws,
                &format!("run live checks of {}", lab.id),
                s.allowed_accounts.as_ref(),
            )
            .await?;
        }
    }
    let started = Instant::now();
    let results = each(&seats, jobs, |seat, _account| {
        let fallback = args.name_prefix.as_ref();
        async move {
            let names = match seat.student.name_prefix.as_ref().or(fallback) {
                Some(prefix) => Names::parse(prefix, &seat.student.env)
                    .map_err(|e| format!("name prefix `{prefix}`: {e}"))?,
                None => Names::unprefixed(),
            };
            let live = match (args.live, seat.aws.is_emulator()) {
                (false, _) => check::Live::Off,
                (true, true) => check::Live::Emulator,
                (true, false) => check::Live::On,
            };
            let opts = check::CheckOptions {
                stage: args.stage,
                live,
                names,
            };
            check::check(&seat.aws, lab, opts, &seat.owner(&lab.id))
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
    let rows: Vec<StudentRow> = seats
        .iter()
        .zip(results)
        .map(|(seat, r)| StudentRow {
            name: if seat.student.name == seat.student.env {
                seat.student.env.clone()
            } else {
                format!("{} ({})", seat.student.name, seat.student.env)
            },
            account: seat.account.as_ref().ok().cloned(),
            region: Some(seat.aws.region.clone()),
            outcome: match r {
                Ok(report) => StudentOutcome::Graded(report),
                Err(error) => StudentOutcome::NotGraded { error },
            },
        })
        .collect();
    let book = Gradebook::new(
        lab.id.clone(),
        args.stage,
        crate::engine::fleet::timestamp(SystemTime::now()),
        rows,
    );
    match p.format {
        Format::Json => p.json(&book),
        Format::Junit => p.out(&gradebook::junit(&book)?),
        Format::Text => p.out(&view::gradebook(p, &book)),
    }
    for (path, format) in &args.output {
        let text = match format {
            ReportFormat::Json => gradebook::json(&book)?,
            ReportFormat::Junit => gradebook::junit(&book)?,
            ReportFormat::Csv => gradebook::csv(&book)?,
            ReportFormat::Html => gradebook::html(&book),
        };
        write_report(path, &text)?;
        p.info(&format!("gradebook written to {}", path.display()));
    }
    stats_summary(p, "check", &stats_, started);
    let all_passed = book.students.iter().all(|row| match &row.outcome {
        StudentOutcome::Graded(r) => r.passed(),
        StudentOutcome::NotGraded { .. } => false,
    });
    Ok(if all_passed { exit::OK } else { exit::FAILED })
}

/// `down --roster`: every student's env torn down at once.
pub async fn down(
    s: &Settings,
    p: &Printer,
    id: &str,
    yes: bool,
    force: bool,
    class: &Class,
    jobs: usize,
) -> Result<u8, Error> {
    let action = format!("delete everything of lab {id}");
    let (seats, stats_) = seats(s, p, class, Some((&action, yes, force))).await?;
    let started = Instant::now();
    let reporter = TermReporter::new(p);
    let opts = engine_options(s);
    let reachable: Vec<&Seat> = seats.iter().filter(|st| st.account.is_ok()).collect();
    let envs: Vec<teardown::Env<'_>> = reachable
        .iter()
        .map(|seat| teardown::Env {
            aws: &seat.aws,
            owner: seat.owner(id),
        })
        .collect();
    let mut outcomes = teardown::teardown(&envs, jobs, &opts, &reporter)
        .await
        .into_iter();
    let lines: Vec<Line> = seats
        .iter()
        .map(|seat| match &seat.account {
            Err(e) => Line::of(seat, false, format!("cannot act as this student: {e}")),
            Ok(_) => match outcomes.next() {
                Some(Ok(o)) => {
                    let ok = o.left.is_empty() && o.not_looked_at.is_empty();
                    let mut text = format!("{} deleted, {} left", o.deleted.len(), o.left.len());
                    for (n, k, rid, why) in &o.left {
                        text.push_str(&format!("; {n} ({k} {rid}): {why}"));
                    }
                    for u in &o.not_looked_at {
                        text.push_str(&format!("; {} not looked at: {}", u.kind, u.error));
                    }
                    Line::of(seat, ok, text)
                }
                Some(Err(e)) => Line::of(seat, false, e.to_string()),
                None => Line::of(seat, false, "not torn down".to_owned()),
            },
        })
        .collect();
    if p.format == Format::Json {
        p.json(&view::class_json(id, "down", &lines));
    } else {
        p.out(&view::lines(p, "down", &lines));
    }
    p.info(&format!(
        "down {id} for {} student(s) in {:.1}s, {jobs} at a time",
        seats.len(),
        started.elapsed().as_secs_f64()
    ));
    stats_summary(p, "down", &stats_, started);
    verdict(&format!("down {id}"), &lines, "awslab down")
}

/// The lab environments of the roster's students, in each account and region they use, with
/// their account; what could not be looked at is said (once) and returned.
async fn class_envs(p: &Printer, seats: &[Seat]) -> ClassEnvs {
    // One look per account and region.
    let mut places: BTreeMap<(String, String), &Aws> = BTreeMap::new();
    let mut not_looked_at = Vec::new();
    let mut unreachable = 0;
    for seat in seats {
        match &seat.account {
            Ok(a) => {
                places
                    .entry((a.clone(), seat.aws.region.clone()))
                    .or_insert(&seat.aws);
            }
            Err(e) => {
                let n = format!("{}: {e}", seat.student.env);
                p.warn(&format!("not looked at: {n}"));
                not_looked_at.push(n);
                unreachable += 1;
            }
        }
    }
    let looked = join_all(places.iter().map(|((account, region), aws)| async move {
        let r = environments(p, aws, std::slice::from_ref(*aws), false).await;
        (account, region, *aws, r)
    }))
    .await;
    let mut out = Vec::new();
    for (account, region, aws, r) in looked {
        match r {
            Ok(Looked {
                envs,
                not_looked_at: missed,
            }) => {
                not_looked_at.extend(missed.into_iter().map(|m| format!("{account}: {m}")));
                for mut e in envs {
                    let ours = seats.iter().any(|st| {
                        st.student.env == e.env
                            && st.account.as_deref() == Ok(account.as_str())
                            && st.aws.region == *region
                    });
                    if ours {
                        e.account = Some(account.clone());
                        out.push((e, aws.clone()));
                    }
                }
            }
            Err(e) => {
                let n = format!("{account} in {region}: {e}");
                p.warn(&format!("not looked at: {n}"));
                not_looked_at.push(n);
                unreachable += 1;
            }
        }
    }
    ClassEnvs {
        envs: out,
        not_looked_at,
        unreachable,
    }
}

/// What `status` and `sweep` found of a class.
struct ClassEnvs {
    /// Each env with the client of its account and region.
    envs: Vec<(EnvStatus, Aws)>,
    not_looked_at: Vec<String>,
    /// Students, accounts or regions that could not be looked at at all.
    unreachable: usize,
}

/// `status --roster`: every student's environments, by account and region.
pub async fn status(s: &Settings, p: &Printer, class: &Class) -> Result<u8, Error> {
    let (seats, stats_) = seats(s, p, class, None).await?;
    let started = Instant::now();
    let ClassEnvs {
        envs,
        not_looked_at,
        ..
    } = class_envs(p, &seats).await;
    let envs: Vec<EnvStatus> = envs.into_iter().map(|(e, _)| e).collect();
    match p.format {
        Format::Json => p.json(&envs),
        Format::Text | Format::Junit => p.out(&render::status(p, &envs, SystemTime::now())),
    }
    stats_summary(p, "status", &stats_, started);
    Ok(if not_looked_at.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// `sweep --roster`: what `sweep` would take, in the students' accounts and regions, of their
/// envs only.
pub async fn sweep(s: &Settings, p: &Printer, args: SweepArgs, class: &Class) -> Result<u8, Error> {
    let guard = args
        .yes
        .then(|| ("delete lab environments".to_owned(), true, args.force));
    let (seats, stats_) = seats(
        s,
        p,
        class,
        guard.as_ref().map(|(a, y, f)| (a.as_str(), *y, *f)),
    )
    .await?;
    let started = Instant::now();
    let now = SystemTime::now();
    let found = class_envs(p, &seats).await;
    let targets: Vec<(EnvStatus, Aws)> = found
        .envs
        .into_iter()
        .filter(|(e, _)| args.takes(e, now))
        .collect();
    let result = sweep_targets(s, p, &args, None, targets, found.not_looked_at).await;
    stats_summary(p, "sweep", &stats_, started);
    // What could not be looked at may still hold envs: the exit code says so.
    match result {
        Ok(exit::OK) if found.unreachable > 0 => Ok(exit::FAILED),
        other => other,
    }
}

fn stats_summary(p: &Printer, command: &str, stats_: &CallStats, started: Instant) {
    if p.stats {
        for line in render::stats(command, &stats_.summary(), started.elapsed()).lines() {
            p.info(line);
        }
    }
}

/// The quota preflight of `up` in one account and region: what `envs` (those not up yet) of the
/// lab need against the applied quotas and what is used now.
pub async fn quota_of(
    aws: &Aws,
    account: &str,
    envs: Vec<Owner>,
    lab: &Lab,
    stage: StageSel,
) -> Result<crate::quota::Preflight, aws::AwsError> {
    crate::quota::preflight(&[crate::quota::Target {
        aws,
        account: account.to_owned(),
        lab,
        stage,
        envs,
    }])
    .await
}

/// Refuses, with the table of every account and region, when one of them is short; else says
/// the quotas have room (the table with `-v`).
pub fn refuse_if_short(p: &Printer, found: &[crate::quota::Preflight]) -> Result<(), Error> {
    let refusal = found.iter().find_map(crate::quota::Preflight::refusal);
    if refusal.is_some() || p.verbose > 0 {
        for pf in found {
            for line in crate::ui::quota::preflight(p, pf).lines() {
                p.info(line);
            }
        }
    }
    match refusal {
        Some(r) => Err(Box::new(r).into()),
        None => {
            p.info("quota preflight: every quota has room");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_students_roster_settings_override_the_command_lines() {
        let base = AwsSettings {
            profile: Some("teacher".into()),
            region: Some("us-east-1".into()),
            ..AwsSettings::default()
        };
        let student = Student {
            env: "alice".into(),
            name: "Alice".into(),
            profile: None,
            role: Some(roster::Role {
                arn: "arn:aws:iam::111111111111:role/Lab".into(),
                external_id: Some("x".into()),
            }),
            region: Some("eu-west-1".into()),
            name_prefix: None,
        };
        let got = settings_of(&base, &student);
        assert_eq!(got.profile.as_deref(), Some("teacher"));
        assert_eq!(got.region.as_deref(), Some("eu-west-1"));
        let role = got.role.unwrap();
        assert_eq!(role.session_name, "awslab-alice");
        assert_eq!(role.account(), Some("111111111111"));
        assert_eq!(role.external_id.as_deref(), Some("x"));
        assert_eq!(session_name(&"x".repeat(80)).len(), 64);
    }
}
