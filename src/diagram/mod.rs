//! A picture of a lab's network: the model ([`model`]: VPCs, a column per availability zone,
//! subnets public or private by their routes, what is in them, routes and reachability paths),
//! drawn as a self-contained SVG ([`svg`]) or a Mermaid flowchart ([`mermaid`]); the model is
//! built from the lab's declaration ([`of_lab`]) or from what `check` found in the account
//! ([`of_found`]).

mod found;
pub mod mermaid;
pub mod model;
pub mod svg;

pub use found::of_found;
pub use mermaid::mermaid;
pub use model::{Diagram, Edge, EdgeStyle, Node, PathResult, of_lab, with_results};
pub use svg::svg;
