//! The diagram as one self-contained SVG (no script, no font or image to fetch): boxes laid out
//! by a flexbox engine (taffy) as the course notes draw a network (a VPC around a column per
//! availability zone, subnets in their zone, what is in each subnet), then the routes,
//! associations and reachability paths drawn between the boxes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use taffy::prelude::*;

use super::model::{Diagram, EdgeStyle, INTERNET, Node};

/// Height of a resource's box, and of a container's title band.
const NODE_H: f32 = 40.0;
/// Height of each line under a resource naming a check whose path stops at it.
const BLOCKS_H: f32 = 16.0;
const TITLE_H: f32 = 26.0;
const GAP: f32 = 14.0;
/// Width of one character of the 12px sans-serif text, roughly.
const CHAR_W: f32 = 7.0;

/// A laid-out box: absolute position and size.
#[derive(Debug, Clone, Copy)]
struct Box2 {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

impl Box2 {
    fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Where the segment from the centre towards `(tx, ty)` leaves the box.
    fn exit_towards(&self, tx: f32, ty: f32) -> (f32, f32) {
        let (cx, cy) = self.center();
        let (dx, dy) = (tx - cx, ty - cy);
        if dx == 0.0 && dy == 0.0 {
            return (cx, cy);
        }
        let sx = if dx == 0.0 {
            f32::INFINITY
        } else {
            (self.w / 2.0) / dx.abs()
        };
        let sy = if dy == 0.0 {
            f32::INFINITY
        } else {
            (self.h / 2.0) / dy.abs()
        };
        let s = sx.min(sy).min(1.0);
        (cx + dx * s, cy + dy * s)
    }
}

/// What a laid-out box shows.
enum Shown {
    /// A container: its title, and how it is drawn.
    Group { title: String, class: &'static str },
    /// A resource (or the internet): the kind's line (with the AWS id, or `not found`), the
    /// name, the checks whose path stops at it.
    Leaf {
        kind: String,
        name: String,
        id: Option<String>,
        missing: bool,
        blocks: Vec<String>,
    },
}

/// The line under a resource that a failed path stops at.
fn blocks_text(check: &str) -> String {
    format!("✗ blocks {check}")
}

struct Layouts {
    tree: TaffyTree<()>,
    shown: Vec<(NodeId, Shown, Option<String>)>,
}

impl Layouts {
    fn leaf(&mut self, kind: &str, name: &str) -> Option<NodeId> {
        self.shown_leaf(Shown::Leaf {
            kind: kind.to_owned(),
            name: name.to_owned(),
            id: None,
            missing: false,
            blocks: Vec::new(),
        })
    }

    fn shown_leaf(&mut self, shown: Shown) -> Option<NodeId> {
        let Shown::Leaf {
            kind,
            name,
            id,
            missing,
            blocks,
        } = &shown
        else {
            return None;
        };
        let kind_line = kind_line(kind, id.as_deref(), *missing);
        let chars = blocks
            .iter()
            .map(|b| blocks_text(b).chars().count())
            .chain([kind_line.chars().count(), name.chars().count()])
            .max()
            .unwrap_or(0) as f32;
        let width = (chars * CHAR_W + 24.0).max(120.0);
        let height = NODE_H + BLOCKS_H * blocks.len() as f32;
        let name = name.clone();
        let id = self
            .tree
            .new_leaf(Style {
                size: Size {
                    width: length(width),
                    height: length(height),
                },
                flex_shrink: 0.0,
                ..Default::default()
            })
            .ok()?;
        self.shown.push((id, shown, Some(name)));
        Some(id)
    }

    fn node(&mut self, n: &Node) -> Option<NodeId> {
        self.shown_leaf(Shown::Leaf {
            kind: n.kind.label().to_owned(),
            name: n.name.clone(),
            id: n.id.clone(),
            missing: n.missing,
            blocks: n.blocks.clone(),
        })
    }

    fn group(
        &mut self,
        title: String,
        class: &'static str,
        name: Option<&str>,
        direction: FlexDirection,
        children: &[NodeId],
    ) -> Option<NodeId> {
        let pad = length(10.0);
        let id = self
            .tree
            .new_with_children(
                Style {
                    flex_direction: direction,
                    flex_wrap: FlexWrap::NoWrap,
                    align_items: AlignItems::FLEX_START,
                    gap: Size {
                        width: length(GAP),
                        height: length(GAP),
                    },
                    padding: Rect {
                        left: pad,
                        right: pad,
                        top: length(TITLE_H + 6.0),
                        bottom: pad,
                    },
                    min_size: Size {
                        width: length((title.len() as f32) * CHAR_W + 24.0),
                        height: length(TITLE_H + 20.0),
                    },
                    flex_shrink: 0.0,
                    ..Default::default()
                },
                children,
            )
            .ok()?;
        self.shown
            .push((id, Shown::Group { title, class }, name.map(str::to_owned)));
        Some(id)
    }

    /// A row (or column) without a frame of its own.
    fn plain(&mut self, direction: FlexDirection, children: &[NodeId]) -> Option<NodeId> {
        self.tree
            .new_with_children(
                Style {
                    flex_direction: direction,
                    align_items: AlignItems::FLEX_START,
                    gap: Size {
                        width: length(GAP * 2.0),
                        height: length(GAP * 2.0),
                    },
                    flex_shrink: 0.0,
                    ..Default::default()
                },
                children,
            )
            .ok()
    }
}

/// The diagram as an SVG document.
pub fn svg(d: &Diagram) -> String {
    let mut l = Layouts {
        tree: TaffyTree::new(),
        shown: Vec::new(),
    };
    let mut top = Vec::new();
    let uses_internet = d
        .edges
        .iter()
        .any(|e| e.from == INTERNET || e.to == INTERNET);
    if uses_internet {
        top.extend(l.leaf("the", INTERNET));
    }
    for n in &d.outside {
        top.extend(l.node(n));
    }
    let mut rows = Vec::new();
    rows.extend(l.plain(FlexDirection::Row, &top));
    for v in &d.vpcs {
        let mut zones = Vec::new();
        for z in &v.zones {
            let mut subnets = Vec::new();
            // Public subnets on top, nearer the internet.
            let mut ordered: Vec<_> = z.subnets.iter().collect();
            ordered.sort_by_key(|s| !s.public);
            for s in ordered {
                let members: Vec<NodeId> = s.members.iter().filter_map(|n| l.node(n)).collect();
                let (title, class) = match (s.missing, s.public) {
                    (true, _) => (
                        format!("subnet {} {}: not found", s.name, s.cidr),
                        "missing-group",
                    ),
                    (false, true) => (
                        with_id(format!("public subnet {} {}", s.name, s.cidr), &s.id),
                        "public",
                    ),
                    (false, false) => (
                        with_id(format!("private subnet {} {}", s.name, s.cidr), &s.id),
                        "private",
                    ),
                };
                subnets.extend(l.group(
                    title,
                    class,
                    Some(&s.name),
                    FlexDirection::Column,
                    &members,
                ));
            }
            let title = match &z.name {
                Some(name) => format!("availability zone {} ({name})", z.az + 1),
                None => format!("availability zone {}", z.az + 1),
            };
            zones.extend(l.group(title, "zone", None, FlexDirection::Column, &subnets));
        }
        let mut inside = Vec::new();
        inside.extend(l.plain(FlexDirection::Row, &zones));
        let members: Vec<NodeId> = v.members.iter().filter_map(|n| l.node(n)).collect();
        // Gateways, route tables, NACLs, groups: a row under the zones, several if many.
        for chunk in members.chunks(4) {
            inside.extend(l.plain(FlexDirection::Row, chunk));
        }
        let (title, class) = if v.missing {
            (
                format!("VPC {} {}: not found", v.name, v.cidr),
                "missing-group",
            )
        } else {
            (with_id(format!("VPC {} {}", v.name, v.cidr), &v.id), "vpc")
        };
        rows.extend(l.group(title, class, Some(&v.name), FlexDirection::Column, &inside));
    }
    let Some(root) = l.plain(FlexDirection::Column, &rows) else {
        return String::new();
    };
    let margin = 20.0;
    if l.tree.compute_layout(root, Size::MAX_CONTENT).is_err() {
        return String::new();
    }
    let boxes = absolute(&l.tree, root, margin, margin + 24.0);
    let (width, height) = l
        .tree
        .layout(root)
        .map(|r| {
            (
                (r.size.width + 2.0 * margin).max(legend_width(d)),
                r.size.height + 2.0 * margin + 24.0 + legend_height(d),
            )
        })
        .unwrap_or((400.0, 300.0));
    let by_name: BTreeMap<&str, Box2> = l
        .shown
        .iter()
        .filter_map(|(id, _, name)| Some((name.as_deref()?, *boxes.get(id)?)))
        .collect();
    draw(d, &l, &boxes, &by_name, width, height)
}

/// A container's title with the AWS id of what was found.
fn with_id(title: String, id: &Option<String>) -> String {
    match id {
        Some(id) => format!("{title} {id}"),
        None => title,
    }
}

/// The small line over a resource's name: its kind, and the AWS id found or `not found`.
fn kind_line(kind: &str, id: Option<&str>, missing: bool) -> String {
    match (id, missing) {
        (_, true) => format!("{kind}: not found"),
        (Some(id), false) => format!("{kind} {id}"),
        (None, false) => kind.to_owned(),
    }
}

/// Every node's box in absolute coordinates.
fn absolute(tree: &TaffyTree<()>, root: NodeId, x: f32, y: f32) -> HashMap<NodeId, Box2> {
    let mut out = HashMap::new();
    let mut stack = vec![(root, x, y)];
    while let Some((id, px, py)) = stack.pop() {
        let Ok(layout) = tree.layout(id) else {
            continue;
        };
        let b = Box2 {
            x: px + layout.location.x,
            y: py + layout.location.y,
            w: layout.size.width,
            h: layout.size.height,
        };
        out.insert(id, b);
        for child in tree.children(id).unwrap_or_default() {
            stack.push((child, b.x, b.y));
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "
text { font-family: sans-serif; font-size: 12px; fill: #1f2933; }
.title { font-size: 16px; font-weight: bold; }
.group-title { font-weight: bold; }
.vpc { fill: #f8fafc; stroke: #334155; stroke-width: 2; }
.zone { fill: none; stroke: #94a3b8; stroke-dasharray: 6 4; }
.public { fill: #ecfdf5; stroke: #059669; }
.private { fill: #eff6ff; stroke: #2563eb; }
.leaf { fill: #ffffff; stroke: #475569; }
.leaf-internet { fill: #fef9c3; stroke: #a16207; }
.kind { font-size: 10px; fill: #64748b; }
.missing, .missing-group { fill: #f1f5f9; stroke: #94a3b8; stroke-dasharray: 5 3; }
.missing-name { font-weight: bold; fill: #94a3b8; }
.blocking { fill: #fef2f2; stroke: #dc2626; stroke-width: 3; }
.blocks { font-size: 11px; font-weight: bold; fill: #dc2626; }
.name { font-weight: bold; }
line.edge { fill: none; stroke: #475569; stroke-width: 1.5; }
line.association, line.uses { stroke-dasharray: 3 3; stroke: #94a3b8; }
line.reachable { stroke: #15803d; stroke-width: 3; }
line.not-reachable { stroke: #b91c1c; stroke-width: 3; stroke-dasharray: 8 4; }
.label { font-size: 11px; }
.label-bg { fill: #ffffff; opacity: 0.85; stroke: none; }
.badge { stroke: #ffffff; stroke-width: 1.5; }
.badge.reachable { fill: #15803d; }
.badge.not-reachable { fill: #b91c1c; }
line.passed { stroke: #15803d; stroke-width: 3.5; }
line.failed { stroke: #dc2626; stroke-width: 4; }
.badge.passed { fill: #15803d; }
.badge.failed { fill: #dc2626; }
.badge-text { fill: #ffffff; font-size: 11px; font-weight: bold; }
";

fn draw(
    d: &Diagram,
    l: &Layouts,
    boxes: &HashMap<NodeId, Box2>,
    by_name: &BTreeMap<&str, Box2>,
    width: f32,
    height: f32,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">\n<title>{}</title>\n<style>{STYLE}</style>\n",
        esc(&format!("awslab lab {}", d.lab))
    );
    out.push_str(
        "<defs>\n<marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#475569\"/></marker>\n<marker id=\"arrow-ok\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#15803d\"/></marker>\n<marker id=\"arrow-bad\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#dc2626\"/></marker>\n<marker id=\"cross\" viewBox=\"0 0 10 10\" refX=\"5\" refY=\"5\" markerWidth=\"10\" markerHeight=\"10\"><path d=\"M1,1 L9,9 M9,1 L1,9\" stroke=\"#b91c1c\" stroke-width=\"2\"/></marker>\n</defs>\n",
    );
    let _ = writeln!(
        out,
        "<text class=\"title\" x=\"20\" y=\"26\">{}</text>",
        esc(&if d.found {
            format!("{}: as `awslab check` found it in the account", d.lab)
        } else if d.graded {
            format!("{}: the paths as `awslab check` found them", d.lab)
        } else {
            format!("{} (as the lab declares it)", d.lab)
        })
    );
    // Containers first (in the order they were made: inner before outer, so outer first
    // here), then leaves, then edges over them.
    let mut groups: Vec<(&Box2, &str, &str)> = l
        .shown
        .iter()
        .filter_map(|(id, shown, _)| match shown {
            Shown::Group { title, class } => Some((boxes.get(id)?, title.as_str(), *class)),
            Shown::Leaf { .. } => None,
        })
        .collect();
    groups.sort_by(|a, b| (b.0.w * b.0.h).total_cmp(&(a.0.w * a.0.h)));
    for (b, title, class) in groups {
        let _ = writeln!(
            out,
            "<g class=\"group\"><rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\"/><text class=\"group-title\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            b.x,
            b.y,
            b.w,
            b.h,
            b.x + 10.0,
            b.y + 18.0,
            esc(title)
        );
    }
    // Lines under the resources' boxes, so a line crossing a box does not cover its name.
    let mut legend: Vec<(usize, &str, &super::Edge)> = Vec::new();
    let mut marks = String::new();
    for e in &d.edges {
        let (Some(from), Some(to)) = (by_name.get(e.from.as_str()), by_name.get(e.to.as_str()))
        else {
            continue;
        };
        let path = matches!(e.style, EdgeStyle::Reachable | EdgeStyle::NotReachable);
        let (tx, ty) = to.center();
        let (fx, fy) = from.center();
        let (x1, y1) = from.exit_towards(tx, ty);
        let (x2, y2) = to.exit_towards(fx, fy);
        let (class, marker) = match (e.style, &e.result) {
            (_, Some(r)) if r.passed => ("passed", " marker-end=\"url(#arrow-ok)\""),
            (_, Some(_)) => ("failed", " marker-end=\"url(#arrow-bad)\""),
            (EdgeStyle::Route, None) => ("route", " marker-end=\"url(#arrow)\""),
            (EdgeStyle::Association, None) => ("association", ""),
            (EdgeStyle::Uses, None) => ("uses", ""),
            (EdgeStyle::Reachable, None) => ("reachable", " marker-end=\"url(#arrow-ok)\""),
            (EdgeStyle::NotReachable, None) => ("not-reachable", " marker-end=\"url(#cross)\""),
        };
        let check = e
            .check
            .as_deref()
            .map(|c| format!(" data-check=\"{}\"", esc(c)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<g class=\"path {class}\" data-from=\"{}\" data-to=\"{}\"{check}><line class=\"edge {class}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\"{marker}/>",
            esc(&e.from),
            esc(&e.to)
        );
        if path {
            let n = legend.len() + 1;
            legend.push((n, class, e));
            // A numbered badge a third of the way, so that paths sharing an end stay apart.
            let (bx, by) = (x1 + (x2 - x1) * 0.35, y1 + (y2 - y1) * 0.35);
            let _ = write!(
                marks,
                "<g class=\"mark\"><title>{}</title><circle class=\"badge {class}\" cx=\"{bx:.1}\" cy=\"{by:.1}\" r=\"9\"/><text class=\"badge-text\" text-anchor=\"middle\" x=\"{bx:.1}\" y=\"{:.1}\">{n}</text></g>",
                esc(&e.label),
                by + 4.0
            );
        } else if !e.label.is_empty() {
            let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
            let w = e.label.len() as f32 * 6.2 + 8.0;
            let _ = write!(
                marks,
                "<g class=\"mark\"><rect class=\"label-bg\" x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"16\" rx=\"3\"/><text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                mx - w / 2.0,
                my - 11.0,
                mx - w / 2.0 + 4.0,
                my + 1.0,
                esc(&e.label)
            );
        }
        out.push_str("</g>\n");
    }
    // Resources over the lines that cross them; badges and labels over everything.
    for (node, shown, _) in &l.shown {
        let (
            Shown::Leaf {
                kind,
                name,
                id,
                missing,
                blocks,
            },
            Some(b),
        ) = (shown, boxes.get(node))
        else {
            continue;
        };
        let internet = name == INTERNET && kind == "the";
        let class = match (internet, *missing, blocks.is_empty()) {
            (true, _, _) => "leaf-internet",
            (false, true, _) => "leaf missing",
            (false, false, false) => "leaf blocking",
            (false, false, true) => "leaf",
        };
        let kind_text = if internet {
            String::new()
        } else {
            kind_line(kind, id.as_deref(), *missing)
        };
        let mut data = String::new();
        if let Some(id) = id {
            let _ = write!(data, " data-id=\"{}\"", esc(id));
        }
        if *missing {
            data.push_str(" data-missing=\"true\"");
        }
        if !blocks.is_empty() {
            let _ = write!(data, " data-blocks=\"{}\"", esc(&blocks.join(" ")));
        }
        let _ = write!(
            out,
            "<g class=\"resource\" data-name=\"{}\"{data}><rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{}\"/><text class=\"kind\" x=\"{:.1}\" y=\"{:.1}\">{}</text><text class=\"{}\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            esc(name),
            b.x,
            b.y,
            b.w,
            b.h,
            if internet { 18 } else { 4 },
            b.x + 10.0,
            b.y + 14.0,
            esc(&kind_text),
            if *missing { "missing-name" } else { "name" },
            b.x + 10.0,
            b.y + 31.0,
            esc(name)
        );
        for (i, check) in blocks.iter().enumerate() {
            let _ = write!(
                out,
                "<text class=\"blocks\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                b.x + 10.0,
                b.y + NODE_H + 10.0 + BLOCKS_H * i as f32,
                esc(&blocks_text(check))
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str(&marks);
    // The paths the checks ask about, by number.
    let top = height - legend_height(d) - 4.0;
    for (i, (n, class, e)) in legend.iter().enumerate() {
        let y = top + 18.0 * i as f32 + 14.0;
        let label = legend_label(e);
        let _ = writeln!(
            out,
            "<g class=\"legend\"><circle class=\"badge {class}\" cx=\"30\" cy=\"{:.1}\" r=\"8\"/><text class=\"badge-text\" text-anchor=\"middle\" x=\"30\" y=\"{:.1}\">{n}</text><text x=\"46\" y=\"{:.1}\">{}</text></g>",
            y - 4.0,
            y,
            y,
            esc(&label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A checked path's line in the legend: what it asks, and what check found.
fn legend_label(e: &super::Edge) -> String {
    let what = if e.style == EdgeStyle::Reachable {
        "must be open"
    } else {
        "must be closed"
    };
    match &e.result {
        None => format!("{} ({what})", e.label),
        Some(r) if r.passed => format!("{} ({what}): passed", e.label),
        Some(r) => {
            let mut message: String = r.message.chars().take(150).collect();
            if r.message.chars().count() > 150 {
                message.push('…');
            }
            format!("{} ({what}): FAILED: {message}", e.label)
        }
    }
}

/// Room beside the legend's longest line.
fn legend_width(d: &Diagram) -> f32 {
    d.edges
        .iter()
        .filter(|e| matches!(e.style, EdgeStyle::Reachable | EdgeStyle::NotReachable))
        .map(|e| legend_label(e).chars().count() as f32 * CHAR_W + 70.0)
        .fold(0.0, f32::max)
}

/// Room under the drawing for the list of checked paths.
fn legend_height(d: &Diagram) -> f32 {
    let paths = d
        .edges
        .iter()
        .filter(|e| matches!(e.style, EdgeStyle::Reachable | EdgeStyle::NotReachable))
        .count();
    if paths == 0 {
        0.0
    } else {
        18.0 * paths as f32 + 8.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::diagram::{of_lab, svg};
    use crate::lab::catalog::{BUNDLED, LabSource, load_text};

    /// The SVG's elements as (name, attributes, text), read by an XML parser (it must parse).
    fn elements(doc: &str) -> Vec<(String, BTreeMap<String, String>, String)> {
        let mut reader = quick_xml::Reader::from_str(doc);
        let mut out: Vec<(String, BTreeMap<String, String>, String)> = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            (
                                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                                String::from_utf8_lossy(&a.value).into_owned(),
                            )
                        })
                        .collect();
                    out.push((
                        String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                        attrs,
                        String::new(),
                    ));
                }
                quick_xml::events::Event::Text(t) => {
                    if let Some(last) = out.last_mut() {
                        last.2.push_str(&t.decode().expect("text"));
                    }
                }
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn every_bundled_lab_draws_as_svg_naming_every_resource() {
        for (id, text) in BUNDLED {
            let lab = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
                .expect("loads")
                .lab;
            let doc = svg(&of_lab(&lab));
            assert!(
                doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
                "{id}"
            );
            assert!(!doc.contains("<script"), "{id}: no script");
            assert!(!doc.contains("href"), "{id}: nothing to fetch");
            let els = elements(&doc);
            let texts: Vec<&str> = els
                .iter()
                .filter(|(n, _, _)| n == "text")
                .map(|(_, _, t)| t.trim())
                .collect();
            for r in &lab.resources {
                assert!(
                    texts
                        .iter()
                        .any(|t| *t == r.name || t.split_whitespace().any(|w| w == r.name)),
                    "{id}: {} is not named in the SVG",
                    r.name
                );
            }
        }
    }

    #[test]
    fn the_vpc_lab_shows_zones_subnets_by_their_routes_and_the_checked_paths() {
        let (id, text) = BUNDLED
            .iter()
            .find(|(b, _)| *b == "vpc-public-private")
            .expect("bundled");
        let lab = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
            .expect("loads")
            .lab;
        let els = elements(&svg(&of_lab(&lab)));
        let texts: Vec<&str> = els
            .iter()
            .filter(|(n, _, _)| n == "text")
            .map(|(_, _, t)| t.trim())
            .collect();
        for t in [
            "VPC lab-vpc 10.0.0.0/16",
            "availability zone 1",
            "availability zone 2",
            "public subnet public-a 10.0.1.0/24",
            "private subnet private-b 10.0.12.0/24",
            "ssh-bastion-to-app: tcp 22 (must be open)",
            "no-ssh-to-app-from-internet: tcp 22 (must be closed)",
        ] {
            assert!(texts.contains(&t), "{t} missing: {texts:?}");
        }
        let paths: Vec<(&str, &str, &str)> = els
            .iter()
            .filter(|(n, a, _)| n == "g" && a.get("class").is_some_and(|c| c.starts_with("path ")))
            .map(|(_, a, _)| {
                (
                    a["class"].as_str(),
                    a["data-from"].as_str(),
                    a["data-to"].as_str(),
                )
            })
            .collect();
        assert!(
            paths.contains(&("path not-reachable", "internet", "app")),
            "{paths:?}"
        );
        assert!(
            paths.contains(&("path reachable", "bastion", "app")),
            "{paths:?}"
        );
        assert!(
            paths.contains(&("path route", "private-rt", "lab-nat")),
            "{paths:?}"
        );
    }

    #[test]
    fn the_readme_picture_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/vpc-public-private.svg");
        let (id, text) = BUNDLED
            .iter()
            .find(|(b, _)| *b == "vpc-public-private")
            .expect("bundled");
        let lab = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
            .expect("loads")
            .lab;
        let generated = svg(&of_lab(&lab));
        if std::env::var_os("AWSLAB_UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).expect("write");
        }
        let shipped = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            shipped == generated,
            "docs/vpc-public-private.svg is stale: run AWSLAB_UPDATE_DOCS=1 cargo test --lib diagram"
        );
    }

    #[test]
    fn check_results_colour_the_paths_and_the_failing_message_is_in_the_legend() {
        use crate::check::{CheckResult, Report, Status};
        let (id, text) = BUNDLED
            .iter()
            .find(|(b, _)| *b == "vpc-public-private")
            .expect("bundled");
        let lab = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
            .expect("loads")
            .lab;
        let result = |id: &str, status: Status, message: &str| CheckResult {
            id: id.to_owned(),
            title: id.to_owned(),
            status,
            points: 0,
            max_points: 2,
            message: message.to_owned(),
            hint: String::new(),
            expected: None,
            found: None,
            found_by: None,
            blocked: None,
        };
        let report = Report::new(
            lab.id.clone(),
            "student".to_owned(),
            crate::lab::StageSel::Full,
            vec![
                result("ssh-to-bastion", Status::Pass, "open"),
                result(
                    "ssh-bastion-to-app",
                    Status::Fail,
                    "blocked by private-nacl: no outbound rule allows TCP 1024-65535",
                ),
                result("app-egress-https", Status::Skip, "not on an emulator"),
            ],
        );
        let drawn = crate::diagram::with_results(of_lab(&lab), &report);
        let doc = svg(&drawn);
        let els = elements(&doc);
        let class_of = |check: &str| {
            els.iter()
                .find(|(n, a, _)| n == "g" && a.get("data-check").is_some_and(|c| c == check))
                .map(|(_, a, _)| a["class"].clone())
                .unwrap_or_default()
        };
        assert_eq!(class_of("ssh-to-bastion"), "path passed");
        assert_eq!(class_of("ssh-bastion-to-app"), "path failed");
        // Skipped, or not in the report: drawn as the lab asks.
        assert_eq!(class_of("app-egress-https"), "path reachable");
        assert_eq!(
            class_of("no-ssh-to-app-from-internet"),
            "path not-reachable"
        );
        let texts: Vec<&str> = els
            .iter()
            .filter(|(n, _, _)| n == "text")
            .map(|(_, _, t)| t.trim())
            .collect();
        assert!(texts.contains(
            &"ssh-bastion-to-app: tcp 22 (must be open): FAILED: blocked by private-nacl: no outbound rule allows TCP 1024-65535"
        ), "{texts:?}");
        assert!(texts.contains(&"ssh-to-bastion: tcp 22 (must be open): passed"));
        assert!(doc.contains("line.failed { stroke: #dc2626"));
        let width: f32 = els
            .iter()
            .find(|(n, _, _)| n == "svg")
            .and_then(|(_, a, _)| a["width"].parse().ok())
            .expect("width");
        assert!(
            width > 110.0 * 7.0,
            "the legend's longest line fits: {width}"
        );
        if let Some(dir) = std::env::var_os("AWSLAB_DIAGRAM_OUT") {
            std::fs::write(std::path::Path::new(&dir).join("graded.svg"), &doc).expect("write");
        }
        let mermaid = crate::diagram::mermaid(&drawn);
        assert!(mermaid.contains("stroke:#dc2626"), "{mermaid}");
        assert!(mermaid.contains("stroke:#15803d"), "{mermaid}");
    }
}
