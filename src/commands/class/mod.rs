//! A class at once (`--roster`): every student's env, each through the profile, role and region
//! the roster gives them, several at once (`--jobs`), sharing one request budget per account and
//! region. Who acts where (account id, alias, region) is shown and guarded per account before
//! anything is created or deleted; one student's failure never stops the others, and the summary
//! names who failed and why.

mod envs;
mod grade;
mod up;

pub use envs::{down, status, sweep};
pub use grade::{CheckArgs, check};
pub use up::{quota_of, refuse_if_short, up};

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::future::join_all;

use crate::aws::config::AssumeRole;
use crate::aws::tags::Owner;
use crate::aws::{self, Aws, AwsSettings, CallStats};
use crate::error::{Error, exit};
use crate::roster::{self, Student};
use crate::settings::{Class, Settings};
use crate::ui::class::{self as view, Line};
use crate::ui::{Printer, render};

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
    // A role's client is keyed by the account its ARN names already: rebuilding it would only
    // assume the role a second time.
    for (key, aws) in clients.iter_mut() {
        let keyed = aws
            .settings
            .role
            .as_ref()
            .and_then(|r| r.account().map(str::to_owned));
        if let Some(Ok(id)) = accounts.get(key)
            && keyed.as_ref() != Some(id)
        {
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

pub(super) fn stats_summary(p: &Printer, command: &str, stats_: &CallStats, started: Instant) {
    if p.stats {
        for line in render::stats(command, &stats_.summary(), started.elapsed()).lines() {
            p.info(line);
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
