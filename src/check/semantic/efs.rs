//! An EFS file system mountable from where it is used.

use thiserror::Error;

use super::*;
use crate::resources::MountTargetFacts;

/// NFS port.
pub(super) const NFS: u16 = 2049;

/// Why an instance cannot mount the file system.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Mounting {
    #[error("{instance}: availability zone unknown")]
    AzUnknown { instance: String },
    /// No mount target in the instance's zone; `targets` is each one with its zone.
    #[error(
        "{instance} is in {az}, where {file_system} has no mount target (mount targets: {})",
        list_or(.targets, "none")
    )]
    NoTargetInAz {
        instance: String,
        az: String,
        file_system: String,
        targets: Vec<String>,
    },
    #[error("mount target {mount_target} in {az} is {state}, not available")]
    TargetState {
        mount_target: String,
        az: String,
        state: String,
    },
    /// NFS from the instance to the mount target does not get through.
    #[error("{instance} cannot reach mount target {mount_target} on NFS: {why}")]
    Unreachable {
        instance: String,
        mount_target: String,
        why: reach::Unreachable,
    },
}

/// Each instance has a mount target of the file system in its AZ and reaches it on NFS.
pub(super) fn efs_mountable(
    file_system: &str,
    instances: &[String],
    bound: &Bindings,
    world: &World,
) -> Result<String, Failure> {
    let fs = bound.get(file_system).ok_or_else(|| Failure::NotFound {
        noun: Some(Noun::FileSystem),
        name: file_system.to_owned(),
    })?;
    let targets: Vec<&Observed> = world
        .of_kind(Kind::MountTarget)
        .filter(|m| matches!(&m.facts, Facts::MountTarget(MountTargetFacts { file_system_id, .. }) if *file_system_id == fs.id))
        .collect();
    let mut evidence = Vec::new();
    for name in instances {
        let instance = bound.get(name).ok_or_else(|| Failure::NotFound {
            noun: Some(Noun::Instance),
            name: name.clone(),
        })?;
        let az = az_of(instance, world).ok_or_else(|| Mounting::AzUnknown {
            instance: name.clone(),
        })?;
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
            return Err(Mounting::NoTargetInAz {
                instance: name.clone(),
                az: az.to_owned(),
                file_system: file_system.to_owned(),
                targets: have,
            }
            .into());
        };
        if let Facts::MountTarget(MountTargetFacts { state, .. }) = &mt.facts
            && state != "available"
        {
            return Err(Mounting::TargetState {
                mount_target: bound.label(&mt.id),
                az: az.to_owned(),
                state: state.clone(),
            }
            .into());
        }
        let traffic = Traffic {
            proto: crate::lab::Proto::Tcp,
            port: Some(NFS),
        };
        let path = reach::to_mount_target(world, bound, name, mt, traffic).map_err(|why| {
            Mounting::Unreachable {
                instance: name.clone(),
                mount_target: bound.label(&mt.id),
                why,
            }
        })?;
        evidence.push(format!("{name} ({az}): {path}"));
    }
    Ok(evidence.join("; "))
}
