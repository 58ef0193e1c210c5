//! The S3 static-website lab end to end, and buckets a student built by hand with one mistake
//! each. Bucket names carry the env and the account, so tests in one region do not meet.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, ErrorDocument,
    IndexDocument, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
    WebsiteConfiguration,
};
use serde_json::Value;

const LAB: &str = "s3-static-website";

fn cmd(home: &std::path::Path, region: &str, env: &str, args: &[&str]) -> std::process::Output {
    common::run_in(home, region, env, args)
}

fn check(home: &std::path::Path, region: &str, env: &str) -> (Option<i32>, Value) {
    common::check_in(home, region, env, LAB)
}

use common::{failed, results};

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn s3(region: &str) -> aws_sdk_s3::Client {
    let conf = common::sdk_config(region).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

async fn account(region: &str) -> String {
    aws_sdk_sts::Client::new(&common::sdk_config(region).await)
        .get_caller_identity()
        .send()
        .await
        .expect("identity")
        .account()
        .expect("account")
        .to_owned()
}

async fn bucket_exists(s3: &aws_sdk_s3::Client, name: &str) -> bool {
    s3.list_buckets()
        .send()
        .await
        .expect("buckets")
        .buckets()
        .iter()
        .any(|b| b.name() == Some(name))
}

#[tokio::test(flavor = "multi_thread")]
async fn website_up_check_reup_and_down_with_versions() {
    let region = "eu-west-1";
    let env = common::env_name("s3");
    let home = tempfile::tempdir().expect("home");
    let bucket = format!("site-{env}-{}", account(region).await);

    let up = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "up", LAB, "--yes", "--ttl", "2h"],
    );
    ok(&up);
    // The bucket carries the expiry (S3 tags are set as a whole: merged, not replaced).
    let status = common::json(&cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "status"],
    ));
    let row = status
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["env"] == env.as_str())
        .cloned()
        .expect("a status row for the env");
    assert!(row["expires_at"].is_string(), "{row}");
    assert_eq!(row["region"], region);
    let up_json = common::json(&up);
    assert_eq!(
        up_json["urls"][0]["url"],
        format!("http://{bucket}.s3-website-{region}.amazonaws.com/"),
        "{up_json:#}"
    );
    let (code, report) = check(home.path(), region, &env);
    assert_eq!(failed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    assert_eq!(report["score"], report["max_score"]);
    // The live part is skipped on an emulator (neither serves website endpoints).
    let live = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "check", LAB, "--live"],
    );
    let live = results(&common::json(&live))
        .into_iter()
        .find(|(id, _, _, _)| id == "website.live")
        .expect("live item");
    assert_eq!(live.1, "skip");
    assert!(live.2.contains("emulator"), "{}", live.2);

    // Re-up uploads nothing: every resource unchanged, and no PutObject.
    let again = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "-v", "up", LAB, "--yes"],
    );
    ok(&again);
    let again_json = common::json(&again);
    let changed: Vec<&Value> = again_json["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] != "keep")
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(!log.contains("PutObject"), "{log}");

    // `show` names the bucket and both URL styles.
    let show = cmd(home.path(), region, &env, &["show", LAB]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains(&format!(
            "https://{bucket}.s3.{region}.amazonaws.com/index.html"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "https://s3.{region}.amazonaws.com/{bucket}/index.html"
        )),
        "{text}"
    );

    // Versions and a delete marker: down must remove them all, then the bucket.
    let client = s3(region).await;
    // Every object overwritten twice (three versions each), then one deleted (a marker).
    for key in ["index.html", "error.html", "style.css"] {
        for v in ["v2", "v3"] {
            client
                .put_object()
                .bucket(&bucket)
                .key(key)
                .body(ByteStream::from(v.as_bytes().to_vec()))
                .send()
                .await
                .expect("overwrite");
        }
    }
    client
        .delete_object()
        .bucket(&bucket)
        .key("style.css")
        .send()
        .await
        .expect("delete marker");
    let versions = client
        .list_object_versions()
        .bucket(&bucket)
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.versions().len(), 9, "{versions:?}");
    assert_eq!(versions.delete_markers().len(), 1);

    let down = cmd(home.path(), region, &env, &["down", LAB, "--yes"]);
    ok(&down);
    assert!(!bucket_exists(&client, &bucket).await, "bucket left");
}

/// What the student got wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mistake {
    EverythingForEveryone,
    NoBucketKey,
}

/// The whole lab by hand, with console choices and no tags.
async fn build(region: &str, bucket: &str, mistake: Mistake) {
    let client = s3(region).await;
    let mut create = client
        .create_bucket()
        .bucket(bucket)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.expect("bucket");
    client
        .put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .expect("rule"),
                )
                .build()
                .expect("controls"),
        )
        .send()
        .await
        .expect("ownership");
    client
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .expect("block public access");
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .expect("default"),
                        )
                        .bucket_key_enabled(mistake != Mistake::NoBucketKey)
                        .build(),
                )
                .build()
                .expect("encryption"),
        )
        .send()
        .await
        .expect("encryption");
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    let action = if mistake == Mistake::EverythingForEveryone {
        "s3:*"
    } else {
        "s3:GetObject"
    };
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": action,
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }]
    });
    client
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .expect("policy");
    client
        .put_bucket_website()
        .bucket(bucket)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(
                    IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .expect("i"),
                )
                .error_document(
                    ErrorDocument::builder()
                        .key("error.html")
                        .build()
                        .expect("e"),
                )
                .build(),
        )
        .send()
        .await
        .expect("website");
    for (key, ctype) in [
        ("index.html", "text/html"),
        ("error.html", "text/html"),
        ("style.css", "text/css"),
    ] {
        let body = std::fs::read(common::root().join("labs/assets/site").join(key)).expect("file");
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(ctype)
            .body(ByteStream::from(body))
            .send()
            .await
            .expect("upload");
    }
}

async fn remove(region: &str, bucket: &str) {
    let client = s3(region).await;
    let versions = client
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .expect("versions");
    for v in versions.versions() {
        client
            .delete_object()
            .bucket(bucket)
            .key(v.key().expect("key"))
            .set_version_id(v.version_id().map(str::to_owned))
            .send()
            .await
            .expect("delete version");
    }
    client
        .delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("delete bucket");
}

async fn student(region: &str, mistake: Mistake, must_fail: &[(&str, &str)]) {
    let env = common::env_name(&format!("s3{}", region.replace('-', "")));
    let home = tempfile::tempdir().expect("home");
    let bucket = format!("site-{env}-{}", account(region).await);
    build(region, &bucket, mistake).await;
    let (code, report) = check(home.path(), region, &env);
    // Untagged and in no lab VPC: `down` leaves the student's bucket alone.
    ok(&cmd(home.path(), region, &env, &["down", LAB, "--yes"]));
    assert!(bucket_exists(&s3(region).await, &bucket).await);
    remove(region, &bucket).await;

    assert_eq!(code, Some(1), "{report:#}");
    let mut want: Vec<String> = must_fail.iter().map(|(id, _)| (*id).to_owned()).collect();
    want.sort();
    assert_eq!(failed(&report), want, "{mistake:?}: {report:#}");
    for (id, fragment) in must_fail {
        let (_, _, message, hint) = results(&report)
            .into_iter()
            .find(|(i, _, _, _)| i == id)
            .expect("result");
        assert!(
            message.contains(fragment),
            "{id}: `{fragment}` not in {message}"
        );
        assert!(!hint.is_empty(), "{id} has no hint");
    }
    let found = results(&report)
        .into_iter()
        .find(|(id, _, _, _)| id == "site")
        .expect("site");
    assert!(
        found.2.contains(&format!("by bucket name `{bucket}`")),
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn student_grants_everything_to_everyone() {
    student(
        "eu-west-2",
        Mistake::EverythingForEveryone,
        &[
            ("site-policy.public_grants", "s3:* on arn:aws:s3:::"),
            ("website", "grants everyone more than reading objects: s3:*"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn student_forgets_the_bucket_key() {
    student(
        "eu-west-3",
        Mistake::NoBucketKey,
        &[
            ("site.bucket_key", "expected on, found off"),
            ("encryption", "the bucket key is off"),
        ],
    )
    .await;
}
