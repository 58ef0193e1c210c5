//! `[[include]]`: resources and checks taken from other labs.

use super::*;

impl Validator<'_, '_, '_> {
    /// The resources and checks `[[include]]` takes from other labs: the listed resources and
    /// everything they reference, in the stage the include gives (default `setup`), and the
    /// listed checks, whose resources must all come along.
    pub(super) fn includes(
        &mut self,
        file: &LabFile,
        included: Vec<Result<Lab, String>>,
    ) -> (Vec<Resource>, Vec<Check>) {
        let mut resources: Vec<Resource> = Vec::new();
        let mut checks: Vec<Check> = Vec::new();
        for (inc, loaded) in file.include.iter().zip(included) {
            let inc = inc.get_ref();
            let lab = match loaded {
                Ok(lab) => lab,
                Err(message) => {
                    self.c.error(
                        inc.lab.span(),
                        format!("cannot include `{}`: {message}", inc.lab.get_ref()),
                        "this lab",
                    );
                    continue;
                }
            };
            let stage = match inc.stage.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("setup") => Stage::Setup,
                Some("solution") => Stage::Solution,
                Some(other) => {
                    let span = inc.stage.as_ref().map_or(inc.lab.span(), Spanned::span);
                    self.c.error(
                        span,
                        format!("stage `{other}` must be `setup` or `solution`"),
                        "invalid stage",
                    );
                    Stage::Setup
                }
            };
            // The listed names, then what they reference, transitively.
            let mut wanted: Vec<String> = Vec::new();
            for name in &inc.resources {
                if lab.resource(name.get_ref()).is_some() {
                    wanted.push(name.get_ref().clone());
                } else {
                    self.c.error(
                        name.span(),
                        format!("lab `{}` has no resource `{}`", lab.id, name.get_ref()),
                        "not in that lab",
                    );
                    if let Some(close) = closest(
                        name.get_ref(),
                        lab.resources.iter().map(|r| r.name.as_str()),
                    ) {
                        let close = close.to_owned();
                        self.c.help(format!("did you mean `{close}`?"));
                    }
                }
            }
            let mut i = 0;
            while i < wanted.len() {
                if let Some(r) = lab.resource(&wanted[i]) {
                    for dep in r.spec.refs() {
                        if !wanted.iter().any(|w| w == dep) {
                            wanted.push(dep.to_owned());
                        }
                    }
                }
                i += 1;
            }
            for name in &wanted {
                if resources.iter().any(|r| r.name == *name) {
                    continue;
                }
                if let Some(r) = lab.resource(name) {
                    resources.push(Resource { stage, ..r.clone() });
                }
            }
            for id in &inc.checks {
                let Some(check) = lab.checks.iter().find(|c| c.id == *id.get_ref()) else {
                    self.c.error(
                        id.span(),
                        format!("lab `{}` has no check `{}`", lab.id, id.get_ref()),
                        "not in that lab",
                    );
                    continue;
                };
                let missing: Vec<&str> = check
                    .kind
                    .refs()
                    .into_iter()
                    .filter(|n| !wanted.iter().any(|w| w == n))
                    .collect();
                if missing.is_empty() {
                    checks.push(check.clone());
                } else {
                    self.c.error(
                        id.span(),
                        format!(
                            "check `{}` needs {}, which this include does not take",
                            id.get_ref(),
                            missing.join(", ")
                        ),
                        "resources missing",
                    );
                    self.c
                        .help(format!("add {} to `resources`", missing.join(", ")));
                }
            }
        }
        (resources, checks)
    }
}
