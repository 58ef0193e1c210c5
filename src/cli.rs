//! The command line (clap derive types only), converted at once into [`Settings`] + [`Command`].

use std::collections::BTreeMap;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter,
};

use crate::aws::AwsSettings;
use crate::error::Error;
use crate::lab::StageSel;
use crate::settings::{Command, DiagramFormat, Format, ReportFormat, SchemaOf, Settings, Shell};

/// Spin up, grade and tear down AWS hands-on labs.
#[derive(Debug, Parser)]
#[command(
    name = "awslab",
    version,
    propagate_version = true,
    after_help = "Examples:
  awslab list
  awslab --local up vpc-public-private --yes     # on the local emulator (localstack/up)
  awslab check vpc-public-private --env alice    # grade what student alice built
  awslab down vpc-public-private --env alice"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Args)]
pub struct Global {
    /// AWS profile to use (standard credential chain otherwise).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// AWS region (defaults to the profile's, or us-east-1 with --local).
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (an emulator).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Use the local emulator on 127.0.0.1:4566 with test credentials (start it with localstack/up).
    #[arg(long, global = true)]
    pub local: bool,
    /// Lab environment: one per student or attempt; resources are tagged with it.
    #[arg(long, global = true, env = "AWSLAB_ENV", default_value = "default")]
    pub env: String,
    /// Output format of the data written to stdout.
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Colour: auto (on a terminal, unless NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Print only results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: -v shows API call counts and plain progress lines, -vv SDK tracing.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print API call and retry counts at the end.
    #[arg(long, global = true)]
    pub stats: bool,
    /// Longest one wait or dependency retry may last before it counts as failed
    /// (e.g. `90s`, `5m`; default 15m, shorter for kinds that clear sooner). Also caps how long
    /// a just-made resource AWS does not show yet is asked about again (default 2m).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Multiplies the durations awslab expects of AWS (poll pacing, backoff): for a model of AWS
    /// that runs faster than AWS, as the tests' proxy does. Bounds and timeouts are not scaled.
    #[arg(long, global = true, env = "AWSLAB_TIME_SCALE", hide = true, value_parser = parse_scale)]
    pub time_scale: Option<f64>,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err("a number in (0, 1], e.g. 0.05".to_owned()),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 90s, 5m or 3h)"))
}

/// A duration whose expiry, counted from now, a stamp can hold.
fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let ttl = parse_duration(s)?;
    crate::engine::fleet::expiry(std::time::SystemTime::now(), ttl).map_err(|e| e.to_string())?;
    Ok(ttl)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    /// JUnit XML (`check` only): one testsuite per lab, one testcase per check.
    Junit,
    /// A Mermaid flowchart (`diagram` only), for pasting into Markdown.
    Mermaid,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StageArg {
    /// Only what the student starts from.
    Setup,
    /// The whole solution.
    Full,
}

impl From<StageArg> for StageSel {
    fn from(s: StageArg) -> Self {
        match s {
            StageArg::Setup => StageSel::Setup,
            StageArg::Full => StageSel::Full,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List the labs: bundled ones and ./labs/*.toml.
    #[command(after_help = "Example:\n  awslab list --format json")]
    List,
    /// Show a lab: instructions, resources, checks.
    #[command(
        after_help = "Example:\n  awslab show vpc-public-private --set ssh_cidr=203.0.113.7/32"
    )]
    Show {
        /// A bundled lab id or a path to a lab file.
        #[arg(add = ArgValueCompleter::new(lab_values))]
        lab: String,
        /// Set a lab parameter (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
    },
    /// Check lab files offline; errors point at file:line:col. Exit 2 on error.
    #[command(after_help = "Example:\n  awslab validate labs/*.toml")]
    Validate {
        /// Lab ids or files.
        #[arg(required = true, add = ArgValueCompleter::new(lab_values))]
        labs: Vec<String>,
    },
    /// Show what `up` would create, change or leave, without changing anything.
    #[command(after_help = "Example:\n  awslab --local plan vpc-public-private")]
    Plan(LabStage),
    /// Provision a lab (the whole solution, or only the setup a student starts from).
    #[command(
        after_help = "Examples:\n  awslab up vpc-public-private --set ssh_cidr=203.0.113.7/32\n  awslab up vpc-public-private --stage setup --env alice --yes\n  awslab up vpc-public-private --ttl 3h   (then `awslab sweep --expired --yes` removes it after 3 hours)\n  awslab up vpc-public-private --stage setup --roster class.toml --budget 5 --yes   (every student's env at once)\n  awslab up vpc-public-private --roster class.toml --only alice,bob --yes"
    )]
    Up {
        #[command(flatten)]
        target: LabStage,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Act even on an account whose alias contains `prod` or cannot be read (never on one
        /// an allow-list leaves out).
        #[arg(long)]
        force: bool,
        /// Mark the environment to expire after this long (`awslab:expires-at`), for `sweep --expired`.
        #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
        ttl: Option<std::time::Duration>,
        /// Dollars the env may cost (`awslab:budget`): `status` shows the estimated spend
        /// against it and `sweep --over-budget` deletes the env once the estimate passes it.
        #[arg(long, value_name = "DOLLARS", value_parser = parse_budget)]
        budget: Option<f64>,
        /// Do not check the account's quotas before creating anything (for an account whose
        /// quotas are known to be raised).
        #[arg(long, env = "AWSLAB_SKIP_PREFLIGHT", value_parser = clap::builder::FalseyValueParser::new())]
        skip_preflight: bool,
        #[command(flatten)]
        class: ClassArgs,
    },
    /// Grade a setup (built by `up` or by hand); exit 1 if any check fails.
    #[command(
        after_help = "Examples:\n  awslab check vpc-public-private\n  awslab check vpc-public-private --format json > report.json\n  awslab check vpc-public-private --env alice --output alice.xml   (JUnit file, summary on the terminal)\n  awslab check vpc-public-private --diagram found.svg   (the network, failing paths in red)\n  awslab check vpc-public-private --live   (on AWS: also connect to the lab's public endpoints)\n  awslab check vpc-public-private --env bob --name-prefix bob-   (bob built bob-lab-vpc, bob-app-sg, ... by hand in an account others share)\n  awslab check vpc-public-private --roster class.toml -o grades.html -o grades.csv   (the class gradebook)"
    )]
    Check {
        #[command(flatten)]
        target: LabStage,
        /// Also write the report to FILE, in the format its extension names: .json, .xml
        /// (JUnit), .csv (a row per student, a column per check) or .html (a self-contained
        /// page: students × checks); repeatable. The text summary still goes to the terminal.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Vec<std::path::PathBuf>,
        /// On AWS, also test live endpoints from this machine (TCP connects); skipped on an emulator.
        #[arg(long)]
        live: bool,
        /// Find hand-built resources only by the lab's names behind this prefix (`Name` tag
        /// `bob-lab-vpc`, security group `bob-app-sg`, key pair `bob-lab-key`): in an account
        /// several students share, each builds with their own prefix. `{env}` stands for --env.
        /// What awslab made for the env is found by its tags either way.
        #[arg(long, value_name = "PREFIX", env = "AWSLAB_NAME_PREFIX")]
        name_prefix: Option<String>,
        /// Also draw the network check found in the account to FILE (.svg, or .mmd for
        /// Mermaid): the real zones, subnets public or private by the routes found, what the lab
        /// expects and check did not find marked `not found`, each reachability path green when
        /// it passed and red when it failed, and the route table, NACL or security group that
        /// blocks a failed path outlined red with the check's id.
        #[arg(long, value_name = "FILE", conflicts_with = "roster", value_hint = clap::ValueHint::FilePath)]
        diagram: Option<std::path::PathBuf>,
        #[command(flatten)]
        class: ClassArgs,
    },
    /// What a lab costs per hour while it is up (static us-east-1 prices, assumptions stated).
    #[command(
        after_help = "Examples:\n  awslab cost vpc-public-private\n  awslab cost vpc-public-private --hours 3"
    )]
    Cost {
        /// A bundled lab id or a path to a lab file.
        #[arg(add = ArgValueCompleter::new(lab_values))]
        lab: String,
        /// Also show the total for this many hours.
        #[arg(long)]
        hours: Option<f64>,
        /// Which part of the lab.
        #[arg(long, value_enum, default_value_t = StageArg::Full)]
        stage: StageArg,
    },
    /// Tear down everything the lab environment owns, in dependency order.
    #[command(
        after_help = "Examples:\n  awslab down vpc-public-private --env alice --yes\n  awslab down vpc-public-private --roster class.toml --yes   (the whole class at once)"
    )]
    Down {
        /// A bundled lab id or a path to a lab file.
        #[arg(add = ArgValueCompleter::new(lab_values))]
        lab: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Act even on an account whose alias contains `prod` or cannot be read (never on one
        /// an allow-list leaves out).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        class: ClassArgs,
    },
    /// Push an image into an ECR repository through the ECR API (no Docker needed): a `docker
    /// save` archive (.tar or .tar.gz), an OCI image layout (directory or tar), or a directory of
    /// files packed into a one-layer image. Layers the repository has are skipped, so an
    /// interrupted push resumes. Nothing is uploaded until the whole input has been read and
    /// checked against its digests.
    #[command(after_help = "Examples:
  awslab push labs/assets/hello-web --repository lab/web --tag v1
  docker save web:v1 -o web.tar && awslab push web.tar --repository lab/web --tag v1
  docker save web:v1 api:v2 | gzip > all.tar.gz
  awslab push all.tar.gz:api:v2 --repository lab/api --tag v2     (one image of several)
  awslab push ./oci-layout-dir:v2 --repository lab/web --tag v2 --format json
  awslab push labs/assets/hello-web --repository lab/web --tag v2 \\
      --base public.ecr.aws/docker/library/nginx:1.27-alpine --dest /usr/share/nginx/html
      (the files on top of nginx, like `FROM` and `COPY` in a Dockerfile)

A directory is packed like a `docker build` context: `.git` and what its `.dockerignore`
excludes are left out; a symbolic link that stays inside the directory is followed (the
target's content is packed under the link's name); a link out of it, a dangling link or a
FIFO, socket or device is an error naming each (exit 2). An archive or layout holding several
images needs IMAGE:REF (a tag such as web:v1, an OCI ref name, or a digest); without it the
error lists the images. --base pulls linux/amd64 of a public image anonymously over HTTPS
(each blob checked against its digest, kept in awslab's cache) and pushes its layers with
yours; AWSLAB_REGISTRY_MIRROR=URL pulls it from that registry instead. Exit codes: 0 pushed, 1 refused or failed remotely, 2 bad input or
arguments (nothing was called), 3 AWS or the base's registry unreachable.")]
    Push {
        /// The image: a `docker save` tar, an OCI layout (directory or tar) or a directory to
        /// pack, optionally followed by `:REF` to choose one of several images.
        #[arg(value_name = "IMAGE[:REF]")]
        image: String,
        /// The ECR repository (it must exist), e.g. `lab/web`.
        #[arg(long)]
        repository: String,
        /// The tag to give the image: 1-128 of letters, digits, `_`, `.`, `-`.
        #[arg(long)]
        tag: String,
        /// Pack the directory on top of this image (`[registry/]repository[:tag][@digest]`),
        /// pulled from its registry, as `FROM` does in a Dockerfile.
        #[arg(long, value_name = "IMAGE_REF")]
        base: Option<String>,
        /// Where the directory's files go in the image (with --base), as `COPY . DEST`.
        #[arg(long, value_name = "PATH", requires = "base", default_value = "/")]
        dest: String,
    },
    /// Lab environments found by their tags: lab, env, region, age, expiry, cost per hour now.
    #[command(
        after_help = "Examples:\n  awslab status\n  awslab status --all-regions --format json\n  awslab status --roster class.toml   (every student's account and region)"
    )]
    Status {
        /// Look in every region enabled for the account.
        #[arg(long, conflicts_with = "roster")]
        all_regions: bool,
        #[command(flatten)]
        class: ClassArgs,
    },
    /// Delete lab environments found by their tags, several at once. A dry run unless --yes.
    #[command(
        after_help = "Examples:\n  awslab sweep --expired              (list what has expired)\n  awslab sweep --expired --yes        (delete it)\n  awslab sweep --all-regions --yes    (delete every lab environment)\n  awslab sweep --yes --jobs 30        (a class of 30 at once)\n  awslab sweep --over-budget --yes    (cron: delete what passed its budget)\n  awslab sweep --roster class.toml --expired --yes   (in every student's account)\n  awslab sweep --lab old-lab --env alice --yes   (a lab that has no file any more)"
    )]
    Sweep {
        /// Only environments whose `awslab:expires-at` has passed.
        #[arg(long)]
        expired: bool,
        /// Only this lab's environment given by --env (it needs no lab file: for a lab whose
        /// file is gone).
        #[arg(long, value_name = "LAB_ID")]
        lab: Option<String>,
        /// Look in every region enabled for the account.
        #[arg(long, conflicts_with = "roster")]
        all_regions: bool,
        /// Delete (without it, only list what would be deleted).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Act even on an account whose alias contains `prod` or cannot be read (never on one
        /// an allow-list leaves out).
        #[arg(long)]
        force: bool,
        /// Only environments whose estimated spend has passed their `awslab:budget` (`up
        /// --budget`). With --expired, both kinds.
        #[arg(long)]
        over_budget: bool,
        #[command(flatten)]
        class: ClassArgs,
    },
    /// Write a new lab file to start from.
    ///
    /// The file has the schema directive, one resource, one check and instructions that quote
    /// the lab's own values; it passes `awslab validate`. An existing file is never overwritten.
    #[command(after_help = "Examples:
  awslab new my-vpc                  (writes labs/my-vpc.toml, and labs/lab.schema.json if missing)
  awslab new my-vpc --dir course     (writes course/my-vpc.toml)
  awslab validate labs/my-vpc.toml   (after editing it)")]
    New {
        /// The new lab's id: letters, digits, `-` and `_` (the file is named after it).
        id: String,
        /// The folder to write it in (made if missing). `./labs` is where `awslab list` looks.
        #[arg(long, value_name = "DIR", default_value = "labs", value_hint = clap::ValueHint::DirPath)]
        dir: std::path::PathBuf,
    },
    /// Print the JSON Schema of lab files (or of class rosters).
    ///
    /// Editors complete and check lab files with it; it is generated from the types awslab reads
    /// them with, so it always says what this awslab accepts.
    #[command(after_help = "Examples:
  awslab schema > labs/lab.schema.json
  awslab schema roster > roster.schema.json

A TOML file whose first line is `#:schema ./lab.schema.json` is completed and checked against it by
Taplo and the editors built on it (Even Better TOML in VS Code).")]
    Schema {
        /// Which file's schema.
        #[arg(value_enum, default_value_t = SchemaArg::Lab)]
        of: SchemaArg,
    },
    /// Print the shell code that completes awslab's commands, options and lab ids.
    ///
    /// Lab ids are those `awslab list` shows, found when you press Tab.
    #[command(after_help = "Examples:
  echo 'source <(awslab completions bash)' >> ~/.bashrc
  echo 'source <(awslab completions zsh)' >> ~/.zshrc
  awslab completions fish > ~/.config/fish/completions/awslab.fish
  awslab completions powershell | Out-String | Invoke-Expression   (in $PROFILE)

The code asks awslab for the candidates each time, so it stays right as awslab changes: load it
at shell start rather than keeping a copy.")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Draw the lab's network as it declares it: a self-contained SVG, or Mermaid.
    ///
    /// The VPC with a column per availability zone, each subnet public or private by its routes,
    /// what is in it, gateways, route tables, NACLs, security groups, and the paths the
    /// reachability checks ask about (numbered, green: must be open, red: must be closed).
    #[command(after_help = "Examples:
  awslab diagram vpc-public-private > vpc.svg
  awslab diagram vpc-public-private -o vpc.svg
  awslab diagram vpc-public-private --format mermaid   (paste into Markdown in a ```mermaid block)
  awslab diagram vpc-public-private --format json      (the model: VPCs, zones, subnets, edges)")]
    Diagram {
        /// A bundled lab id or a path to a lab file.
        #[arg(add = ArgValueCompleter::new(lab_values))]
        lab: String,
        /// Set a lab parameter (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Write to FILE instead of stdout, in the format its extension names: .svg, .mmd or
        /// .md (Mermaid), .json.
        #[arg(long, short = 'o', value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
        output: Option<std::path::PathBuf>,
    },
    /// Print the manual page of awslab or of one command, or write every page to a folder.
    #[command(after_help = "Examples:
  awslab man | man -l -
  awslab man check | man -l -
  awslab man --dir ~/.local/share/man/man1   (then `man awslab`, `man awslab-check`)")]
    Man {
        /// A command (`check`); without it, the page of awslab itself.
        #[arg(conflicts_with = "dir")]
        command: Option<String>,
        /// Write awslab.1 and awslab-COMMAND.1 for every command into this folder.
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaArg {
    /// Lab files (`labs/*.toml`).
    Lab,
    /// Class rosters (`--roster FILE`).
    Roster,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// The variable awslab's completion code sets when it asks awslab for candidates.
const COMPLETE_VAR: &str = "AWSLAB_COMPLETE";

/// Answers a shell's completion request and exits, when the completion code of
/// [`completion_script`] is asking; returns otherwise.
pub fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .complete();
}

/// The shell code that loads awslab's completions.
pub fn completion_script(shell: Shell) -> Result<String, Error> {
    let name = match shell {
        Shell::Bash => "bash",
        Shell::Zsh => "zsh",
        Shell::Fish => "fish",
        Shell::PowerShell => "powershell",
    };
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(name)
        .ok_or_else(|| Error::usage(format!("no completions for {name}"), None))?;
    let mut buf = Vec::new();
    completer
        .write_registration(COMPLETE_VAR, "awslab", "awslab", "awslab", &mut buf)
        .map_err(|e| Error::usage(format!("cannot write the {name} completions: {e}"), None))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Completions of a lab argument: the lab ids `awslab list` lists that start with what is
/// typed, with their titles; and `.toml` files and folders once what is typed is a path (or
/// no id starts with it).
fn lab_values(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut out: Vec<CompletionCandidate> = crate::lab::catalog::all_ids()
        .into_iter()
        .filter(|id| id.starts_with(typed.as_ref()))
        .map(|id| {
            let title = crate::lab::load_lab(&id, &BTreeMap::new())
                .ok()
                .map(|l| l.lab.title);
            CompletionCandidate::new(id).help(title.map(Into::into))
        })
        .collect();
    if out.is_empty() || typed.contains(['/', '.']) {
        let files = PathCompleter::any()
            .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "toml"));
        out.extend(files.complete(current));
    }
    out
}

/// The manual page of awslab (`None`) or of one of its commands, as roff.
pub fn man_page(command: Option<&str>) -> Result<String, Error> {
    let top = man_command();
    let cmd = match command {
        None => top,
        Some(name) => {
            let names: Vec<String> = top
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            top.find_subcommand(name).cloned().ok_or_else(|| {
                Error::usage(
                    format!("man {name}: awslab has no command `{name}`"),
                    Some(&format!("one of: {}", names.join(", "))),
                )
            })?
        }
    };
    render_man(cmd)
}

/// Every manual page: `awslab.1` and `awslab-COMMAND.1`, by file name.
pub fn man_pages() -> Result<Vec<(String, String)>, Error> {
    let top = man_command();
    let mut pages = vec![("awslab.1".to_owned(), render_man(top.clone())?)];
    for c in top.get_subcommands() {
        let page = format!("awslab-{}.1", c.get_name());
        pages.push((page, render_man(c.clone())?));
    }
    Ok(pages)
}

/// The command tree as the manual shows it: built, so that each command is named as a page
/// (`awslab-check`, synopsis `awslab check`), without the `help` command.
fn man_command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn render_man(cmd: clap::Command) -> Result<String, Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::usage(format!("cannot write the manual page: {e}"), None))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[derive(Debug, Args)]
pub struct LabStage {
    /// A bundled lab id or a path to a lab file.
    #[arg(add = ArgValueCompleter::new(lab_values))]
    pub lab: String,
    /// Which part of the lab.
    #[arg(long, value_enum, default_value_t = StageArg::Full)]
    pub stage: StageArg,
    /// Set a lab parameter (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

/// A class at once: every student of a roster, or those `--only` names.
#[derive(Debug, Args)]
pub struct ClassArgs {
    /// Act on every student's env of this roster file (TOML; see examples/class.roster.toml
    /// and schemas/roster.schema.json), several at once, each with the profile, role and region
    /// the roster gives them.
    #[arg(long, value_name = "FILE")]
    pub roster: Option<std::path::PathBuf>,
    /// Only these students of the roster (their envs, comma-separated).
    #[arg(
        long,
        value_name = "ENV,...",
        value_delimiter = ',',
        requires = "roster"
    )]
    pub only: Vec<String>,
    /// How many environments are worked on at once (they share one request budget per account
    /// and region).
    #[arg(long, default_value_t = crate::engine::teardown::DEFAULT_JOBS as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

impl ClassArgs {
    /// The class, if a roster is given; `--only` naming nobody is an error, not the whole class.
    fn resolve(self) -> Result<Option<crate::settings::Class>, Error> {
        let given = !self.only.is_empty();
        let only: Vec<String> = self
            .only
            .into_iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if given && only.is_empty() {
            return Err(Error::usage(
                "--only names no student",
                Some(
                    "name envs of the roster, e.g. --only alice,bob; leave --only out for the whole class",
                ),
            ));
        }
        Ok(self
            .roster
            .map(|roster| crate::settings::Class { roster, only }))
    }
}

/// A budget in dollars per env: positive and finite.
fn parse_budget(s: &str) -> Result<f64, String> {
    match s.trim_start_matches('$').parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e9 => Ok(v),
        _ => Err("a positive amount of dollars, e.g. 5 or 2.50".to_owned()),
    }
}

/// Where `check --output` writes and in which format: the file's extension, else `--format`
/// if it names one.
fn report_target(
    path: std::path::PathBuf,
    format: Format,
) -> Result<(std::path::PathBuf, ReportFormat), Error> {
    let by_extension = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => Some(ReportFormat::Json),
        Some("xml") => Some(ReportFormat::Junit),
        Some("csv") => Some(ReportFormat::Csv),
        Some("html" | "htm") => Some(ReportFormat::Html),
        _ => None,
    };
    let by_flag = match format {
        Format::Json => Some(ReportFormat::Json),
        Format::Junit => Some(ReportFormat::Junit),
        Format::Text | Format::Mermaid => None,
    };
    let format = by_extension.or(by_flag).ok_or_else(|| {
        Error::usage(
            format!("--output {}: cannot tell the report format", path.display()),
            Some("name the file .json, .xml (JUnit), .csv or .html"),
        )
    })?;
    Ok((path, format))
}

fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, String>, Error> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    Error::usage(
                        format!("--set {s}: expected NAME=VALUE"),
                        Some("e.g. --set ssh_cidr=203.0.113.7/32"),
                    )
                })
        })
        .collect()
}

impl Cli {
    /// The output format asked for.
    pub fn format(&self) -> Format {
        match self.global.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Junit => Format::Junit,
            FormatArg::Mermaid => Format::Mermaid,
        }
    }

    /// Plain settings and command; `is_terminal` is whether stderr is a terminal.
    pub fn resolve(self, is_terminal: bool) -> Result<(Settings, Command), Error> {
        let g = self.global;
        let color = match g.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        if g.env.is_empty()
            || !g
                .env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::usage(
                format!("--env `{}`: use letters, digits, `-` or `_`", g.env),
                None,
            ));
        }
        let settings = Settings {
            aws: AwsSettings {
                profile: g.profile,
                region: g.region,
                endpoint_url: g.endpoint_url.filter(|u| !u.is_empty()),
                local: g.local,
                timing: crate::aws::Timing::new(g.time_scale, g.timeout),
                role: None,
                account: None,
            },
            env: g.env,
            format: match g.format {
                FormatArg::Text => Format::Text,
                FormatArg::Json => Format::Json,
                FormatArg::Junit => Format::Junit,
                FormatArg::Mermaid => Format::Mermaid,
            },
            color,
            quiet: g.quiet,
            verbose: g.verbose,
            stats: g.stats || g.verbose > 0,
            timeout: g.timeout,
            // Read by the commands that act on an account; a broken config file stops only
            // those, not `list`, `validate` or `cost`.
            allowed_accounts: if matches!(
                self.command,
                Cmd::Up { .. }
                    | Cmd::Check { .. }
                    | Cmd::Down { .. }
                    | Cmd::Push { .. }
                    | Cmd::Sweep { .. }
            ) {
                crate::guard::allow_list()?
            } else {
                None
            },
        };
        if settings.format == Format::Mermaid && !matches!(self.command, Cmd::Diagram { .. }) {
            return Err(Error::usage(
                "--format mermaid is for `diagram` only".to_owned(),
                Some("use --format json or text"),
            ));
        }
        if settings.format == Format::Junit && !matches!(self.command, Cmd::Check { .. }) {
            return Err(Error::usage(
                "--format junit is for `check` only".to_owned(),
                Some("use --format json or text"),
            ));
        }
        let command = match self.command {
            Cmd::List => Command::List,
            Cmd::Show { lab, sets } => Command::Show {
                lab,
                sets: parse_sets(&sets)?,
            },
            Cmd::Validate { labs } => Command::Validate { labs },
            Cmd::Plan(t) => Command::Plan {
                lab: t.lab,
                stage: t.stage.into(),
                sets: parse_sets(&t.sets)?,
            },
            Cmd::Up {
                target,
                yes,
                force,
                ttl,
                budget,
                skip_preflight,
                class,
            } => Command::Up {
                lab: target.lab,
                stage: target.stage.into(),
                sets: parse_sets(&target.sets)?,
                yes,
                force,
                ttl,
                budget,
                skip_preflight,
                jobs: usize::from(class.jobs),
                class: class.resolve()?,
            },
            Cmd::Check {
                target,
                output,
                live,
                name_prefix,
                diagram,
                class,
            } => Command::Check {
                diagram: diagram
                    .map(|path| {
                        let mermaid = path
                            .extension()
                            .and_then(|e| e.to_str())
                            .map(str::to_ascii_lowercase);
                        match mermaid.as_deref() {
                            Some("svg") => Ok((path, DiagramFormat::Svg)),
                            Some("mmd" | "md" | "mermaid") => Ok((path, DiagramFormat::Mermaid)),
                            _ => Err(Error::usage(
                                format!("--diagram {}: cannot tell the format", path.display()),
                                Some("name the file .svg or .mmd (Mermaid)"),
                            )),
                        }
                    })
                    .transpose()?,
                lab: target.lab,
                stage: target.stage.into(),
                sets: parse_sets(&target.sets)?,
                output: output
                    .into_iter()
                    .map(|path| report_target(path, settings.format))
                    .collect::<Result<_, _>>()?,
                jobs: usize::from(class.jobs),
                class: class.resolve()?,
                live,
                name_prefix: name_prefix.clone().filter(|p| !p.is_empty()),
                names: match name_prefix.filter(|p| !p.is_empty()) {
                    Some(raw) => crate::check::Names::parse(&raw, &settings.env).map_err(|m| {
                        Error::usage(
                            format!("--name-prefix: {m}"),
                            Some("e.g. --name-prefix bob-"),
                        )
                    })?,
                    None => crate::check::Names::unprefixed(),
                },
            },
            Cmd::Down {
                lab,
                yes,
                force,
                class,
            } => Command::Down {
                lab,
                yes,
                force,
                jobs: usize::from(class.jobs),
                class: class.resolve()?,
            },
            Cmd::Status { all_regions, class } => Command::Status {
                all_regions,
                class: class.resolve()?,
            },
            Cmd::Push {
                image,
                repository,
                tag,
                base,
                dest,
            } => {
                crate::push::check_tag(&tag)
                    .map_err(|m| Error::usage(format!("--tag: {m}"), Some("e.g. --tag v1")))?;
                crate::push::check_repository(&repository).map_err(|m| {
                    Error::usage(
                        format!("--repository: {m}"),
                        Some("e.g. --repository lab/web"),
                    )
                })?;
                let base = base
                    .map(|b| crate::image::Reference::parse(&b))
                    .transpose()
                    .map_err(|m| {
                        Error::usage(
                            format!("--base: {m}"),
                            Some("e.g. --base public.ecr.aws/docker/library/nginx:1.27-alpine"),
                        )
                    })?;
                let dest = crate::image::check_dest(&dest).map_err(|m| {
                    Error::usage(
                        format!("--dest: {m}"),
                        Some("e.g. --dest /usr/share/nginx/html"),
                    )
                })?;
                Command::Push {
                    image: crate::image::ImageArg::parse(&image),
                    repository,
                    tag,
                    base,
                    dest,
                }
            }
            Cmd::Sweep {
                expired,
                lab,
                all_regions,
                yes,
                force,
                over_budget,
                class,
            } => Command::Sweep {
                expired,
                over_budget,
                // With a roster the students are the envs.
                env: lab
                    .as_ref()
                    .filter(|_| class.roster.is_none())
                    .map(|_| settings.env.clone()),
                lab,
                all_regions,
                yes,
                force,
                jobs: usize::from(class.jobs),
                class: class.resolve()?,
            },
            Cmd::New { id, dir } => Command::New { id, dir },
            Cmd::Schema { of } => Command::Schema(match of {
                SchemaArg::Lab => SchemaOf::Lab,
                SchemaArg::Roster => SchemaOf::Roster,
            }),
            Cmd::Completions { shell } => Command::Completions(match shell {
                ShellArg::Bash => Shell::Bash,
                ShellArg::Zsh => Shell::Zsh,
                ShellArg::Fish => Shell::Fish,
                ShellArg::Powershell => Shell::PowerShell,
            }),
            Cmd::Man { command, dir } => Command::Man { command, dir },
            Cmd::Diagram { lab, sets, output } => {
                let by_extension = output
                    .as_ref()
                    .and_then(|p| p.extension())
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                let format = match (by_extension.as_deref(), settings.format) {
                    (Some("svg"), _) => DiagramFormat::Svg,
                    (Some("mmd" | "md" | "mermaid"), _) => DiagramFormat::Mermaid,
                    (Some("json"), _) => DiagramFormat::Json,
                    (Some(other), _) => {
                        return Err(Error::usage(
                            format!("--output: cannot draw a `.{other}` file"),
                            Some("name it .svg, .mmd (Mermaid) or .json"),
                        ));
                    }
                    (None, Format::Json) => DiagramFormat::Json,
                    (None, Format::Mermaid) => DiagramFormat::Mermaid,
                    (None, Format::Text | Format::Junit) => DiagramFormat::Svg,
                };
                Command::Diagram {
                    lab,
                    sets: parse_sets(&sets)?,
                    format,
                    output,
                }
            }
            Cmd::Cost { lab, hours, stage } => {
                if hours.is_some_and(|h| !(h.is_finite() && h > 0.0)) {
                    return Err(Error::usage(
                        "--hours must be a positive number".to_owned(),
                        None,
                    ));
                }
                Command::Cost {
                    lab,
                    hours,
                    stage: stage.into(),
                }
            }
        };
        Ok((settings, command))
    }
}
