//! An image in a repository, and what its scan found.

use super::*;
use crate::resources::ImageFacts;

/// The tag is in the repository; the digest is the evidence.
pub(super) fn ecr_image(
    repository: &str,
    tag: &str,
    bound: &Bindings,
    world: &World,
) -> Result<String, Failure> {
    let repo = bound.get(repository).ok_or_else(|| Failure::NotFound {
        noun: Some(Noun::Repository),
        name: repository.to_owned(),
    })?;
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
            Err(Failure::NoSuchTag {
                repository: repo.id.clone(),
                tag: tag.to_owned(),
                tags,
            })
        }
    }
}
