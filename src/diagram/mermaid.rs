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
            "  subgraph {}[\"VPC {} {}\"]\n    direction LR\n",
            id(&v.name),
            v.name,
            v.cidr
        ));
        for z in &v.zones {
            out.push_str(&format!(
                "    subgraph {}_az{}[\"AZ {}\"]\n      direction TB\n",
                id(&v.name),
                z.az,
                z.az + 1
            ));
            for s in &z.subnets {
                let kind = if s.public { "public" } else { "private" };
                out.push_str(&format!(
                    "      subgraph {}[\"{kind} subnet {} {}\"]\n",
                    id(&s.name),
                    s.name,
                    s.cidr
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

/// A node with its kind's label and a shape by kind.
fn shape(n: &Node) -> String {
    let text = format!("{} {}", n.kind.label(), n.name);
    match n.kind {
        Kind::InternetGateway | Kind::NatGateway | Kind::VpcEndpoint => {
            format!("{}{{{{\"{text}\"}}}}", id(&n.name))
        }
        Kind::SecurityGroup | Kind::NetworkAcl => format!("{}[/\"{text}\"/]", id(&n.name)),
        Kind::RouteTable => format!("{}[(\"{text}\")]", id(&n.name)),
        _ => format!("{}[\"{text}\"]", id(&n.name)),
    }
}
