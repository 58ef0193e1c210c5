//! An image in a repository, and what its scan found.

use super::*;
use crate::resources::ImageFacts;

/// The tag is in the repository; the digest is the evidence.
pub(super) fn ecr_image(
    repository: &str,
    tag: &str,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let repo = bound
        .get(repository)
        .ok_or_else(|| format!("repository `{repository}` was not found"))?;
    let image = world.get(&format!("{}:{tag}", repo.id));
    match image.map(|i| &i.facts) {
        Some(Facts::Image(ImageFacts {
            digest,
            scan_status,
            ..
        })) => Ok(format!(
            "{}:{tag} = {digest}{}",
            repo.id,
            scan_status
                .as_deref()
                .map(|s| format!(" (scan {s})"))
                .unwrap_or_default()
        )),
        _ => {
            let tags: Vec<String> = world
                .of_kind(Kind::Image)
                .filter_map(|i| match &i.facts {
                    Facts::Image(ImageFacts {
                        repository: r, tag, ..
                    }) if *r == repo.id => Some(tag.clone()),
                    _ => None,
                })
                .collect();
            Err(format!(
                "{} has no image tagged {tag} (tags: {})",
                repo.id,
                if tags.is_empty() {
                    "none".to_owned()
                } else {
                    tags.join(", ")
                }
            ))
        }
    }
}
