//! Plain settings and the command, resolved from the command line before anything runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::aws::AwsSettings;
use crate::lab::StageSel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// JUnit XML, for `check`.
    Junit,
    /// A Mermaid flowchart, for `diagram`.
    Mermaid,
}

/// How `diagram` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagramFormat {
    Svg,
    Mermaid,
    /// The diagram's model (VPCs, zones, subnets, edges).
    Json,
}

/// What `check --output` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Junit,
    /// A row per student, a column per check.
    Csv,
    /// One self-contained page.
    Html,
}

/// `--roster FILE [--only ENV,...]`: the students a command acts on.
#[derive(Debug, Clone)]
pub struct Class {
    pub roster: PathBuf,
    pub only: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub env: String,
    pub format: Format,
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    /// Print API call counts at the end.
    pub stats: bool,
    /// `--timeout`: the longest wait or dependency retry.
    pub timeout: Option<std::time::Duration>,
    /// The only accounts awslab acts on, when the user keeps a list.
    pub allowed_accounts: Option<crate::guard::AllowList>,
}

#[derive(Debug, Clone)]
pub enum Command {
    List,
    Show {
        lab: String,
        sets: BTreeMap<String, String>,
    },
    Validate {
        labs: Vec<String>,
    },
    Plan {
        lab: String,
        stage: StageSel,
        sets: BTreeMap<String, String>,
    },
    Up {
        lab: String,
        stage: StageSel,
        sets: BTreeMap<String, String>,
        yes: bool,
        force: bool,
        ttl: Option<std::time::Duration>,
        /// Dollars per env (`awslab:budget`).
        budget: Option<f64>,
        skip_preflight: bool,
        class: Option<Class>,
        /// Environments worked on at once.
        jobs: usize,
    },
    Check {
        lab: String,
        stage: StageSel,
        sets: BTreeMap<String, String>,
        /// Also write the report to these files, in these formats (text summary on stdout).
        output: Vec<(PathBuf, ReportFormat)>,
        /// Run live checks (on AWS).
        live: bool,
        /// The names hand-built resources are found by (`--name-prefix`).
        names: crate::check::Names,
        /// `--name-prefix` as written (`{env}` stands for each student's env with a roster).
        name_prefix: Option<String>,
        /// Also draw the network as found, with the paths as found (`--diagram`).
        diagram: Option<(PathBuf, DiagramFormat)>,
        class: Option<Class>,
        jobs: usize,
    },
    Down {
        lab: String,
        yes: bool,
        force: bool,
        class: Option<Class>,
        jobs: usize,
    },
    Push {
        image: crate::image::ImageArg,
        repository: String,
        tag: String,
        /// A directory's files go at `dest` on top of this image.
        base: Option<crate::image::Reference>,
        dest: String,
    },
    Status {
        all_regions: bool,
        class: Option<Class>,
    },
    Sweep {
        expired: bool,
        /// Only envs whose estimated spend passed their budget.
        over_budget: bool,
        /// Only this lab and env.
        lab: Option<String>,
        env: Option<String>,
        all_regions: bool,
        yes: bool,
        force: bool,
        /// Environments torn down at once.
        jobs: usize,
        class: Option<Class>,
    },
    Cost {
        lab: String,
        hours: Option<f64>,
        stage: StageSel,
    },
    /// Write a lab skeleton `<dir>/<id>.toml`.
    New {
        id: String,
        dir: PathBuf,
    },
    /// Print a JSON Schema.
    Schema(SchemaOf),
    /// Print the shell code that loads the completions.
    Completions(Shell),
    /// Draw a lab's network as declared, to stdout or a file.
    Diagram {
        lab: String,
        sets: BTreeMap<String, String>,
        format: DiagramFormat,
        output: Option<PathBuf>,
    },
    /// Print a manual page, or write them all to `dir`.
    Man {
        command: Option<String>,
        dir: Option<PathBuf>,
    },
}

/// Which file's JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaOf {
    Lab,
    Roster,
}

/// A shell awslab completes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    PowerShell,
}

/// Where awslab keeps its files: `$AWSLAB_HOME`, else the platform data directory.
pub fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("AWSLAB_HOME") {
        return PathBuf::from(h);
    }
    dirs::data_dir()
        .map(|d| d.join("awslab"))
        .or_else(|| dirs::home_dir().map(|h| h.join(".awslab")))
        .unwrap_or_else(|| PathBuf::from(".awslab"))
}

/// The user's config file: `$AWSLAB_HOME/config.toml`, else `awslab/config.toml` in the
/// platform config directory (`~/.config` on Linux, `~/Library/Application Support` on macOS,
/// `%APPDATA%` on Windows).
pub fn config_path() -> PathBuf {
    if let Some(h) = std::env::var_os("AWSLAB_HOME") {
        return PathBuf::from(h).join("config.toml");
    }
    dirs::config_dir()
        .map(|d| d.join("awslab"))
        .unwrap_or_else(home_dir)
        .join("config.toml")
}

pub fn keys_dir() -> PathBuf {
    home_dir().join("keys")
}
