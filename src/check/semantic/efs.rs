//! An EFS file system mountable from where it is used.

use super::*;
use crate::resources::MountTargetFacts;

/// NFS port.
pub(super) const NFS: u16 = 2049;

/// Each instance has a mount target of the file system in its AZ and reaches it on NFS.
pub(super) fn efs_mountable(
    file_system: &str,
    instances: &[String],
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let fs = bound
        .get(file_system)
        .ok_or_else(|| format!("file system `{file_system}` was not found"))?;
    let targets: Vec<&Observed> = world
        .of_kind(Kind::MountTarget)
        .filter(|m| matches!(&m.facts, Facts::MountTarget(MountTargetFacts { file_system_id, .. }) if *file_system_id == fs.id))
        .collect();
    let mut evidence = Vec::new();
    for name in instances {
        let instance = bound
            .get(name)
            .ok_or_else(|| format!("instance `{name}` was not found"))?;
        let az =
            az_of(instance, world).ok_or_else(|| format!("{name}: availability zone unknown"))?;
        let Some(mt) = targets.iter().find(|m| az_of(m, world) == Some(az)) else {
            let have: Vec<String> = targets
                .iter()
                .map(|m| {
                    format!(
                        "{} in {}",
                        bound.label(&m.id),
                        az_of(m, world).unwrap_or("?")
                    )
                })
                .collect();
            return Err(format!(
                "{name} is in {az}, where {file_system} has no mount target (mount targets: {})",
                if have.is_empty() {
                    "none".to_owned()
                } else {
                    have.join(", ")
                }
            ));
        };
        if let Facts::MountTarget(MountTargetFacts { state, .. }) = &mt.facts
            && state != "available"
        {
            return Err(format!(
                "mount target {} in {az} is {state}, not available",
                bound.label(&mt.id)
            ));
        }
        let traffic = Traffic {
            proto: crate::lab::Proto::Tcp,
            port: Some(NFS),
        };
        let path = reach::to_mount_target(world, bound, name, mt, traffic).map_err(|why| {
            format!(
                "{name} cannot reach mount target {} on NFS: {why}",
                bound.label(&mt.id)
            )
        })?;
        evidence.push(format!("{name} ({az}): {path}"));
    }
    Ok(evidence.join("; "))
}
