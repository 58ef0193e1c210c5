//! One resource table to its [`Spec`]: the keys that apply to its kind, its stage, and the
//! kind's own parsing ([`ParseSpec`]); the value parsers kinds share.

use super::*;
use crate::lab::model::COMMON_RESOURCE_KEYS;

impl Validator<'_, '_, '_> {
    pub(super) fn resource(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        d: &ResourceDef,
    ) -> Option<Resource> {
        let allowed: Vec<&str> = kind
            .keys()
            .iter()
            .copied()
            .filter(|k| !COMMON_RESOURCE_KEYS.contains(k))
            .collect();
        let known = resource_keys();
        let mut ok = true;
        for (key, span) in d.key_spans() {
            // A key no kind takes is the parser's warning, not an error here.
            if known.contains(&key) && !allowed.contains(&key) {
                self.c.error(
                    span,
                    format!("`{key}` does not apply to {}", with_article(kind.label())),
                    "not for this type",
                );
                self.c.help(if allowed.is_empty() {
                    format!("{} takes no settings", with_article(kind.label()))
                } else {
                    format!(
                        "{} takes: {}",
                        with_article(kind.label()),
                        allowed.join(", ")
                    )
                });
                ok = false;
            }
        }
        let stage = match d.stage.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("solution") => Stage::Solution,
            Some("setup") => Stage::Setup,
            Some(other) => {
                let span = d.stage.as_ref().map(|s| s.span()).unwrap_or(0..0);
                self.c.error(
                    span,
                    format!("stage `{other}` must be `setup` or `solution`"),
                    "invalid stage",
                );
                Stage::Solution
            }
        };
        let errors_before = self.c.issues.len();
        let spec = Spec::parse(self, name, d)?;
        if !ok
            || self.c.issues[errors_before..]
                .iter()
                .any(|i| i.severity == crate::lab::Severity::Error)
        {
            return None;
        }
        Some(Resource {
            name: name.get_ref().clone(),
            stage,
            spec,
        })
    }

    /// `source`: a directory beside the lab file and its files (for `s3_objects`, `ecr_image`);
    /// `as_image`: the files an image takes, as `awslab push` chooses them (`.git` and what
    /// `.dockerignore` excludes left out).
    pub(crate) fn source_files(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        source: &Option<Spanned<String>>,
        as_image: bool,
    ) -> (String, Vec<SiteFile>) {
        let Some(s) = self.required(name, kind, "source", source).cloned() else {
            return (String::new(), Vec::new());
        };
        let files = match (self.assets)(s.get_ref(), as_image) {
            Ok(f) if f.is_empty() => {
                self.c.error(
                    s.span(),
                    format!("`{}` holds no files", s.get_ref()),
                    "empty directory",
                );
                Vec::new()
            }
            Ok(f) => f,
            Err(why) => {
                self.c.error(
                    s.span(),
                    format!("cannot read `{}`: {why}", s.get_ref()),
                    "a directory relative to this lab file",
                );
                Vec::new()
            }
        };
        (s.into_inner(), files)
    }

    /// `bucket` of a bucket policy, website or objects resource.
    pub(crate) fn bucket_ref(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        bucket: &Option<Spanned<String>>,
    ) -> String {
        let b = self.required(name, kind, "bucket", bucket).cloned();
        b.and_then(|b| self.reference(&b, &[Kind::Bucket]))
            .unwrap_or_default()
    }

    /// `ami`: an SSM public parameter (`ssm:/path`), an image id, or the logical name of the
    /// lab's own image (an `ami` resource).
    pub(crate) fn ami(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        ami: &Option<Spanned<String>>,
    ) -> AmiRef {
        self.required(name, kind, "ami", ami);
        self.ami_opt(ami).unwrap_or(AmiRef::Id(String::new()))
    }

    /// [`Self::ami`] where the key may be left out.
    pub(crate) fn ami_opt(&mut self, ami: &Option<Spanned<String>>) -> Option<AmiRef> {
        ami.clone().and_then(|a| {
            let text = self.text(&a)?;
            if let Some(path) = text.strip_prefix("ssm:") {
                Some(AmiRef::Ssm(path.to_owned()))
            } else if text.starts_with("ami-") {
                Some(AmiRef::Id(text))
            } else if self.kinds.contains_key(&text) {
                self.reference(&a, &[Kind::Ami]).map(AmiRef::Resource)
            } else {
                self.c.error(
                    a.span(),
                    format!("`{text}` is neither `ssm:/path`, an `ami-` id nor an image of the lab"),
                    "invalid image",
                );
                self.c.help("use the SSM public parameter, e.g. \"ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64\", or the name of the lab's `ami` resource");
                None
            }
        })
    }

    /// `security_groups`: references to security groups.
    pub(crate) fn groups(&mut self, groups: &Option<Vec<Spanned<String>>>) -> Vec<String> {
        groups
            .iter()
            .flatten()
            .filter_map(|g| self.reference(g, &[Kind::SecurityGroup]))
            .collect()
    }

    /// `protocol` of a target group or listener: HTTP (the default) or HTTPS.
    pub(crate) fn http_protocol(&mut self, protocol: &Option<Spanned<String>>) -> String {
        // HTTPS needs a certificate, which labs do not model yet.
        match protocol {
            None => "HTTP".to_owned(),
            Some(p) => match p.get_ref().to_ascii_uppercase().as_str() {
                "HTTP" => "HTTP".to_owned(),
                other => {
                    self.c.error(
                        p.span(),
                        format!("protocol `{other}` is not supported: HTTP only"),
                        "invalid protocol",
                    );
                    if other == "HTTPS" {
                        self.c
                            .help("an HTTPS listener needs an ACM certificate, which lab files cannot declare yet");
                    }
                    "HTTP".to_owned()
                }
            },
        }
    }

    /// `port` of a target group or listener (default 80).
    pub(crate) fn service_port(&mut self, port: &Option<Spanned<i64>>) -> u16 {
        match port {
            None => 80,
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n > 0 => n,
                _ => {
                    self.c.error(
                        p.span(),
                        format!("port {} is outside 1-65535", p.get_ref()),
                        "invalid port",
                    );
                    80
                }
            },
        }
    }

    /// `vpc`: the reference to the resource's VPC.
    pub(crate) fn vpc_ref(
        &mut self,
        name: &Spanned<String>,
        kind: Kind,
        vpc: &Option<Spanned<String>>,
    ) -> Option<String> {
        let r = self.required(name, kind, "vpc", vpc)?.clone();
        self.reference(&r, &[Kind::Vpc])
    }

    /// `subnets`: references to subnets.
    pub(crate) fn subnet_refs(&mut self, subnets: &Option<Vec<Spanned<String>>>) -> Vec<String> {
        subnets
            .iter()
            .flatten()
            .filter_map(|s| self.reference(s, &[Kind::Subnet]))
            .collect()
    }

    /// `instance_type` (default `t3.micro`).
    pub(crate) fn instance_type(&self, t: &Option<Spanned<String>>) -> String {
        t.as_ref()
            .map_or_else(|| "t3.micro".to_owned(), |t| t.get_ref().clone())
    }

    /// Whether the lab declares a resource of this name (of any kind).
    pub(crate) fn declares(&self, name: &str) -> bool {
        self.kinds.contains_key(name)
    }

    /// A located error about the lab file.
    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>, label: &str) {
        self.c.error(span, message, label);
    }

    /// Help for the last error.
    pub(crate) fn help(&mut self, text: impl Into<String>) {
        self.c.help(text);
    }
}
