//! Choosing one image of an archive or layout that holds several: by a reference the user gives
//! (`web:v1`, `docker.io/library/web:v1`, the tag an OCI layout records, or a digest), and never
//! silently the first.

use std::path::Path;

use super::error::ImageError;

/// One image an input holds: the names it goes by and its digest.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub refs: Vec<String>,
    pub digest: String,
}

impl Candidate {
    /// How the image is listed: its first `name:tag`, else its first name, else its digest.
    pub fn label(&self) -> String {
        let names: Vec<String> = self.refs.iter().map(|r| short(r)).collect();
        names
            .iter()
            .find(|r| r.contains(':') || r.contains('/'))
            .or(names.first())
            .cloned()
            .unwrap_or_else(|| format!("{} (untagged)", self.digest))
    }

    fn answers_to(&self, wanted: &str) -> bool {
        let wanted_short = short(wanted);
        self.refs
            .iter()
            .any(|r| r == wanted || short(r) == wanted_short)
            || self.digest == wanted
            || (wanted.starts_with("sha256:")
                && wanted.len() >= "sha256:".len() + 12
                && self.digest.starts_with(wanted))
    }
}

/// `docker.io/library/web:v1` as `web:v1` (how `docker images` shows it).
fn short(r: &str) -> String {
    let r = r.strip_prefix("docker.io/").unwrap_or(r);
    let r = r.strip_prefix("library/").unwrap_or(r);
    r.to_owned()
}

/// The index of the image to push among `candidates` (images with the same digest count once).
pub fn choose(
    path: &Path,
    candidates: &[Candidate],
    wanted: Option<&str>,
) -> Result<usize, ImageError> {
    let mut distinct: Vec<usize> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if !distinct.iter().any(|d| candidates[*d].digest == c.digest) {
            distinct.push(i);
        }
    }
    let labels = |which: &[usize]| -> Vec<String> {
        which
            .iter()
            .map(|i| {
                let digest = &candidates[*i].digest;
                let mut refs: Vec<String> = candidates
                    .iter()
                    .filter(|c| c.digest == *digest)
                    .map(Candidate::label)
                    .collect();
                refs.sort();
                refs.dedup();
                match refs.split_first() {
                    Some((first, [])) => first.clone(),
                    Some((first, rest)) => format!("{first} (also {})", rest.join(", ")),
                    None => digest.clone(),
                }
            })
            .collect()
    };
    match wanted {
        None => match distinct.as_slice() {
            [] => Err(ImageError::NotAnImage {
                path: path.to_path_buf(),
                why: "it lists no image".to_owned(),
            }),
            [one] => Ok(*one),
            several => Err(ImageError::SeveralImages {
                path: path.to_path_buf(),
                refs: labels(several),
            }),
        },
        Some(w) => {
            let matching: Vec<usize> = distinct
                .iter()
                .copied()
                .filter(|i| {
                    let digest = &candidates[*i].digest;
                    candidates
                        .iter()
                        .any(|c| c.digest == *digest && c.answers_to(w))
                })
                .collect();
            match matching.as_slice() {
                [one] => Ok(*one),
                [] => Err(ImageError::NoSuchImage {
                    path: path.to_path_buf(),
                    wanted: w.to_owned(),
                    refs: labels(&distinct),
                }),
                several => Err(ImageError::Ambiguous {
                    path: path.to_path_buf(),
                    wanted: w.to_owned(),
                    refs: labels(several),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(refs: &[&str], digest: &str) -> Candidate {
        Candidate {
            refs: refs.iter().map(|r| (*r).to_owned()).collect(),
            digest: digest.to_owned(),
        }
    }

    #[test]
    fn one_image_is_chosen_by_any_of_its_names_and_several_need_a_choice() {
        let p = Path::new("images.tar");
        let all = [
            c(
                &["docker.io/library/web:v1", "v1"],
                "sha256:aaaaaaaaaaaaaaaa1",
            ),
            c(
                &["docker.io/library/api:v1", "v1"],
                "sha256:bbbbbbbbbbbbbbbb2",
            ),
            c(
                &["docker.io/library/web:latest"],
                "sha256:aaaaaaaaaaaaaaaa1",
            ),
        ];
        let err = choose(p, &all, None).expect_err("several").to_string();
        assert_eq!(
            err,
            "images.tar holds 2 images: web:latest (also web:v1), api:v1"
        );
        assert_eq!(choose(p, &all, Some("web:v1")).expect("short"), 0);
        assert_eq!(choose(p, &all, Some("web:latest")).expect("same image"), 0);
        assert_eq!(
            choose(p, &all, Some("docker.io/library/api:v1")).expect("long"),
            1
        );
        assert_eq!(
            choose(p, &all, Some("sha256:bbbbbbbbbbbb")).expect("digest"),
            1
        );
        let err = choose(p, &all, Some("v1"))
            .expect_err("ambiguous")
            .to_string();
        assert!(err.contains("\"v1\" names 2 images"), "{err}");
        let err = choose(p, &all, Some("db:v1"))
            .expect_err("none")
            .to_string();
        assert!(err.contains("holds no image \"db:v1\""), "{err}");
        assert_eq!(choose(p, &all[..1], None).expect("one"), 0);
        assert_eq!(
            c(&[], "sha256:ab").label(),
            "sha256:ab (untagged)".to_owned()
        );
    }
}
