//! The S3 static-website lab end to end, buckets a student built by hand with one mistake each,
//! and whose a bucket is: one per lab and env, never adopted or deleted unless awslab tagged it
//! (or it is empty and has awslab's own name), reported when its policy shuts awslab out. Bucket
//! names carry a code of the lab and env and the account, so tests in one region do not meet.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, ErrorDocument,
    IndexDocument, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
    WebsiteConfiguration,
};
use std::collections::BTreeMap;

use awslab::aws::tags::Owner;
use common::proxy::{Fault, FaultProxy, Faults};
use serde_json::Value;

const LAB: &str = "s3-static-website";

/// A lab of one bucket, `site`.
fn basic() -> String {
    common::root()
        .join("tests/labs/bucket-basic.toml")
        .display()
        .to_string()
}

/// The name awslab gives the bucket `site` of a lab and env in an account.
fn name_of(lab: &str, env: &str, account: &str) -> String {
    awslab::resources::s3::bucket_name(&Owner::new(lab, env), "site", account)
}

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

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first JSON document on stdout: a command that fails writes its report, then the error.
fn first_json(out: &std::process::Output) -> Value {
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("no JSON on stdout: {}", stderr(out)))
}

/// `down --format json` listed `bucket` as left, with a reason that contains `why`.
fn assert_left(down: &Value, bucket: &str, why: &str) {
    let left = down["left"].as_array().expect("left");
    let row = left
        .iter()
        .find(|r| r["id"] == bucket)
        .unwrap_or_else(|| panic!("{bucket} not listed as left: {down:#}"));
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(why), "`{why}` not in the reason: {reason}");
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
    let bucket = name_of(LAB, &env, &account(region).await);

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
    let bucket = name_of(LAB, &env, &account(region).await);
    build(region, &bucket, mistake).await;
    let (code, report) = check(home.path(), region, &env);
    // Untagged and holding the student's site: `down` leaves the bucket alone and says so.
    let down = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "down", LAB, "--yes"],
    );
    assert_eq!(down.status.code(), Some(1), "{}", stderr(&down));
    assert_left(&first_json(&down), &bucket, "holds objects");
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

/// A bucket as a student or another tool makes it: no awslab tags.
async fn create(client: &aws_sdk_s3::Client, region: &str, bucket: &str) {
    let mut create = client.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.expect("create bucket");
}

async fn set_tags(client: &aws_sdk_s3::Client, bucket: &str, tags: &[(&str, &str)]) {
    let set = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_s3::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .expect("tag")
        })
        .collect();
    client
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .set_tag_set(Some(set))
                .build()
                .expect("tagging"),
        )
        .send()
        .await
        .expect("put tags");
}

/// The bucket's tags (none when it has no tag set).
async fn tags_of(client: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, String> {
    match client.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => t
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
            assert!(code.starts_with("NoSuchTagSet"), "tags of {bucket}: {e:?}");
            BTreeMap::new()
        }
    }
}

async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .expect("put object");
}

async fn read(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get object");
    let bytes = out.body.collect().await.expect("body").into_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `--env Alice` and `--env alice`, `a_b` and `a-b`, and two labs that both declare `site` get
/// a bucket each; `show` names it before it exists; `down` of one env leaves the others' alone.
#[tokio::test(flavor = "multi_thread")]
async fn buckets_are_one_per_lab_and_env_as_written() {
    let region = "us-west-2";
    let pid = std::process::id();
    let envs = [
        format!("Case-{pid}"),
        format!("case-{pid}"),
        format!("a_b-{pid}"),
        format!("a-b-{pid}"),
    ];
    let home = tempfile::tempdir().expect("home");
    let account = account(region).await;
    let client = s3(region).await;
    let lab = basic();
    let dir = tempfile::tempdir().expect("labs");
    let other = dir.path().join("bucket-other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&lab)
            .expect("lab")
            .replace("id = \"bucket-basic\"", "id = \"bucket-other\""),
    )
    .expect("write lab");
    let other = other.display().to_string();

    // The exact name before the bucket exists.
    let show = cmd(home.path(), region, &envs[0], &["show", &lab]);
    ok(&show);
    let first = name_of("bucket-basic", &envs[0], &account);
    assert!(
        String::from_utf8_lossy(&show.stdout).contains(&format!("`{first}`")),
        "{}",
        String::from_utf8_lossy(&show.stdout)
    );

    let mut owners: Vec<(&str, &str)> = envs.iter().map(|e| ("bucket-basic", e.as_str())).collect();
    owners.push(("bucket-other", envs[1].as_str()));
    for (l, env) in &owners {
        let path = if *l == "bucket-basic" { &lab } else { &other };
        ok(&cmd(home.path(), region, env, &["up", path, "--yes"]));
    }
    let mut names = std::collections::BTreeSet::new();
    for (l, env) in &owners {
        let name = name_of(l, env, &account);
        assert!(name.len() <= 63, "{name}");
        let tags = tags_of(&client, &name).await;
        assert_eq!(
            (tags.get("awslab:lab"), tags.get("awslab:env")),
            (Some(&(*l).to_owned()), Some(&(*env).to_owned())),
            "{name}: {tags:?}"
        );
        names.insert(name);
    }
    assert_eq!(names.len(), owners.len(), "{names:?}");

    // What one env keeps in its bucket is never touched by another env's `down`.
    put(&client, &first, "notes.txt", "Alice's").await;
    ok(&cmd(
        home.path(),
        region,
        &envs[1],
        &["down", &lab, "--yes"],
    ));
    assert_eq!(read(&client, &first, "notes.txt").await, "Alice's");
    assert!(!bucket_exists(&client, &name_of("bucket-basic", &envs[1], &account)).await);
    assert!(bucket_exists(&client, &name_of("bucket-other", &envs[1], &account)).await);

    for (l, env) in &owners {
        let path = if *l == "bucket-basic" { &lab } else { &other };
        ok(&cmd(home.path(), region, env, &["down", path, "--yes"]));
        assert!(!bucket_exists(&client, &name_of(l, env, &account)).await);
    }
}

/// `up` takes over a bucket of awslab's name that it did not tag only when it is empty (a run
/// killed before its tags), merging its tags; `down` deletes such a bucket only when empty, and
/// reports one with objects as left; a bucket tagged for another owner is neither's to take.
#[tokio::test(flavor = "multi_thread")]
async fn only_an_empty_untagged_bucket_of_awslabs_own_name_is_taken() {
    let region = "us-east-2";
    let env = common::env_name("s3own");
    let home = tempfile::tempdir().expect("home");
    let client = s3(region).await;
    let lab = basic();
    let name = name_of("bucket-basic", &env, &account(region).await);

    // Built by hand under that name, with a tag and a file of its own: nobody's to take.
    create(&client, region, &name).await;
    set_tags(&client, &name, &[("team", "blue")]).await;
    put(&client, &name, "notes.txt", "mine").await;
    let up = cmd(home.path(), region, &env, &["up", &lab, "--yes"]);
    assert_eq!(up.status.code(), Some(1), "{}", stderr(&up));
    assert!(
        stderr(&up).contains(&name) && stderr(&up).contains("holds objects"),
        "{}",
        stderr(&up)
    );
    let down = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "down", &lab, "--yes"],
    );
    assert_eq!(down.status.code(), Some(1), "{}", stderr(&down));
    assert_left(&first_json(&down), &name, "holds objects");
    assert_eq!(
        tags_of(&client, &name).await,
        BTreeMap::from([("team".to_owned(), "blue".to_owned())])
    );
    assert_eq!(read(&client, &name, "notes.txt").await, "mine");

    // Emptied, it is taken over, its own tag kept beside awslab's.
    client
        .delete_object()
        .bucket(&name)
        .key("notes.txt")
        .send()
        .await
        .expect("delete object");
    ok(&cmd(home.path(), region, &env, &["up", &lab, "--yes"]));
    let tags = tags_of(&client, &name).await;
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("blue"),
        "{tags:?}"
    );
    assert_eq!(tags.get("awslab:env"), Some(&env), "{tags:?}");
    assert_eq!(
        tags.get("awslab:resource").map(String::as_str),
        Some("site"),
        "{tags:?}"
    );
    ok(&cmd(home.path(), region, &env, &["down", &lab, "--yes"]));
    assert!(!bucket_exists(&client, &name).await);

    // Created by a run killed before it tagged the bucket: `down` finds it by its name.
    create(&client, region, &name).await;
    ok(&cmd(home.path(), region, &env, &["down", &lab, "--yes"]));
    assert!(
        !bucket_exists(&client, &name).await,
        "an untagged empty bucket leaked"
    );

    // Tagged for another env: `up` refuses it, `down` leaves it.
    create(&client, region, &name).await;
    let foreign = [
        ("awslab:lab", "bucket-basic"),
        ("awslab:env", "someone-else"),
        ("awslab:resource", "site"),
    ];
    set_tags(&client, &name, &foreign).await;
    let up = cmd(home.path(), region, &env, &["up", &lab, "--yes"]);
    assert_eq!(up.status.code(), Some(1), "{}", stderr(&up));
    assert!(stderr(&up).contains("someone-else"), "{}", stderr(&up));
    ok(&cmd(home.path(), region, &env, &["down", &lab, "--yes"]));
    assert_eq!(
        tags_of(&client, &name).await,
        foreign
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()
    );
    client
        .delete_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("clean up");
}

/// A bucket whose policy denies everyone (awslab included) cannot be read or deleted: `down`
/// lists it as left with S3's answer instead of passing over it.
#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_whose_policy_denies_awslab_is_reported_left() {
    let region = "eu-central-1";
    let env = common::env_name("s3deny");
    let home = tempfile::tempdir().expect("home");
    let client = s3(region).await;
    let lab = basic();
    let name = name_of("bucket-basic", &env, &account(region).await);
    ok(&cmd(home.path(), region, &env, &["up", &lab, "--yes"]));

    // Neither emulator enforces bucket policies: the proxy answers for the policy.
    let deny = |method: &str| {
        (
            format!("{method} /{name}"),
            1_000_000,
            Fault::new(403, "AccessDenied", "Access Denied"),
        )
    };
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: ["GET", "HEAD", "PUT", "POST", "DELETE"]
                .into_iter()
                .map(deny)
                .collect(),
            ..Faults::default()
        },
    )
    .await;
    let down = common::awslab_via(home.path(), &proxy.url)
        .env("AWS_REGION", region)
        .args(["--env", &env, "--format", "json", "down", &lab, "--yes"])
        .output()
        .await
        .expect("down");
    assert_eq!(down.status.code(), Some(1), "{}", stderr(&down));
    assert_left(&first_json(&down), &name, "AccessDenied");
    assert!(bucket_exists(&client, &name).await);

    ok(&cmd(home.path(), region, &env, &["down", &lab, "--yes"]));
    assert!(!bucket_exists(&client, &name).await);
}

/// Buckets named without an owner code (`<name>-<env>-<account>`) are the env's only by their
/// tags: `down` deletes the one tagged for it, and leaves an untagged one of that shape and one
/// tagged for another lab of the same env.
#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_named_by_env_alone_is_found_by_its_tags() {
    let region = "eu-west-3";
    let env = common::env_name("s3plain");
    let home = tempfile::tempdir().expect("home");
    let client = s3(region).await;
    let account = account(region).await;
    let lab = basic();
    let plain = |logical: &str| format!("{logical}-{}-{account}", env.to_ascii_lowercase());
    let (mine, untagged, others) = (plain("site"), plain("notes"), plain("data"));
    for b in [&mine, &untagged, &others] {
        create(&client, region, b).await;
    }
    set_tags(
        &client,
        &mine,
        &[
            ("awslab:lab", "bucket-basic"),
            ("awslab:env", &env),
            ("awslab:resource", "site"),
        ],
    )
    .await;
    set_tags(
        &client,
        &others,
        &[("awslab:lab", "bucket-other"), ("awslab:env", &env)],
    )
    .await;
    let down = cmd(home.path(), region, &env, &["down", &lab, "--yes"]);
    ok(&down);
    assert!(!bucket_exists(&client, &mine).await, "{}", stderr(&down));
    assert!(bucket_exists(&client, &untagged).await);
    assert!(bucket_exists(&client, &others).await);
    for b in [&untagged, &others] {
        client
            .delete_bucket()
            .bucket(b)
            .send()
            .await
            .expect("clean up");
    }
}
