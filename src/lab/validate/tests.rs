use super::{closest, edit_distance};
use crate::lab::Kind;

#[test]
fn edit_distance_and_suggestions() {
    assert_eq!(edit_distance("lab-vpcc", "lab-vpc"), 1);
    assert_eq!(
        closest("lab-vpcc", ["lab-vpc", "public-a"].into_iter()),
        Some("lab-vpc")
    );
    assert_eq!(closest("zzzzzz", ["lab-vpc"].into_iter()), None);
}

/// The errors validation finds in `text` (a lab file `t.toml`): (`line:col`, message, help).
fn errors(text: &str) -> Vec<(String, String, String)> {
    use crate::error::Error;
    use crate::lab::catalog::{LabSource, load_text};
    let err = match load_text(
        &LabSource::File("t.toml".into()),
        text,
        &std::collections::BTreeMap::new(),
    ) {
        Ok(_) => return Vec::new(),
        Err(e) => e,
    };
    let Error::Lab(d) = &err else {
        panic!("not a located lab error: {err:?}")
    };
    d.issues
        .iter()
        .map(|i| {
            (
                i.location.trim_start_matches("t.toml:").to_owned(),
                i.message.clone(),
                i.help.clone().unwrap_or_default(),
            )
        })
        .collect()
}

const HEAD: &str =
    "id = \"t\"\ntitle = \"T\"\n\n[resources.lab-vpc]\ntype = \"vpc\"\ncidr = \"10.0.0.0/16\"\n";

#[test]
fn a_key_of_another_kind_is_named_with_what_the_kind_takes() {
    let text = format!(
        "{HEAD}\n[resources.igw]\ntype = \"internet_gateway\"\nvpc = \"lab-vpc\"\ncidr = \"10.0.0.0/24\"\n"
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "11:8");
    assert_eq!(e[0].1, "`cidr` does not apply to an internet gateway");
    assert_eq!(e[0].2, "an internet gateway takes: vpc");
}

#[test]
fn a_bad_value_is_located_at_the_value() {
    let text = format!(
        "{HEAD}\n[resources.a]\ntype = \"subnet\"\nvpc = \"lab-vpc\"\ncidr = \"10.0.300.0/24\"\naz = 0\n"
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "11:8");
    assert!(e[0].1.contains("10.0.300.0/24"), "{e:?}");
}

#[test]
fn a_subnet_outside_its_vpc_and_overlapping_ones_are_lab_rule_errors() {
    let text = format!(
        "{HEAD}\n[resources.a]\ntype = \"subnet\"\nvpc = \"lab-vpc\"\ncidr = \"10.1.0.0/24\"\naz = 0\n\n[resources.b]\ntype = \"subnet\"\nvpc = \"lab-vpc\"\ncidr = \"10.0.1.0/24\"\naz = 0\n\n[resources.c]\ntype = \"subnet\"\nvpc = \"lab-vpc\"\ncidr = \"10.0.1.128/25\"\naz = 1\n"
    );
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].1.contains("10.1.0.0/24") && e[0].1.contains("10.0.0.0/16"),
        "{e:?}"
    );
    assert!(e[1].1.contains("overlap"), "{e:?}");
}

#[test]
fn a_reference_to_the_wrong_kind_and_a_check_on_nothing_are_located() {
    let text = format!(
        "{HEAD}\n[resources.ep]\ntype = \"vpc_endpoint\"\nvpc = \"lab-vpc\"\nservice = \"s3\"\nroute_tables = [\"lab-vpc\"]\n\n[[checks]]\nid = \"p\"\ntitle = \"P\"\nkind = \"public_subnet\"\nsubnets = [\"nowhere\"]\n"
    );
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].0, "12:17", "{e:?}");
    assert!(
        e[0].1.contains("lab-vpc") && e[0].1.contains("route table"),
        "{e:?}"
    );
    assert_eq!(e[1].0, "18:12", "{e:?}");
    assert!(e[1].1.contains("nowhere"), "{e:?}");
}

/// Every registered kind is declared by some lab file of the repository, and each resource
/// validates into the kind its `type` names: a new kind comes with a lab that uses it. Its
/// handler answers for each such resource what needs no AWS: references into the lab, the
/// attributes `check` grades (each once), why none was found and what to do, its price.
#[test]
fn every_kind_round_trips_through_a_lab_file() {
    use crate::check::Names;
    use crate::lab::catalog::{LabSource, load_text};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = std::collections::BTreeSet::new();
    for dir in ["labs", "tests/labs"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("labs") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let Ok(loaded) = load_text(
                &LabSource::File(path.clone()),
                &text,
                &std::collections::BTreeMap::new(),
            ) else {
                // Labs that test refusals.
                continue;
            };
            for r in &loaded.lab.resources {
                let declared = text
                    .split(&format!("[resources.{}]", r.name))
                    .nth(1)
                    .and_then(|rest| rest.lines().find(|l| l.starts_with("type = ")))
                    .map(|l| l.trim_start_matches("type = ").trim_matches('"'));
                if let Some(t) = declared {
                    assert_eq!(t, r.kind().as_str(), "{}: {}", path.display(), r.name);
                }
                let at = format!("{}: {}", path.display(), r.name);
                for dep in r.spec.refs() {
                    assert!(loaded.lab.resource(dep).is_some(), "{at}: refers to {dep}");
                }
                let handler = r.kind().handler();
                let keys = handler.attr_keys(r);
                let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
                assert_eq!(distinct.len(), keys.len(), "{at}: an attribute twice");
                let names = Names::unprefixed();
                assert!(!handler.missing(r, &names).is_empty(), "{at}");
                assert!(
                    handler
                        .create_hint(r, &names.of(&r.name))
                        .contains("create"),
                    "{at}"
                );
                let mut cost = crate::cost::Estimate::default();
                handler.price(r, &loaded.lab, &mut cost);
                seen.insert(r.kind());
            }
        }
    }
    let missing: Vec<_> = Kind::ALL.iter().filter(|k| !seen.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "kinds no lab file declares: {missing:?}"
    );
}

/// A kind's keys are its keys struct's fields, in their order, each once; the parser knows
/// every key some kind takes.
#[test]
fn a_kinds_keys_are_its_keys_structs_fields() {
    assert_eq!(Kind::Vpc.keys(), ["cidr", "dns_hostnames"]);
    assert_eq!(Kind::ElasticIp.keys(), [] as [&str; 0]);
    let known = super::resource_keys();
    for &k in Kind::ALL {
        for key in k.keys() {
            assert!(known.contains(key), "{k:?}: `{key}` unknown to the parser");
        }
    }
    for key in ["type", "stage", "description"] {
        assert!(known.contains(&key));
    }
    for &k in Kind::ALL {
        let distinct: std::collections::BTreeSet<_> = k.keys().iter().collect();
        assert_eq!(distinct.len(), k.keys().len(), "{k:?}: a key twice");
    }
}

/// A key of the wrong type is located at its value, for every resource that has one, and stops
/// the file before validation; a key every table has (`description`) is reported once, though
/// a security group reads it as its own.
#[test]
fn keys_of_the_wrong_type_are_each_located_once() {
    let text = format!(
        "{HEAD}dns_hostnames = \"yes\"\n\n[resources.web-sg]\ntype = \"security_group\"\nvpc = \"lab-vpc\"\ndescription = 5\n\n[resources.a]\ntype = \"subnet\"\nvpc = \"lab-vpc\"\ncidr = 10\n"
    );
    let e = errors(&text);
    let at: Vec<(&str, &str)> = e.iter().map(|(l, m, _)| (l.as_str(), m.as_str())).collect();
    assert_eq!(
        at,
        [
            ("17:8", "invalid type: integer `10`, expected a string"),
            ("7:17", "invalid type: string \"yes\", expected a boolean"),
            ("12:15", "invalid type: integer `5`, expected a string"),
        ],
        "{e:?}"
    );
}

/// The lab in `text` loaded: its instructions, and its warnings as (`line:col`, message, help).
fn instructions_and_warnings(text: &str) -> (String, Vec<(String, String, String)>) {
    use crate::lab::catalog::{LabSource, load_text};
    let loaded = load_text(
        &LabSource::File("t.toml".into()),
        text,
        &std::collections::BTreeMap::new(),
    )
    .unwrap_or_else(|e| panic!("does not load: {e:?}"));
    let warnings = loaded
        .warnings
        .map(|w| {
            w.issues
                .iter()
                .map(|i| {
                    (
                        i.location.trim_start_matches("t.toml:").to_owned(),
                        i.message.clone(),
                        i.help.clone().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (loaded.lab.instructions, warnings)
}

const NET: &str = r#"
[params.ssh]
default = "203.0.113.7/32"

[resources.pub]
type = "subnet"
vpc = "lab-vpc"
cidr = "10.0.1.0/24"

[resources.lab-igw]
type = "internet_gateway"
vpc = "lab-vpc"

[resources.rt]
type = "route_table"
vpc = "lab-vpc"
subnets = ["pub"]
routes = [{ cidr = "0.0.0.0/0", to = "lab-igw" }]

[resources.web-sg]
type = "security_group"
vpc = "lab-vpc"
ingress = [{ proto = "tcp", port = 22, cidr = "${ssh}" }, { proto = "tcp", ports = "80-81", from = "web-sg" }]

[resources.nacl]
type = "network_acl"
vpc = "lab-vpc"
outbound = [{ rule = 100, proto = "all", cidr = "0.0.0.0/0" }, { rule = 200, action = "deny", proto = "udp", port = 53, cidr = "10.0.0.0/16" }]
"#;

fn with_instructions(instructions: &str) -> String {
    format!("instructions = \"\"\"\n{instructions}\n\"\"\"\n{HEAD}{NET}")
}

#[test]
fn placeholders_quote_what_the_lab_declares() {
    let (text, warnings) = with_instructions(
        "VPC ${lab-vpc.cidr}, subnet `pub` ${pub.cidr} of ${pub.vpc}; routes ${rt.routes} for ${rt.subnets}.\nSSH: ${web-sg.ingress}.\nOut: ${nacl.outbound}.\nA ${lab-vpc.type}; its id ${lab-vpc.id}, in ${region}, from ${ssh}.",
    )
    .as_str()
    .pipe(instructions_and_warnings);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        text.trim(),
        "VPC 10.0.0.0/16, subnet `pub` 10.0.1.0/24 of lab-vpc; routes 0.0.0.0/0 -> `lab-igw` for pub.\n\
         SSH: TCP 22 from 203.0.113.7/32; TCP 80-81 from security group `web-sg`.\n\
         Out: rule 100: allow all traffic to 0.0.0.0/0; rule 200: deny UDP 53 to 10.0.0.0/16.\n\
         A vpc; its id ${lab-vpc.id}, in ${region}, from 203.0.113.7/32."
    );
}

#[test]
fn a_placeholder_of_an_undeclared_resource_or_key_is_a_located_error() {
    let e = errors(&with_instructions(
        "CIDR ${lab-vpcc.cidr} and ${pub.cidrr} and ${pub.az}",
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert_eq!(e[0].0, "2:6");
    assert_eq!(
        e[0].1,
        "`${lab-vpcc.cidr}` in the instructions: the lab has no resource `lab-vpcc`"
    );
    assert_eq!(e[0].2, "did you mean `lab-vpc`?");
    assert_eq!(
        e[1].1,
        "`${pub.cidrr}` in the instructions: resource `pub` does not set `cidrr`"
    );
    assert_eq!(e[1].2, "did you mean `cidr`?");
    assert_eq!(
        e[2].1,
        "`${pub.az}` in the instructions: resource `pub` does not set `az`"
    );
    assert_eq!(
        e[2].2,
        "it sets: cidr, type, vpc; `${pub.id}` is its id once it exists"
    );
}

#[test]
fn a_cidr_or_name_the_lab_does_not_declare_is_a_warning() {
    let (_, warnings) = instructions_and_warnings(&with_instructions(
        "Create `pub` with 10.0.1.0/24 (not 10.0.2.0/24) and `lab-igw`, route 0.0.0.0/0, SSH from 203.0.113.7/32; then `public-b` and `lab-nat`; run `awslab check t`.",
    ));
    let said: Vec<(&str, &str)> = warnings
        .iter()
        .map(|(at, m, _)| (at.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            (
                "2:36",
                "the instructions mention 10.0.2.0/24, which the lab does not declare"
            ),
            (
                "2:111",
                "the instructions mention `public-b`, which is no resource of the lab"
            ),
            (
                "2:126",
                "the instructions mention `lab-nat`, which is no resource of the lab"
            ),
        ]
    );
    assert_eq!(warnings[2].2, "declare it, or name one the lab declares");
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}

impl<T> Pipe for T {}

#[test]
fn fargate_sizes_retentions_and_a_service_without_its_listener_are_located() {
    let text = format!(
        "{HEAD}
[resources.role]
type = \"iam_role\"
service = \"ecs-tasks.amazonaws.com\"

[resources.logs]
type = \"log_group\"
retention_days = 10

[resources.task]
type = \"ecs_task_definition\"
cpu = 256
memory = 4096
image = \"public.ecr.aws/nginx/nginx:stable\"
execution_role = \"role\"
log_group = \"logs\"

[resources.net]
type = \"subnet\"
vpc = \"lab-vpc\"
cidr = \"10.0.1.0/24\"

[resources.tg]
type = \"target_group\"
vpc = \"lab-vpc\"
target_type = \"ip\"

[resources.cluster]
type = \"ecs_cluster\"

[resources.svc]
type = \"ecs_service\"
cluster = \"cluster\"
task_definition = \"task\"
subnets = [\"net\"]
target_group = \"tg\"
"
    );
    let mut e = errors(&text);
    e.sort_by_key(|(at, _, _)| at.split(':').next().and_then(|l| l.parse::<u32>().ok()));
    let found: Vec<(&str, &str)> = e
        .iter()
        .map(|(at, m, _)| (at.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("14:18", "CloudWatch Logs keeps no retention of 10 days"),
            ("19:10", "Fargate has no 4096 MiB size for 256 CPU"),
            (
                "42:16",
                "a service registered with a target group needs `listener`"
            ),
        ],
        "{e:?}"
    );
    assert!(e[0].2.contains("7, 14, 30"), "{e:?}");
    assert_eq!(e[1].2, "for 256 CPU: 512, 1024, 2048");
    assert!(e[2].2.contains("ECS refuses a target group"), "{e:?}");
}
