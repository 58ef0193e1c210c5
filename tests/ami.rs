//! The golden-ami lab on the emulators: `up`, `check`, `status` and `down` leaving nothing, on
//! moto through the image shim (`common/image_shim.rs`: `CreateImage` tags and encrypts the
//! image's snapshots as AWS does); on MiniStack, which has no `CreateImage`, its reduced form
//! (`common::ami_lab`: the builder, its encrypted data volume and the volume's snapshot, a
//! template on the stock image) up, checked and torn down. Then
//! students' hand-built solutions on top of `up --stage setup`, right and with the mistakes the
//! notes warn about, each with exactly its checks failing.

mod common;

use aws_sdk_ec2::types::{
    Filter, LaunchPermission, LaunchPermissionModifications,
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateSpecification, RequestLaunchTemplateData, ResourceType, Tag, TagSpecification,
    VolumeType,
};
use serde_json::Value;

const LAB: &str = "golden-ami";

async fn run(home: &std::path::Path, region: &str, args: &[&str]) -> std::process::Output {
    common::awslab_via(home, &common::image_endpoint())
        .env("AWS_REGION", region)
        .args(args)
        .output()
        .await
        .expect("run awslab")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An EC2 client through the image shim.
async fn ec2(region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(common::image_endpoint())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_ec2::Client::new(&conf)
}

fn failed(report: &Value) -> Vec<String> {
    let mut f: Vec<String> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            format!(
                "{} ({})",
                c["id"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    f.sort();
    f
}

#[tokio::test(flavor = "multi_thread")]
async fn the_golden_ami_lab_goes_up_is_checked_and_leaves_nothing() {
    let region = "eu-north-1";
    let env = common::env_name("ami");
    let home = tempfile::tempdir().expect("home");
    let full = common::emulator() != "ministack";
    let lab = &common::ami_lab();
    let up = run(home.path(), region, &["--env", &env, "up", lab, "--yes"]).await;
    assert!(up.status.success(), "up: {}", text(&up));
    // A second `up` finds everything as the lab declares it: nothing made, nothing changed (no
    // second image, no new template version).
    let again = run(home.path(), region, &["--env", &env, "up", lab, "--yes"]).await;
    assert!(again.status.success(), "up again: {}", text(&again));
    let said = String::from_utf8_lossy(&again.stderr).into_owned();
    let churn: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("+ created") || l.starts_with("~ updated"))
        .collect();
    assert!(churn.is_empty(), "up again changed {churn:?}: {said}");
    let check = run(
        home.path(),
        region,
        &["--env", &env, "--format", "json", "check", lab],
    )
    .await;
    let report: Value = serde_json::from_slice(&check.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&check)));
    assert_eq!(failed(&report), Vec::<String>::new(), "{}", text(&check));
    assert!(check.status.success(), "{}", text(&check));
    if full {
        // The image's snapshots are the env's: tagged at creation, encrypted as the builder's
        // root volume is.
        let client = ec2(region).await;
        let snaps = client
            .describe_snapshots()
            .owner_ids("self")
            .filters(common::tag_filter("awslab:env", &env))
            .send()
            .await
            .expect("snapshots");
        let by_resource = |name: &str| {
            snaps
                .snapshots()
                .iter()
                .filter(|s| {
                    s.tags()
                        .iter()
                        .any(|t| t.key() == Some("awslab:resource") && t.value() == Some(name))
                })
                .count()
        };
        assert_eq!(by_resource("golden-ami"), 1, "{:?}", snaps.snapshots());
        assert_eq!(by_resource("data-snap"), 1, "{:?}", snaps.snapshots());
        assert!(
            snaps
                .snapshots()
                .iter()
                .all(|s| s.encrypted() == Some(true))
        );
        // `show` explains the image in this env's ids.
        let show = run(home.path(), region, &["--env", &env, "show", LAB]).await;
        let shown = String::from_utf8_lossy(&show.stdout).into_owned();
        assert!(shown.contains("AMI = snapshot + metadata + launch configuration"));
        assert!(
            !shown.contains("run awslab up first"),
            "ids missing from show: {shown}"
        );
        assert!(shown.contains("snap-") && shown.contains("ami-") && shown.contains("lt-"));
    }
    // The mistake the notes warn of: the image deregistered, its snapshots kept. `status` says
    // what still bills until deleted, and `down` deletes them.
    let snapshots = if full {
        let client = ec2(region).await;
        let images = client
            .describe_images()
            .owners("self")
            .filters(common::tag_filter("awslab:env", &env))
            .send()
            .await
            .expect("images");
        for i in images.images() {
            client
                .deregister_image()
                .image_id(i.image_id().unwrap_or_default())
                .send()
                .await
                .expect("deregister");
        }
        // moto's image snapshot is of a 15 GiB volume (localstack/README.md).
        "2 EBS snapshots ("
    } else {
        "1 EBS snapshot (1 GB)"
    };
    let status = run(home.path(), region, &["status"]).await;
    let out = String::from_utf8_lossy(&status.stdout).into_owned();
    let id = if full { LAB } else { "ami-basic" };
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{id} env {env} in {region}: {snapshots}")))
        .unwrap_or_else(|| panic!("no snapshot storage line: {}", text(&status)));
    assert!(line.contains("/month until deleted: awslab down"), "{line}");
    // The data snapshot, on either emulator.
    let snaps = ec2(region)
        .await
        .describe_snapshots()
        .owner_ids("self")
        .filters(common::tag_filter("awslab:env", &env))
        .send()
        .await
        .expect("snapshots");
    assert!(!snaps.snapshots().is_empty());
    let down = run(home.path(), region, &["--env", &env, "down", lab, "--yes"]).await;
    assert!(down.status.success(), "down: {}", text(&down));
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
}

/// A lab file's bad storage values are exit-2 errors at their place, before any call.
#[test]
fn bad_volume_values_are_located() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad-ami.toml");
    std::fs::write(
        &path,
        "id = \"bad-ami\"\ntitle = \"t\"\n\n[resources.v]\ntype = \"vpc\"\ncidr = \"10.0.0.0/16\"\n\n[resources.s]\ntype = \"subnet\"\nvpc = \"v\"\ncidr = \"10.0.1.0/24\"\n\n[resources.i]\ntype = \"instance\"\nsubnet = \"s\"\nami = \"ami-12345678\"\nroot_volume = { size = 0, type = \"gp9\" }\n\n[resources.d]\ntype = \"ebs_volume\"\ninstance = \"i\"\nsize = 1\ndevice = \"/dev/sda1\"\n\n[resources.img]\ntype = \"ami\"\ninstance = \"s\"\n",
    )
    .expect("write");
    let home = tempfile::tempdir().expect("home");
    let out = common::awslab(home.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["validate", path.to_str().expect("path")])
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for (at, what) in [
        ("bad-ami.toml:17:24", "size 0 GiB is outside 1-16384"),
        ("bad-ami.toml:17:34", "`gp9` is not an EBS volume type"),
        ("bad-ami.toml:23:10", "`/dev/sda1` is not a device name"),
        (
            "bad-ami.toml:27:12",
            "`s` is a subnet, but an instance is expected here",
        ),
    ] {
        assert!(err.contains(at), "{at} missing: {err}");
        assert!(err.contains(what), "{what} missing: {err}");
    }
}

/// What the student got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Correct,
    /// The image shared with everyone (a public launch permission).
    PublicImage,
    /// The template's default version still launches the stock Amazon Linux image.
    TemplateOnStockImage,
    /// The instance launched from the image directly, not from the template.
    LaunchedWithoutTemplate,
}

fn named(rt: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .tags(Tag::builder().key("Name").value(name).build())
        .build()
}

/// The env's setup resource `name` (tagged by `up --stage setup`): its id.
async fn setup_id(client: &aws_sdk_ec2::Client, env: &str, name: &str) -> (String, Option<String>) {
    let f = |k: &str, v: &str| Filter::builder().name(format!("tag:{k}")).values(v).build();
    match name {
        "builder" => {
            let out = client
                .describe_instances()
                .filters(f("awslab:env", env))
                .filters(f("awslab:resource", name))
                .send()
                .await
                .expect("instances");
            let i = out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .find(|i| {
                    i.state()
                        .and_then(|s| s.name())
                        .is_some_and(|s| s.as_str() == "running")
                })
                .expect("builder");
            (
                i.instance_id().expect("id").to_owned(),
                i.image_id().map(str::to_owned),
            )
        }
        "data-vol" => {
            let out = client
                .describe_volumes()
                .filters(f("awslab:env", env))
                .filters(f("awslab:resource", name))
                .send()
                .await
                .expect("volumes");
            (out.volumes()[0].volume_id().expect("id").to_owned(), None)
        }
        "web-sg" => {
            let out = client
                .describe_security_groups()
                .filters(f("awslab:env", env))
                .filters(f("awslab:resource", name))
                .send()
                .await
                .expect("groups");
            (
                out.security_groups()[0].group_id().expect("id").to_owned(),
                None,
            )
        }
        "public-a" => {
            let out = client
                .describe_subnets()
                .filters(f("awslab:env", env))
                .filters(f("awslab:resource", name))
                .send()
                .await
                .expect("subnets");
            (out.subnets()[0].subnet_id().expect("id").to_owned(), None)
        }
        "lab-key" => {
            let out = client
                .describe_key_pairs()
                .filters(f("awslab:env", env))
                .send()
                .await
                .expect("keys");
            (
                out.key_pairs()[0].key_name().expect("name").to_owned(),
                None,
            )
        }
        other => panic!("no setup resource {other}"),
    }
}

/// What the student made by hand, to remove after: (image, snapshots, template, instance).
struct HandBuilt {
    image: String,
    snapshots: Vec<String>,
    template: String,
    instance: String,
}

/// The solution as a student clicks it together on top of the setup, with the variant's mistake.
async fn build(region: &str, env: &str, variant: Variant) -> HandBuilt {
    let client = ec2(region).await;
    let (builder, stock) = setup_id(&client, env, "builder").await;
    let (volume, _) = setup_id(&client, env, "data-vol").await;
    let (sg, _) = setup_id(&client, env, "web-sg").await;
    let (subnet, _) = setup_id(&client, env, "public-a").await;
    let (key, _) = setup_id(&client, env, "lab-key").await;
    let image = client
        .create_image()
        .instance_id(&builder)
        .name("golden-ami")
        .tag_specifications(named(ResourceType::Image, "golden-ami"))
        .tag_specifications(named(ResourceType::Snapshot, "golden-ami"))
        .send()
        .await
        .expect("create image")
        .image_id()
        .expect("image id")
        .to_owned();
    if variant == Variant::PublicImage {
        client
            .modify_image_attribute()
            .image_id(&image)
            .launch_permission(
                LaunchPermissionModifications::builder()
                    .add(LaunchPermission::builder().group("all".into()).build())
                    .build(),
            )
            .send()
            .await
            .expect("make public");
    }
    let snapshot = client
        .create_snapshot()
        .volume_id(&volume)
        .tag_specifications(named(ResourceType::Snapshot, "data-snap"))
        .send()
        .await
        .expect("snapshot")
        .snapshot_id()
        .expect("snapshot id")
        .to_owned();
    let described = client
        .describe_images()
        .image_ids(&image)
        .send()
        .await
        .expect("image");
    let img = &described.images()[0];
    let root = img.root_device_name().unwrap_or("/dev/xvda").to_owned();
    let mut snapshots: Vec<String> = img
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_owned))
        .collect();
    snapshots.push(snapshot);
    let template_image = match variant {
        Variant::TemplateOnStockImage => stock.clone().expect("builder's image"),
        _ => image.clone(),
    };
    let template = client
        .create_launch_template()
        .launch_template_name("golden-lt")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(template_image)
                .instance_type("t3.micro".into())
                .key_name(&key)
                .security_group_ids(&sg)
                .block_device_mappings(
                    LaunchTemplateBlockDeviceMappingRequest::builder()
                        .device_name(&root)
                        .ebs(
                            LaunchTemplateEbsBlockDeviceRequest::builder()
                                .volume_size(8)
                                .volume_type(VolumeType::Gp3)
                                .encrypted(true)
                                .delete_on_termination(true)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("template")
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .expect("template id")
        .to_owned();
    let mut launch = client
        .run_instances()
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnet)
        .security_group_ids(&sg)
        .key_name(&key)
        .tag_specifications(named(ResourceType::Instance, "web-from-ami"));
    launch = match variant {
        Variant::LaunchedWithoutTemplate => {
            launch.image_id(&image).instance_type("t3.micro".into())
        }
        _ => launch.launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&template)
                .version("$Default")
                .build(),
        ),
    };
    let instance = launch.send().await.expect("launch").instances()[0]
        .instance_id()
        .expect("instance id")
        .to_owned();
    HandBuilt {
        image,
        snapshots,
        template,
        instance,
    }
}

/// What a hand-built solution leaves that `down` does not take (it carries no awslab tags and
/// lies outside the lab's VPC): removed here.
async fn remove(region: &str, h: &HandBuilt) {
    let client = ec2(region).await;
    let _ = client
        .terminate_instances()
        .instance_ids(&h.instance)
        .send()
        .await;
    let _ = client
        .delete_launch_template()
        .launch_template_id(&h.template)
        .send()
        .await;
    let _ = client.deregister_image().image_id(&h.image).send().await;
    for s in &h.snapshots {
        let _ = client.delete_snapshot().snapshot_id(s).send().await;
    }
}

/// What a run that died left in the region: the hand-built names are one per region.
async fn clear(region: &str) {
    let client = ec2(region).await;
    let _ = client
        .delete_launch_template()
        .launch_template_name("golden-lt")
        .send()
        .await;
    let name = |n: &str| Filter::builder().name("name").values(n).build();
    if let Ok(images) = client
        .describe_images()
        .owners("self")
        .filters(name("golden-ami"))
        .send()
        .await
    {
        for i in images.images() {
            let id = i.image_id().unwrap_or_default();
            let _ = client.deregister_image().image_id(id).send().await;
            for m in i.block_device_mappings() {
                if let Some(s) = m.ebs().and_then(|e| e.snapshot_id()) {
                    let _ = client.delete_snapshot().snapshot_id(s).send().await;
                }
            }
        }
    }
    let named = Filter::builder()
        .name("tag:Name")
        .values("data-snap")
        .values("golden-ami")
        .build();
    if let Ok(snaps) = client
        .describe_snapshots()
        .owner_ids("self")
        .filters(named)
        .send()
        .await
    {
        for s in snaps.snapshots() {
            let _ = client
                .delete_snapshot()
                .snapshot_id(s.snapshot_id().unwrap_or_default())
                .send()
                .await;
        }
    }
}

async fn grade(variant: Variant, region: &str, must_fail: &[&str]) {
    clear(region).await;
    let env = common::env_name(&format!("student-{}", region.replace('-', "")));
    let home = tempfile::tempdir().expect("home");
    let up = run(
        home.path(),
        region,
        &["--env", &env, "up", LAB, "--stage", "setup", "--yes"],
    )
    .await;
    assert!(up.status.success(), "setup: {}", text(&up));
    let built = build(region, &env, variant).await;
    let check = run(
        home.path(),
        region,
        &["--env", &env, "--format", "json", "check", LAB],
    )
    .await;
    remove(region, &built).await;
    let down = run(home.path(), region, &["--env", &env, "down", LAB, "--yes"]).await;
    assert!(down.status.success(), "down: {}", text(&down));
    let report: Value = serde_json::from_slice(&check.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&check)));
    let ids: Vec<String> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut want: Vec<String> = must_fail.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    let mut got = ids.clone();
    got.sort();
    assert_eq!(got, want, "{variant:?}: {}", failed(&report).join("\n"));
    // Hand-built resources are found by their names.
    let found = |id: &str| {
        report["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["id"] == id)
            .map(|c| c["message"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert!(
        found("golden-ami").contains("image name `golden-ami`"),
        "{}",
        found("golden-ami")
    );
    assert!(
        found("data-snap").contains("Name tag `data-snap`"),
        "{}",
        found("data-snap")
    );
    assert!(found("golden-lt").contains("launch template name `golden-lt`"));
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
}

/// MiniStack makes no images: there the lab runs in its reduced form (the setup, in the test
/// above), and no student can build the solution.
fn makes_images() -> bool {
    common::emulator() != "ministack"
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_built_golden_image_passes() {
    if makes_images() {
        grade(Variant::Correct, "ap-northeast-1", &[]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_image_fails_only_its_launch_permission() {
    if makes_images() {
        grade(
            Variant::PublicImage,
            "ap-northeast-2",
            &["golden-ami.launch_permission"],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_on_the_stock_image_fails_the_template_and_the_instance_image() {
    if makes_images() {
        grade(
            Variant::TemplateOnStockImage,
            "ap-south-1",
            &["golden-lt.ami", "web-from-ami.ami"],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_launched_without_the_template_fails_only_that() {
    if makes_images() {
        grade(
            Variant::LaunchedWithoutTemplate,
            "ca-central-1",
            &["web-from-ami.launch_template"],
        )
        .await;
    }
}

/// An image AWS gives up on making (`failed`, with its reason) fails `up` with that reason; the
/// next `up` deregisters it and makes the image again, and `down` leaves nothing. Through a shim
/// whose first image fails (moto makes images; MiniStack has no `CreateImage`).
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_image_is_reported_then_made_again_by_the_next_up() {
    if !makes_images() {
        return;
    }
    let region = "ca-west-1";
    let env = common::env_name("ami-failed");
    let home = tempfile::tempdir().expect("home");
    let proxy = common::proxy::FaultProxy::start(
        &common::endpoint(),
        common::proxy::Faults {
            images: Some(std::sync::Arc::new(common::image_shim::ImageShim::failing(
                1,
            ))),
            ..common::proxy::Faults::default()
        },
    )
    .await;
    let via = |args: &'static [&'static str]| {
        let mut c = common::awslab_via(home.path(), &proxy.url);
        c.env("AWS_REGION", region).args(["--env", &env]).args(args);
        c
    };
    let first = via(&["up", LAB, "--yes"]).output().await.expect("up");
    assert_ne!(first.status.code(), Some(0), "{}", text(&first));
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(
        err.contains("is failed: Client.InternalError: snapshot creation failed"),
        "{}",
        text(&first)
    );
    let again = via(&["up", LAB, "--yes"]).output().await.expect("up again");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let again_err = String::from_utf8_lossy(&again.stderr);
    assert!(
        again_err.contains("deregistering it and making the image again"),
        "{}",
        text(&again)
    );
    let check = via(&["check", LAB]).output().await.expect("check");
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let down = via(&["down", LAB, "--yes"]).output().await.expect("down");
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
}
