//! One function per command: load the lab, talk to AWS through the engine, hand results to `ui`.

mod class;
mod fleet;
mod up;

pub use up::{Provisioned, UpArgs};
use up::{provision, up};

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use crate::aws::tags::Owner;
use crate::aws::{self, Aws};
use crate::check;
use crate::cost;
use crate::engine::{self, EngineOptions};
use crate::error::{Error, exit};
use crate::lab::Lab;
use crate::lab::catalog::{self, Loaded};
use crate::settings::{Command, Format, ReportFormat, Settings};
use crate::ui::{Printer, TermReporter, render};

/// Renders an error once (to stderr; with `--format json` also as JSON to stdout, unless the
/// command's own report went there) and returns its exit code.
pub fn fail(printer: Option<&Printer>, e: &Error) -> ExitCode {
    let plain = Printer::plain();
    let p = printer.unwrap_or(&plain);
    p.diagnostic(e);
    if p.format == Format::Json && !p.wrote_json() {
        p.json(&crate::error::ErrorReport::of(e));
    }
    ExitCode::from(e.exit_code())
}

/// `-vv` turns on tracing of awslab and the SDK to stderr.
pub fn init_tracing(verbose: u8) {
    if verbose < 2 {
        return;
    }
    let filter = if verbose >= 3 {
        "debug"
    } else {
        "info,awslab=debug"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

fn load(p: &Printer, arg: &str, sets: &BTreeMap<String, String>) -> Result<Lab, Error> {
    let Loaded { lab, warnings } = catalog::load_lab(arg, sets)?;
    if let Some(w) = warnings
        && !p.quiet
    {
        p.diagnostic(&w);
    }
    Ok(lab)
}

/// [`load`], with the parameters that default to this machine's public address
/// ([`crate::caller_ip`]) set to it when it is found; says what each was given.
async fn load_on_aws(
    p: &Printer,
    arg: &str,
    sets: &BTreeMap<String, String>,
    grading: bool,
) -> Result<Lab, Error> {
    let lab = load(p, arg, sets)?;
    let Some((resolved, given)) = crate::caller_ip::resolve(&lab, sets).await else {
        return Ok(lab);
    };
    for g in &given {
        if g.is_warning() {
            p.warn(&g.to_string());
        } else {
            p.info(&g.to_string());
        }
        if grading {
            p.info(&format!(
                "grading a setup made from another machine? its address is the one to expect: --set {}=THEIR.ADDRESS/32",
                g.name()
            ));
        }
    }
    if resolved == *sets {
        return Ok(lab);
    }
    // Its warnings were shown by the first load.
    Ok(catalog::load_lab(arg, &resolved)?.lab)
}

pub async fn run(s: &Settings, command: Command, p: &Printer) -> Result<u8, Error> {
    match command {
        Command::List => list(p),
        Command::Show { lab, sets } => show(s, p, &lab, &sets).await,
        Command::Validate { labs } => Ok(validate(p, &labs)),
        Command::Plan { lab, stage, sets } => {
            let lab = load_on_aws(p, &lab, &sets, false).await?;
            let aws = aws::connect(&s.aws).await;
            let started = Instant::now();
            let plan = engine::plan::plan(&aws, &lab, stage, &owner(s, &lab)).await?;
            match p.format {
                Format::Json => p.json(&plan),
                Format::Text | Format::Junit | Format::Mermaid => p.out(&render::plan(p, &plan)),
            }
            stats(p, "plan", &aws, started);
            Ok(exit::OK)
        }
        Command::Up {
            lab,
            stage,
            sets,
            yes,
            force,
            ttl,
            budget,
            skip_preflight,
            class,
            jobs,
        } => {
            let lab = load_on_aws(p, &lab, &sets, false).await?;
            let args = UpArgs {
                stage,
                yes,
                force,
                expires: ttl
                    .map(|t| engine::fleet::expiry(std::time::SystemTime::now(), t))
                    .transpose()
                    .map_err(|e| {
                        Error::usage(format!("--ttl: {e}"), Some("give a shorter --ttl"))
                    })?,
                budget,
                skip_preflight,
            };
            match class {
                Some(class) => class::up(s, p, &lab, &args, &class, jobs).await,
                None => up(s, p, &lab, &args).await,
            }
        }
        Command::Check {
            lab,
            stage,
            sets,
            output,
            live,
            names: _,
            name_prefix,
            diagram: _,
            class: Some(class),
            jobs,
        } => {
            let lab = load_on_aws(p, &lab, &sets, true).await?;
            let args = class::CheckArgs {
                stage,
                output,
                live,
                name_prefix,
            };
            class::check(s, p, &lab, args, &class, jobs).await
        }
        Command::Check {
            lab,
            stage,
            sets,
            output,
            live,
            names,
            name_prefix: _,
            diagram,
            class: None,
            jobs: _,
        } => {
            let lab = load_on_aws(p, &lab, &sets, true).await?;
            let aws = aws::connect(&s.aws).await;
            let started = Instant::now();
            let live = match (live, aws.is_emulator()) {
                (false, _) => check::Live::Off,
                (true, true) => check::Live::Emulator,
                (true, false) => check::Live::On,
            };
            // Live checks run commands on instances: with an allow-list, only in its accounts.
            if live != check::Live::Off {
                crate::guard::check_allowed(
                    &aws,
                    &format!("run live checks of {}", lab.id),
                    s.allowed_accounts.as_ref(),
                )
                .await?;
            }
            let opts = check::CheckOptions { stage, live, names };
            let (report, found) = check::check_found(&aws, &lab, opts, &owner(s, &lab)).await?;
            if output.is_empty() {
                p.out(&report_text(p, &report, p.format)?);
            } else {
                p.out(&render::report(p, &report));
            }
            if !output.is_empty() {
                let account = aws.account_id().await.ok();
                let book = crate::gradebook::Gradebook::new(
                    lab.id.clone(),
                    stage,
                    engine::fleet::timestamp(std::time::SystemTime::now()),
                    vec![crate::gradebook::StudentRow {
                        name: s.env.clone(),
                        account,
                        region: Some(aws.region.clone()),
                        outcome: crate::gradebook::StudentOutcome::Graded(report.clone()),
                    }],
                );
                for (path, format) in &output {
                    let text = match format {
                        ReportFormat::Json => render::json(&report)?,
                        ReportFormat::Junit => render::junit(&report)?,
                        ReportFormat::Csv => crate::gradebook::csv(&book)?,
                        ReportFormat::Html => crate::gradebook::html(&book),
                    };
                    write_report(path, &text)?;
                    p.info(&format!("report written to {}", path.display()));
                }
            }
            if let Some((path, format)) = &diagram {
                let drawn = crate::diagram::with_results(
                    crate::diagram::of_found(&lab, stage, &found.world, &found.bound),
                    &report,
                );
                let text = match format {
                    crate::settings::DiagramFormat::Mermaid => crate::diagram::mermaid(&drawn),
                    _ => crate::diagram::svg(&drawn),
                };
                write_report(path, &text)?;
                p.info(&format!("diagram written to {}", path.display()));
            }
            stats(p, "check", &aws, started);
            Ok(if report.passed() {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        Command::Cost { lab, hours, stage } => {
            let lab = load(p, &lab, &BTreeMap::new())?;
            let estimate = cost::of_lab(&lab, stage);
            match p.format {
                Format::Json => p.json(&serde_json::json!({
                    "lab": lab.id,
                    "per_hour": estimate.per_hour(),
                    "hours": hours,
                    "total": hours.map(|h| h * estimate.per_hour()),
                    "lines": estimate.lines,
                    "unpriced": estimate.unknown,
                    "prices_date": cost::PRICES_DATE,
                    "assumptions": cost::ASSUMPTIONS,
                })),
                Format::Text | Format::Junit | Format::Mermaid => {
                    p.out(&render::cost(&lab, &estimate, hours))
                }
            }
            Ok(exit::OK)
        }
        // Only the id: a lab file that no longer validates can still be torn down.
        Command::Down {
            lab,
            yes,
            force,
            class,
            jobs,
        } => {
            let id = catalog::lab_id(&lab)?;
            match class {
                Some(class) => class::down(s, p, &id, yes, force, &class, jobs).await,
                None => down(s, p, &id, yes, force).await,
            }
        }
        Command::New { id, dir } => new_lab(p, &id, &dir),
        Command::Schema(of) => {
            p.out(&match of {
                crate::settings::SchemaOf::Lab => crate::lab::schema::lab(),
                crate::settings::SchemaOf::Roster => crate::lab::schema::roster(),
            });
            Ok(exit::OK)
        }
        Command::Completions(shell) => {
            p.out(&crate::cli::completion_script(shell)?);
            Ok(exit::OK)
        }
        Command::Man { command, dir } => man(p, command.as_deref(), dir.as_deref()),
        Command::Diagram {
            lab,
            sets,
            format,
            output,
        } => {
            let lab = load(p, &lab, &sets)?;
            let diagram = crate::diagram::of_lab(&lab);
            let text = match format {
                crate::settings::DiagramFormat::Svg => crate::diagram::svg(&diagram),
                crate::settings::DiagramFormat::Mermaid => crate::diagram::mermaid(&diagram),
                crate::settings::DiagramFormat::Json => serde_json::to_string_pretty(&diagram)
                    .map_err(|e| {
                        Error::usage(format!("cannot serialise the diagram: {e}"), None)
                    })?,
            };
            match output {
                Some(path) => {
                    write_report(&path, &text)?;
                    p.info(&format!("diagram written to {}", path.display()));
                }
                None => p.out(&text),
            }
            Ok(exit::OK)
        }
        Command::Status { all_regions, class } => match class {
            Some(class) => class::status(s, p, &class).await,
            None => fleet::status(s, p, all_regions).await,
        },
        Command::Push {
            image,
            repository,
            tag,
            base,
            dest,
        } => {
            let onto = base.as_ref().map(|b| (b, dest.as_str()));
            push(s, p, &image, &repository, &tag, onto).await
        }
        Command::Sweep {
            expired,
            over_budget,
            lab,
            env,
            all_regions,
            yes,
            force,
            jobs,
            class,
        } => {
            let args = fleet::SweepArgs {
                expired,
                over_budget,
                lab,
                env,
                all_regions,
                yes,
                force,
                jobs,
            };
            match class {
                Some(class) => class::sweep(s, p, args, &class).await,
                None => fleet::sweep(s, p, args).await,
            }
        }
    }
}

/// The report in one format, as the bytes a file or stdout gets.
fn report_text(p: &Printer, report: &check::Report, format: Format) -> Result<String, Error> {
    Ok(match format {
        Format::Text | Format::Mermaid => render::report(p, report),
        Format::Json => render::json(report)?,
        Format::Junit => render::junit(report)?,
    })
}

fn write_report(path: &std::path::Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

fn engine_options(s: &Settings) -> EngineOptions {
    let mut opts = EngineOptions::default();
    if let Some(t) = s.timeout {
        opts.wait_timeout = t;
    }
    opts
}

fn owner(s: &Settings, lab: &Lab) -> Owner {
    Owner::new(&lab.id, &s.env)
}

/// Whether awslab may act in the account ([`crate::guard`]): refuses, or warns when only
/// `--force` lets it through.
async fn guard(
    p: &Printer,
    s: &Settings,
    aws: &Aws,
    account: &str,
    action: &str,
    force: bool,
) -> Result<(), Error> {
    let allowed = s.allowed_accounts.as_ref();
    if let Some(warning) = crate::guard::check(aws, account, action, allowed, force).await? {
        p.warn(&warning);
    }
    Ok(())
}

fn stats(p: &Printer, command: &str, aws: &Aws, started: Instant) {
    if p.stats {
        let text = render::stats(command, &aws.stats.summary(), started.elapsed());
        eprint_block(p, &text);
    }
}

fn eprint_block(p: &Printer, text: &str) {
    for line in text.lines() {
        p.info(line);
    }
}

#[derive(Serialize)]
struct LabSummary<'a> {
    id: &'a str,
    title: &'a str,
    summary: &'a str,
    resources: usize,
    checks: usize,
}

fn list(p: &Printer) -> Result<u8, Error> {
    let mut labs = Vec::new();
    for id in catalog::all_ids() {
        labs.push(load(p, &id, &BTreeMap::new())?);
    }
    match p.format {
        Format::Json => p.json(
            &labs
                .iter()
                .map(|l| LabSummary {
                    id: &l.id,
                    title: &l.title,
                    summary: &l.summary,
                    resources: l.resources.len(),
                    checks: l.checks.len(),
                })
                .collect::<Vec<_>>(),
        ),
        Format::Text | Format::Junit | Format::Mermaid => p.out(&render::list(&labs)),
    }
    Ok(exit::OK)
}

async fn show(
    s: &Settings,
    p: &Printer,
    arg: &str,
    sets: &BTreeMap<String, String>,
) -> Result<u8, Error> {
    let mut lab = load_on_aws(p, arg, sets, false).await?;
    lab.instructions = fill_resource_ids(s, &lab).await;
    match p.format {
        Format::Json => p.json(&serde_json::json!({
            "id": lab.id,
            "title": lab.title,
            "summary": lab.summary,
            "source": lab.source,
            "instructions": lab.instructions,
            "params": lab.params,
            "resources": lab.resources.iter().map(|r| serde_json::json!({
                "name": r.name, "type": r.kind(), "stage": r.stage,
            })).collect::<Vec<_>>(),
            "checks": lab.checks.iter().map(|c| serde_json::json!({
                "id": c.id, "title": c.title, "points": c.points,
            })).collect::<Vec<_>>(),
        })),
        Format::Text | Format::Junit | Format::Mermaid => p.out(&render::show(p, &lab)),
    }
    Ok(exit::OK)
}

/// `${lab-efs.id}` in the instructions becomes the id of the env's resource when it exists (a
/// short, best-effort lookup by tags), else a placeholder that says how to get it.
async fn fill_resource_ids(s: &Settings, lab: &Lab) -> String {
    let refs = crate::lab::resource_refs(&lab.instructions);
    if refs.is_empty()
        && !lab.instructions.contains("${region}")
        && !lab.instructions.contains("${registry}")
    {
        return lab.instructions.clone();
    }
    let aws = aws::connect(&s.aws).await;
    let owner = owner(s, lab);
    // A bucket's name and the registry's host need only the account id.
    let needs_account = lab
        .resources
        .iter()
        .any(|r| r.kind().handler().named_by_account());
    let lookup = async {
        let world = engine::discover::owned_for_compare(&aws, &owner, lab).await?;
        // A bucket's name is known before it exists: it needs only the account id.
        let account = if needs_account {
            Some(aws.account_id().await?)
        } else {
            None
        };
        Ok::<_, crate::aws::AwsError>((world, account))
    };
    let found = tokio::time::timeout(std::time::Duration::from_secs(8), lookup)
        .await
        .ok()
        .and_then(Result::ok);
    let (world, account) = match found {
        Some((w, a)) => (Some(w), a),
        None => (None, None),
    };
    let bound = world
        .as_ref()
        .map(|w| engine::apply::bind_owned(w, &owner, lab))
        .unwrap_or_default();
    // A resource's id: bound, or known before it exists (a bucket's name).
    let id_of = |name: &str| -> Option<String> {
        bound.id(name).map(str::to_owned).or_else(|| {
            let res = lab.resource(name)?;
            res.kind()
                .handler()
                .planned_id(res, &owner, account.as_deref()?)
        })
    };
    let registry = account
        .as_deref()
        .map(|a| format!("{a}.dkr.ecr.{}.amazonaws.com", aws.region))
        .unwrap_or_else(|| "<account id>.dkr.ecr.<region>.amazonaws.com".to_owned());
    let text = lab.instructions.replace("${registry}", &registry);
    crate::lab::fill_refs(&text, &aws.region, |name, attr| {
        let res = lab.resource(name)?;
        match attr {
            "id" => id_of(name),
            "url" => match bound.get(name) {
                Some(o) => crate::resources::url(o, &aws.region),
                None => res.kind().handler().planned_url(res, &id_of, &aws.region),
            },
            other => bound
                .get(name)
                .and_then(|o| o.kind.handler().ref_attr(o, other)),
        }
    })
}

/// A directory packed on top of a base pulled from its registry (verified before any AWS call).
async fn pull_onto(
    p: &Printer,
    image: &crate::image::ImageArg,
    base: &crate::image::Reference,
    dest: &str,
) -> Result<crate::image::Image, Error> {
    let path = &image.path;
    let is_layout = path.join("oci-layout").exists();
    if !path.is_dir() || is_layout || image.reference.is_some() {
        return Err(Error::usage(
            format!(
                "--base packs a directory of files onto the base; {} is {}",
                path.display(),
                if is_layout {
                    "an OCI image layout, already an image"
                } else if path.is_dir() {
                    "a directory, and :REF chooses among images"
                } else {
                    "not a directory"
                }
            ),
            Some("give a directory, or leave --base out to push an image as it is"),
        ));
    }
    p.info(&format!("pulling {base} (linux/amd64)"));
    let bar = crate::ui::progress::bytes_bar(p);
    let progress = |got: u64, total: u64| bar.update(got, total);
    let pulled = crate::image::pull(base, &progress).await;
    bar.finish();
    let pulled = pulled?;
    p.info(&format!(
        "pulled {base} = {}: {} layer(s), {} bytes downloaded, {} from the cache",
        pulled.digest,
        pulled.layers.len(),
        pulled.downloaded,
        pulled.cached
    ));
    Ok(crate::image::pack_dir_onto(path, &pulled, dest)?)
}

/// `awslab push`: the image is read and verified first (a bad input changes nothing remotely).
async fn push(
    s: &Settings,
    p: &Printer,
    image: &crate::image::ImageArg,
    repository: &str,
    tag: &str,
    onto: Option<(&crate::image::Reference, &str)>,
) -> Result<u8, Error> {
    let loaded = match onto {
        None => crate::image::load(&image.path, image.reference.as_deref())?,
        Some((base, dest)) => pull_onto(p, image, base, dest).await?,
    };
    let aws = aws::connect(&s.aws).await;
    crate::guard::check_allowed(
        &aws,
        &format!("push to {repository}"),
        s.allowed_accounts.as_ref(),
    )
    .await?;
    let started = Instant::now();
    p.info(&format!(
        "pushing {} ({}; {} layer(s), {} bytes, {}) to {repository}:{tag}",
        image.path.display(),
        loaded.input,
        loaded.layers.len(),
        loaded.size(),
        loaded.digest()
    ));
    let bar = crate::ui::progress::bytes_bar(p);
    let progress = |sent: u64, total: u64| bar.update(sent, total);
    let pushed = crate::push::push(&aws, repository, tag, &loaded, false, &progress).await;
    bar.finish();
    let pushed = pushed?;
    let secs = started.elapsed().as_secs_f64();
    if p.format == Format::Json {
        p.json(&pushed);
    }
    if pushed.unchanged {
        p.info(&format!(
            "{repository}:{tag} already is {}: nothing to push",
            pushed.digest
        ));
    } else {
        p.info(&format!(
            "pushed {repository}:{tag} = {}: {} blob(s) uploaded ({} bytes, {:.1} MiB/s), {} already there, in {secs:.1}s",
            pushed.digest,
            pushed.uploaded.len(),
            pushed.bytes_uploaded,
            pushed.bytes_uploaded as f64 / 1_048_576.0 / secs.max(0.001),
            pushed.skipped.len()
        ));
    }
    stats(p, "push", &aws, started);
    Ok(exit::OK)
}

/// What `awslab new` wrote.
#[derive(Serialize)]
struct NewLab {
    lab: String,
    /// The schema file, when it was not there yet.
    schema: Option<String>,
}

/// `awslab new`: writes `<dir>/<id>.toml` (never over an existing file) and, beside it, the
/// schema its directive names when that is missing.
fn new_lab(p: &Printer, id: &str, dir: &std::path::Path) -> Result<u8, Error> {
    if !catalog::is_lab_id(id) {
        return Err(Error::usage(
            format!("`{id}` is not a lab id: use letters, digits, `-` and `_`"),
            Some("e.g. awslab new vpc-peering"),
        ));
    }
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(format!("{id}.toml"));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match created {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::usage(
                format!(
                    "{} already exists: awslab new never overwrites a file",
                    path.display()
                ),
                Some("choose another id or --dir, or remove the file first"),
            ));
        }
        Err(e) => return Err(io(&path)(e)),
    };
    std::io::Write::write_all(&mut file, crate::lab::skeleton::skeleton(id).as_bytes())
        .map_err(io(&path))?;
    let schema_path = dir.join(crate::lab::skeleton::SCHEMA_FILE);
    let schema = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&schema_path)
    {
        Ok(mut f) => {
            std::io::Write::write_all(&mut f, crate::lab::schema::lab().as_bytes())
                .map_err(io(&schema_path))?;
            Some(schema_path.display().to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
        Err(e) => return Err(io(&schema_path)(e)),
    };
    if catalog::BUNDLED.iter().any(|(b, _)| *b == id) {
        p.warn(&format!(
            "a bundled lab is called `{id}`: in this folder, ./labs/{id}.toml takes its place"
        ));
    }
    let written = NewLab {
        lab: path.display().to_string(),
        schema,
    };
    match p.format {
        Format::Json => p.json(&written),
        Format::Text | Format::Junit | Format::Mermaid => {
            p.out(&format!("wrote {}", written.lab));
            if let Some(s) = &written.schema {
                p.out(&format!(
                    "wrote {s} (the schema your editor reads; refresh it with `awslab schema > {s}`)"
                ));
            }
        }
    }
    p.info(&format!(
        "next: edit it, then `awslab validate {}` and `awslab show {}`",
        written.lab, written.lab
    ));
    Ok(exit::OK)
}

/// `awslab man`: one page to stdout, or every page into `dir`.
fn man(p: &Printer, command: Option<&str>, dir: Option<&std::path::Path>) -> Result<u8, Error> {
    let Some(dir) = dir else {
        p.out(&crate::cli::man_page(command)?);
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let pages = crate::cli::man_pages()?;
    for (name, text) in &pages {
        write_report(&dir.join(name), text)?;
    }
    p.info(&format!(
        "wrote {} manual pages to {} (awslab.1, awslab-COMMAND.1)",
        pages.len(),
        dir.display()
    ));
    Ok(exit::OK)
}

fn validate(p: &Printer, args: &[String]) -> u8 {
    let mut code = exit::OK;
    for arg in args {
        match catalog::load_lab(arg, &BTreeMap::new()) {
            Ok(Loaded { lab, warnings }) => {
                if let Some(w) = warnings {
                    p.diagnostic(&w);
                }
                p.out(&format!(
                    "ok: {} ({}: {} resources, {} checks)",
                    lab.origin,
                    lab.id,
                    lab.resources.len(),
                    lab.checks.len()
                ));
            }
            Err(e) => {
                p.diagnostic(&e);
                code = code.max(e.exit_code());
            }
        }
    }
    code
}

/// Shows where the command acts, refuses an account it may not act in ([`guard`]), and asks,
/// unless `--yes`. Without a terminal it refuses rather than hang. Returns the account id.
async fn confirm(
    p: &Printer,
    s: &Settings,
    aws: &Aws,
    action: &str,
    yes: bool,
    force: bool,
) -> Result<String, Error> {
    let account = aws.account_id().await?;
    let target = match &aws.endpoint {
        Some(e) => format!("account {account}, region {}, endpoint {e}", aws.region),
        None => format!("account {account}, region {}", aws.region),
    };
    p.info(&format!("{action} in {target}"));
    guard(p, s, aws, &account, action, force).await?;
    if yes {
        return Ok(account);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            format!("refusing to {action} without confirmation: stdin is not a terminal"),
            Some("pass --yes to confirm non-interactively"),
        ));
    }
    if p.confirm("Continue?") {
        Ok(account)
    } else {
        Err(Error::usage("cancelled", None))
    }
}

async fn down(s: &Settings, p: &Printer, id: &str, yes: bool, force: bool) -> Result<u8, Error> {
    let aws = aws::connect(&s.aws).await;
    confirm(
        p,
        s,
        &aws,
        &format!("delete everything of lab {}, env {}", id, s.env),
        yes,
        force,
    )
    .await?;
    let started = Instant::now();
    let reporter = TermReporter::new(p);
    let outcome =
        engine::destroy::destroy(&aws, &Owner::new(id, &s.env), &engine_options(s), &reporter)
            .await?;
    if p.format == Format::Json {
        p.json(&engine::report::DownReport::of(id, &s.env, &outcome));
    }
    p.info(&format!(
        "down {}: {} deleted, {} left in {:.1}s",
        id,
        outcome.deleted.len(),
        outcome.left.len(),
        started.elapsed().as_secs_f64()
    ));
    p.info(&render::cost_after_down(&outcome.stopped, &outcome.still));
    stats(p, "down", &aws, started);
    if outcome.left.is_empty() && outcome.not_looked_at.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Error::Incomplete {
            what: format!("down {}", id),
            summary: crate::error::incomplete_summary(&[
                (outcome.left.len(), "resource(s) could not be deleted"),
                (outcome.not_looked_at.len(), "kind(s) not looked at"),
            ]),
            detail: outcome
                .left
                .iter()
                .map(|(n, k, id, why)| format!("{n} ({k} {id}): {why}"))
                .chain(
                    outcome
                        .not_looked_at
                        .iter()
                        .map(|u| format!("{} not looked at: {}", u.kind, u.error)),
                )
                .chain(std::iter::once(format!(
                    "run `awslab down {}` again once the cause is fixed",
                    id
                )))
                .collect::<Vec<_>>()
                .join("\n"),
        })
    }
}
