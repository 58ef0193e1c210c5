//! The diagram as a Mermaid flowchart, for pasting into Markdown.

use super::model::{Diagram, EdgeStyle, INTERNET, Node};
use crate::lab::Kind;

/// The diagram as a Mermaid flowchart (for Markdown): zones side by side in each VPC,
/// subnets titled public or private, reachability paths as thick (asked to hold) or crossed
/// (asked to be closed) arrows labelled with the check's id.
pub fn mermaid(d: &Diagram) -> String {
    let mut out = String::from("flowchart TB\n");
    let uses_internet = d
        .edges
        .iter()
        .any(|e| e.from == INTERNET || e.to == INTERNET);
    if uses_internet {
        out.push_str(&format!("  {}((internet))\n", id(INTERNET)));
    }
    for v in &d.vpcs {
        out.push_str(&format!(
            "  subgraph {}[\"VPC {} {}{}\"]\n    direction LR\n",
            id(&v.name),
            v.name,
            v.cidr,
            found_text(&v.id, v.missing)
        ));
        for z in &v.zones {
            let zone = match &z.name {
                Some(name) => format!("AZ {} {name}", z.az + 1),
                None => format!("AZ {}", z.az + 1),
            };
            out.push_str(&format!(
                "    subgraph {}_az{}[\"{zone}\"]\n      direction TB\n",
                id(&v.name),
                z.az,
            ));
            for s in &z.subnets {
                let kind = match (s.missing, s.public) {
                    (true, _) => "",
                    (false, true) => "public ",
                    (false, false) => "private ",
                };
                out.push_str(&format!(
                    "      subgraph {}[\"{kind}subnet {} {}{}\"]\n",
                    id(&s.name),
                    s.name,
                    s.cidr,
                    found_text(&s.id, s.missing)
                ));
                for n in &s.members {
                    out.push_str(&format!("        {}\n", shape(n)));
                }
                out.push_str("      end\n");
            }
            out.push_str("    end\n");
        }
        for n in &v.members {
            out.push_str(&format!("    {}\n", shape(n)));
        }
        out.push_str("  end\n");
    }
    for n in &d.outside {
        out.push_str(&format!("  {}\n", shape(n)));
    }
    for e in &d.edges {
        let arrow = match e.style {
            EdgeStyle::Route => "-->",
            EdgeStyle::Association | EdgeStyle::Uses => "-.-",
            EdgeStyle::Reachable => "==>",
            EdgeStyle::NotReachable => "--x",
        };
        let label = if e.label.is_empty() {
            String::new()
        } else {
            format!("|\"{}\"|", e.label.replace('"', "'"))
        };
        out.push_str(&format!("  {} {arrow}{label} {}\n", id(&e.from), id(&e.to)));
    }
    // Declared and not found: dashed; where a failed path stops: red.
    for v in &d.vpcs {
        let subnets = v.zones.iter().flat_map(|z| z.subnets.iter());
        for name in std::iter::once((&v.name, v.missing))
            .chain(subnets.map(|s| (&s.name, s.missing)))
            .filter(|(_, missing)| *missing)
            .map(|(n, _)| n)
        {
            out.push_str(&format!("  style {} {MISSING}\n", id(name)));
        }
    }
    for n in d.nodes() {
        if n.missing {
            out.push_str(&format!("  style {} {MISSING}\n", id(&n.name)));
        } else if !n.blocks.is_empty() {
            out.push_str(&format!(
                "  style {} fill:#fef2f2,stroke:#dc2626,stroke-width:4px\n",
                id(&n.name)
            ));
        }
    }
    // What check found of each path: green passed, red failed.
    for (i, e) in d.edges.iter().enumerate() {
        if let Some(r) = &e.result {
            let color = if r.passed { "#15803d" } else { "#dc2626" };
            out.push_str(&format!(
                "  linkStyle {i} stroke:{color},stroke-width:4px\n"
            ));
        }
    }
    out
}

/// How a box declared and not found is drawn.
const MISSING: &str = "fill:#f1f5f9,stroke:#94a3b8,stroke-dasharray:5 5,color:#64748b";

/// After a container's title: the AWS id found, or that none was.
fn found_text(found: &Option<String>, missing: bool) -> String {
    match (found, missing) {
        (_, true) => ": not found".to_owned(),
        (Some(id), false) => format!(" {id}"),
        (None, false) => String::new(),
    }
}

/// A Mermaid node id for a logical name: unique, and never a keyword (`end`).
pub(crate) fn id(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    // Names differing only in `-` and `_` keep distinct ids.
    let marks: String = name
        .chars()
        .filter(|c| !c.is_ascii_alphanumeric())
        .map(|c| if c == '-' { 'h' } else { 'u' })
        .collect();
    if marks.is_empty() {
        format!("n_{safe}")
    } else {
        format!("n_{safe}_{marks}")
    }
}

/// A node with its kind's label and a shape by kind; the AWS id found, or that none was; the
/// checks whose path stops at it.
fn shape(n: &Node) -> String {
    let mut text = format!("{} {}", n.kind.label(), n.name);
    if n.missing {
        text.push_str(": not found");
    } else if let Some(found) = &n.id {
        text.push_str(&format!(" {found}"));
    }
    for check in &n.blocks {
        text.push_str(&format!("<br/>✗ blocks {check}"));
    }
    match n.kind {
        Kind::InternetGateway | Kind::NatGateway | Kind::VpcEndpoint => {
            format!("{}{{{{\"{text}\"}}}}", id(&n.name))
        }
        Kind::SecurityGroup | Kind::NetworkAcl => format!("{}[/\"{text}\"/]", id(&n.name)),
        Kind::RouteTable => format!("{}[(\"{text}\")]", id(&n.name)),
        _ => format!("{}[\"{text}\"]", id(&n.name)),
    }
}
