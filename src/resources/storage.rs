//! A root EBS volume as instances and launch templates declare it (`root_volume = { size = 8,
//! type = "gp3", encrypted = true }`): its keys, their located validation, and the block device
//! mapping it becomes. The mapping names the image's root device, which only the image knows.

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateEbsBlockDeviceRequest, VolumeType,
};
use toml::Spanned;

use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::SpecCx;

/// The EBS volume types a lab may name.
pub const VOLUME_TYPES: &[&str] = &["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"];

/// The largest EBS volume, in GiB.
const MAX_GIB: i64 = 16_384;

/// A root volume: size in GiB (the image's when `None`), type, and whether it is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RootVolume {
    pub size: Option<i32>,
    pub volume_type: String,
    pub encrypted: bool,
}

impl std::fmt::Display for RootVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.size {
            Some(gib) => write!(f, "{gib} GiB ")?,
            None => f.write_str("image size ")?,
        }
        write!(
            f,
            "{}, {}",
            self.volume_type,
            if self.encrypted {
                "encrypted"
            } else {
                "not encrypted"
            }
        )
    }
}

/// `root_volume` as written.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RootVolumeDef {
    /// Size in GiB (1 to 16384; the image's size when left out).
    #[schemars(with = "Option<i64>")]
    pub size: Option<Spanned<i64>>,
    /// Volume type: gp3 (default), gp2, io1, io2, st1, sc1 or standard.
    #[serde(rename = "type")]
    #[schemars(with = "Option<String>")]
    pub volume_type: Option<Spanned<String>>,
    /// Encrypt the volume with the account's default EBS key.
    #[schemars(with = "Option<bool>")]
    pub encrypted: Option<Spanned<bool>>,
}

/// A volume size in GiB, 1 to 16384; a located error otherwise.
pub(crate) fn size(cx: &mut SpecCx<'_, '_, '_>, s: &Spanned<i64>) -> Option<i32> {
    match i32::try_from(*s.get_ref()) {
        Ok(n) if (1..=MAX_GIB).contains(&i64::from(n)) => Some(n),
        _ => {
            cx.error(
                s.span(),
                format!("size {} GiB is outside 1-{MAX_GIB}", s.get_ref()),
                "invalid size",
            );
            None
        }
    }
}

/// A volume type from [`VOLUME_TYPES`] (default `gp3`); a located error otherwise.
pub(crate) fn volume_type(cx: &mut SpecCx<'_, '_, '_>, t: &Option<Spanned<String>>) -> String {
    match t {
        None => "gp3".to_owned(),
        Some(t) if VOLUME_TYPES.contains(&t.get_ref().as_str()) => t.get_ref().clone(),
        Some(t) => {
            cx.error(
                t.span(),
                format!("`{}` is not an EBS volume type", t.get_ref()),
                "invalid volume type",
            );
            cx.help(format!("use one of {}", VOLUME_TYPES.join(", ")));
            "gp3".to_owned()
        }
    }
}

/// `root_volume` of an instance or a launch template.
pub(crate) fn parse(
    cx: &mut SpecCx<'_, '_, '_>,
    def: &Option<Spanned<RootVolumeDef>>,
) -> Option<RootVolume> {
    let d = def.as_ref()?.get_ref();
    Some(RootVolume {
        size: d.size.as_ref().and_then(|s| size(cx, s)),
        volume_type: volume_type(cx, &d.volume_type),
        encrypted: d.encrypted.as_ref().is_some_and(|e| *e.get_ref()),
    })
}

/// The root device name of `image` (`/dev/xvda` on Amazon Linux): a block device mapping for
/// the root volume must name it.
pub async fn root_device(aws: &Aws, image: &str, resource: &str) -> Result<String, AwsError> {
    let out = aws
        .known("ec2:DescribeImages", resource, || {
            aws.ec2.describe_images().image_ids(image).send()
        })
        .await?;
    out.images()
        .first()
        .and_then(|i| i.root_device_name())
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeImages",
                resource,
                Fault::NoId {
                    what: "root device name",
                },
            )
        })
}

/// The root volume as `RunInstances` takes it.
pub fn instance_mapping(v: &RootVolume, device: &str) -> BlockDeviceMapping {
    BlockDeviceMapping::builder()
        .device_name(device)
        .ebs(
            EbsBlockDevice::builder()
                .set_volume_size(v.size)
                .volume_type(VolumeType::from(v.volume_type.as_str()))
                .encrypted(v.encrypted)
                .delete_on_termination(true)
                .build(),
        )
        .build()
}

/// The root volume as a launch template takes it.
pub fn template_mapping(v: &RootVolume, device: &str) -> LaunchTemplateBlockDeviceMappingRequest {
    LaunchTemplateBlockDeviceMappingRequest::builder()
        .device_name(device)
        .ebs(
            LaunchTemplateEbsBlockDeviceRequest::builder()
                .set_volume_size(v.size)
                .volume_type(VolumeType::from(v.volume_type.as_str()))
                .encrypted(v.encrypted)
                .delete_on_termination(true)
                .build(),
        )
        .build()
}
