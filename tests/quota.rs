//! The quota preflight against the emulator: thirty envs of the VPC lab in one Region are
//! refused on VPCs per Region, one env fits, and an env that is already up needs nothing more.

mod common;

use std::collections::BTreeMap;

use awslab::aws::tags::Owner;
use awslab::aws::{Aws, AwsSettings};
use awslab::lab::{Lab, StageSel};
use awslab::quota::{Quota, Target, preflight};

const LAB: &str = "vpc-public-private";

async fn aws(region: &str) -> Aws {
    awslab::aws::connect(&AwsSettings {
        region: Some(region.to_owned()),
        endpoint_url: Some(common::endpoint()),
        local: true,
        ..AwsSettings::default()
    })
    .await
}

fn lab() -> Lab {
    awslab::lab::catalog::load_lab(LAB, &BTreeMap::new())
        .expect("bundled lab")
        .lab
}

fn owners(prefix: &str, n: usize) -> Vec<Owner> {
    (0..n)
        .map(|i| Owner::new(LAB, &format!("{prefix}-{i}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_vpc_envs_are_refused_on_vpcs_and_one_fits() {
    // A Region no other test uses, so what is used there is only the default VPC.
    let region = "me-central-1";
    let aws = aws(region).await;
    let account = aws.account_id().await.expect("account");
    let lab = lab();
    let env = common::env_name("quota");

    let many = preflight(&[Target {
        aws: &aws,
        account: account.clone(),
        lab: &lab,
        stage: StageSel::Full,
        envs: owners(&env, 30),
    }])
    .await
    .expect("preflight");
    assert!(!many.ok, "{many:#?}");
    let vpcs = many
        .rows
        .iter()
        .find(|r| r.quota == Quota::Vpcs)
        .expect("a VPC row");
    assert_eq!(vpcs.needed, 30, "{vpcs:#?}");
    assert_eq!(vpcs.region, region);
    assert!(!vpcs.ok && vpcs.used + 30 > vpcs.limit, "{vpcs:#?}");
    assert!(many.problems().any(|r| r.quota == Quota::Vpcs));
    let refusal = many.refusal().expect("refused");
    assert!(
        refusal.summary.contains("VPCs per Region"),
        "{}",
        refusal.summary
    );

    let one = preflight(&[Target {
        aws: &aws,
        account,
        lab: &lab,
        stage: StageSel::Full,
        envs: owners(&env, 1),
    }])
    .await
    .expect("preflight");
    let vpcs = one
        .rows
        .iter()
        .find(|r| r.quota == Quota::Vpcs)
        .expect("a VPC row");
    assert_eq!(vpcs.needed, 1);
    assert!(vpcs.ok, "{vpcs:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_env_that_is_up_needs_nothing_more() {
    // A Region no other test uses.
    let region = "eu-central-2";
    let env = common::env_name("quota-up");
    let home = tempfile::tempdir().expect("home");
    let up = common::run_in(home.path(), region, &env, &["up", LAB, "--yes"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let aws = aws(region).await;
    let account = aws.account_id().await.expect("account");
    let lab = lab();
    let result = preflight(&[Target {
        aws: &aws,
        account,
        lab: &lab,
        stage: StageSel::Full,
        envs: vec![Owner::new(LAB, &env)],
    }])
    .await;

    let down = common::run_in(home.path(), region, &env, &["down", LAB, "--yes"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let pf = result.expect("preflight");
    assert!(pf.ok, "{pf:#?}");
    // Rows are made only for quotas something still needs.
    assert!(
        pf.rows.is_empty(),
        "an env that is up needs nothing: {pf:#?}"
    );
}
