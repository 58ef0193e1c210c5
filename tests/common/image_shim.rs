//! `CreateImage` as AWS documents it, in front of moto 5.2.5, which differs in two ways: it
//! raises `NotImplementedError` (an HTTP 500 with no body) for a `snapshot` entry of
//! `TagSpecifications`, and the snapshot it makes for the image is of a fresh unencrypted volume,
//! whatever the instance's root volume is. On AWS the image's snapshots carry the `snapshot` tags
//! from the start, and a snapshot of an encrypted volume is encrypted ("CreateImage", EC2 API
//! Reference; "Amazon EBS encryption", EBS User Guide).
//!
//! The tests that run the golden-ami lab put this shim in front of moto ([`super::image_endpoint`],
//! one per test process), behind their fault proxies, as the proxy's `Faults::images` hook. Moto
//! answers everything else as it does; MiniStack has no `CreateImage` and gets no shim. What the
//! shim does:
//!
//! - **`CreateImage`** is forwarded without its `snapshot` tag specification; when moto has made
//!   the image, the shim tags the image's snapshots with those tags (`CreateTags`) and records
//!   whether each is encrypted: as the instance's volume on that device is (the root volume for
//!   the root device). Only then is moto's answer returned, so no caller sees an untagged
//!   snapshot.
//! - **`DescribeImages`** and **`DescribeSnapshots`** are forwarded; the `encrypted` flag of a
//!   recorded snapshot is set in the answer (added to an image's block device mapping, where
//!   moto leaves it out).
//!
//! Not modelled: a `Encrypted` filter over recorded snapshots, and images of instances with more
//! than the root volume (moto maps only the root device).

use std::collections::HashMap;

use tokio::sync::Mutex;

use super::aws_model::{Doc, El, HttpResponse, Node, form_pairs, with_length};
use super::proxy::{Call, forward_raw};

#[derive(Debug, Default)]
pub struct ImageShim {
    /// Snapshot id -> whether it is encrypted, for the snapshots of images made here.
    encrypted: Mutex<HashMap<String, bool>>,
    /// How many of the next images AWS gives up on making, and those it gave up on: they are
    /// described `failed`, with AWS's reason, until deregistered.
    failing: Mutex<(u32, Vec<String>)>,
}

impl ImageShim {
    /// A shim whose next `n` images fail, as AWS reports an image it gave up on making.
    pub fn failing(n: u32) -> ImageShim {
        ImageShim {
            failing: Mutex::new((n, Vec::new())),
            ..ImageShim::default()
        }
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One EC2 call to the emulator with the request's head (its region and credentials); the
/// document of a successful answer.
async fn ec2(
    upstream: &str,
    call: &Call,
    pairs: &[(String, String)],
) -> std::io::Result<Option<Doc>> {
    let body = form(pairs);
    let head = with_length(&call.head, body.len());
    let raw = forward_raw(upstream, &head, body.as_bytes()).await?;
    Ok(HttpResponse::parse(&raw)
        .filter(|r| r.status < 300)
        .and_then(|r| Doc::parse(&String::from_utf8_lossy(&r.body))))
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

/// Every element named `name` under `root`, depth first.
fn all<'a>(root: &'a El, name: &str, out: &mut Vec<&'a El>) {
    for e in root.elements() {
        if e.name == name {
            out.push(e);
        }
        all(e, name, out);
    }
}

impl ImageShim {
    /// The proxy's hook: the answer to a call the shim handles, `None` to forward the call.
    pub(super) async fn answer(
        &self,
        upstream: &str,
        call: &Call,
    ) -> std::io::Result<Option<Vec<u8>>> {
        if call.service != "ec2" || call.json {
            return Ok(None);
        }
        match call.action.as_str() {
            "CreateImage" => self.create_image(upstream, call).await.map(Some),
            "DescribeImages" | "DescribeSnapshots" => self.describe(upstream, call).await.map(Some),
            _ => Ok(None),
        }
    }

    async fn create_image(&self, upstream: &str, call: &Call) -> std::io::Result<Vec<u8>> {
        let pairs = form_pairs(&String::from_utf8_lossy(&call.body));
        // TagSpecification.N.ResourceType=snapshot: N, and its tags.
        let snapshot_specs: Vec<String> = pairs
            .iter()
            .filter(|(k, v)| {
                k.starts_with("TagSpecification.")
                    && k.ends_with(".ResourceType")
                    && v == "snapshot"
            })
            .filter_map(|(k, _)| k.split('.').nth(1).map(str::to_owned))
            .collect();
        let mut tags: Vec<(String, String)> = Vec::new();
        for n in &snapshot_specs {
            let prefix = format!("TagSpecification.{n}.Tag.");
            let mut keys: Vec<(String, String)> = pairs
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix) && k.ends_with(".Key"))
                .map(|(k, v)| (k.trim_end_matches(".Key").to_owned(), v.clone()))
                .collect();
            keys.sort();
            for (stem, key) in keys {
                let value = pairs
                    .iter()
                    .find(|(k, _)| *k == format!("{stem}.Value"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                tags.push((key, value));
            }
        }
        let kept: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| {
                !snapshot_specs
                    .iter()
                    .any(|n| k.starts_with(&format!("TagSpecification.{n}.")))
            })
            .cloned()
            .collect();
        let body = form(&kept);
        let head = with_length(&call.head, body.len());
        let raw = forward_raw(upstream, &head, body.as_bytes()).await?;
        let Some(image) = HttpResponse::parse(&raw)
            .filter(|r| r.status < 300)
            .and_then(|r| Doc::parse(&String::from_utf8_lossy(&r.body)))
            .and_then(|d| d.root.child_text("imageId"))
        else {
            return Ok(raw);
        };
        {
            let mut failing = self.failing.lock().await;
            if failing.0 > 0 {
                failing.0 -= 1;
                failing.1.push(image.clone());
            }
        }
        let instance = pairs
            .iter()
            .find(|(k, _)| k == "InstanceId")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let version = pairs
            .iter()
            .find(|(k, _)| k == "Version")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "2016-11-15".to_owned());
        let ask = |action: &str, more: Vec<(String, String)>| {
            let mut p = vec![pair("Action", action), pair("Version", &version)];
            p.extend(more);
            p
        };
        // The image's snapshots, by device.
        let Some(images) = ec2(
            upstream,
            call,
            &ask("DescribeImages", vec![pair("ImageId.1", &image)]),
        )
        .await?
        else {
            return Ok(raw);
        };
        let mut mappings = Vec::new();
        all(&images.root, "item", &mut mappings);
        let snapshots: Vec<(String, String)> = mappings
            .iter()
            .filter_map(|m| {
                let device = m.child_text("deviceName")?;
                let snap = m.child("ebs")?.child_text("snapshotId")?;
                Some((device, snap))
            })
            .collect();
        let root_device = images
            .root
            .child("imagesSet")
            .and_then(|s| s.elements().next())
            .and_then(|i| i.child_text("rootDeviceName"));
        // The instance's volumes by device, and whether each is encrypted.
        let mut volume_of: HashMap<String, String> = HashMap::new();
        let mut instance_root = None;
        if let Some(doc) = ec2(
            upstream,
            call,
            &ask("DescribeInstances", vec![pair("InstanceId.1", &instance)]),
        )
        .await?
        {
            let mut items = Vec::new();
            all(&doc.root, "item", &mut items);
            for i in &items {
                if let Some(r) = i.child_text("rootDeviceName") {
                    instance_root = Some(r);
                }
                if let (Some(dev), Some(vol)) = (
                    i.child_text("deviceName"),
                    i.child("ebs").and_then(|e| e.child_text("volumeId")),
                ) {
                    volume_of.insert(dev, vol);
                }
            }
        }
        let mut encrypted_volume: HashMap<String, bool> = HashMap::new();
        if !volume_of.is_empty() {
            let more = volume_of
                .values()
                .enumerate()
                .map(|(n, v)| pair(&format!("VolumeId.{}", n + 1), v))
                .collect();
            if let Some(doc) = ec2(upstream, call, &ask("DescribeVolumes", more)).await? {
                let mut items = Vec::new();
                all(&doc.root, "item", &mut items);
                for v in items {
                    if let (Some(id), Some(enc)) =
                        (v.child_text("volumeId"), v.child_text("encrypted"))
                    {
                        encrypted_volume.insert(id, enc == "true");
                    }
                }
            }
        }
        let mut recorded = self.encrypted.lock().await;
        for (device, snap) in &snapshots {
            // The image's root device is the instance's.
            let on_instance = if Some(device) == root_device.as_ref() {
                instance_root.clone().unwrap_or_else(|| device.clone())
            } else {
                device.clone()
            };
            let encrypted = volume_of
                .get(&on_instance)
                .and_then(|v| encrypted_volume.get(v))
                .copied()
                .unwrap_or(false);
            recorded.insert(snap.clone(), encrypted);
            if !tags.is_empty() {
                let mut more = vec![pair("ResourceId.1", snap)];
                for (n, (k, v)) in tags.iter().enumerate() {
                    more.push(pair(&format!("Tag.{}.Key", n + 1), k));
                    more.push(pair(&format!("Tag.{}.Value", n + 1), v));
                }
                ec2(upstream, call, &ask("CreateTags", more)).await?;
            }
        }
        Ok(raw)
    }

    async fn describe(&self, upstream: &str, call: &Call) -> std::io::Result<Vec<u8>> {
        let raw = forward_raw(upstream, &call.head, &call.body).await?;
        let recorded = self.encrypted.lock().await;
        let failed = self.failing.lock().await.1.clone();
        if recorded.is_empty() && failed.is_empty() {
            return Ok(raw);
        }
        let Some(mut response) = HttpResponse::parse(&raw).filter(|r| r.status < 300) else {
            return Ok(raw);
        };
        let Some(mut doc) = Doc::parse(&String::from_utf8_lossy(&response.body)) else {
            return Ok(raw);
        };
        let mut changed = false;
        doc.root.walk_mut(&mut |e| {
            // An image AWS gave up on making.
            if e.child_text("imageId").is_some_and(|i| failed.contains(&i))
                && let Some(state) = e.child_mut("imageState")
            {
                state.set_text("failed");
                e.children.push(Node::El(El::new(
                    "stateReason",
                    vec![
                        El::leaf("code", "Client.InternalError"),
                        El::leaf("message", "Client.InternalError: snapshot creation failed"),
                    ],
                )));
                changed = true;
            }
            // A snapshot of DescribeSnapshots, or an image's `ebs` mapping.
            let Some(enc) = e
                .child_text("snapshotId")
                .and_then(|s| recorded.get(&s).copied())
            else {
                return;
            };
            let text = if enc { "true" } else { "false" };
            match e.child_mut("encrypted") {
                Some(x) => x.set_text(text),
                None => e.children.push(El::leaf("encrypted", text)),
            }
            changed = true;
        });
        if !changed {
            return Ok(raw);
        }
        response.body = doc.write().into_bytes();
        Ok(response.to_bytes())
    }
}

/// Starts the shim in front of `upstream` on its own thread; its URL.
pub fn start(upstream: &str) -> String {
    super::proxy::start_serving(
        "image-shim",
        upstream,
        super::proxy::Faults {
            images: Some(std::sync::Arc::new(ImageShim::default())),
            ..super::proxy::Faults::default()
        },
    )
}
