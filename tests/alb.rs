//! The ALB + Auto Scaling lab end to end: the setup stage (the VPC lab's network, included), the
//! full solution, and solutions a student built by hand with one mistake each. Each test has its
//! own region: a student's load balancer, target group, template and group are found by name.

mod common;

use aws_sdk_autoscaling::types::{
    LaunchTemplateSpecification, MetricType, PredefinedMetricSpecification,
    TargetTrackingConfiguration,
};
use aws_sdk_ec2::types::{IpPermission, IpRange, RequestLaunchTemplateData, UserIdGroupPair};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, ProtocolEnum,
};
use serde_json::Value;

const LAB: &str = "alb-asg-web";

fn cmd(home: &std::path::Path, region: &str, env: &str, args: &[&str]) -> std::process::Output {
    common::run_in(home, region, env, args)
}

fn check(home: &std::path::Path, region: &str, env: &str) -> (Option<i32>, Value) {
    common::check_in(home, region, env, LAB)
}

use common::{failed, results};

/// What MiniStack 1.5.33 cannot represent (localstack/README.md): NACL port ranges, NAT gateway
/// addresses (so the egress checks), and an Auto Scaling group's target groups (not returned, and
/// `AttachLoadBalancerTargetGroups` is unknown). These fail there and only there; every other
/// item must pass (subnet associations too: the tests' shim keeps them in front of MiniStack).
const MINISTACK_GAPS: &[&str] = &[
    "alb-serves-asg",
    "lab-nat.eip",
    "private-egress",
    "private-nacl.inbound",
    "web-asg.target_groups",
    "web-egress-https",
];

fn ministack() -> bool {
    common::emulator() == "ministack"
}

/// `want` plus, on MiniStack, its gaps (but those in `passing`: a variant that makes a gap item
/// pass, e.g. a group in public subnets needs no NAT address to reach the internet).
fn expect_failing_but(want: &[&str], passing: &[&str]) -> Vec<String> {
    let mut w: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    if ministack() {
        w.extend(
            MINISTACK_GAPS
                .iter()
                .filter(|g| !passing.contains(g))
                .map(|s| (*s).to_owned()),
        );
    }
    w.sort();
    w.dedup();
    w
}

fn expect_failing(want: &[&str]) -> Vec<String> {
    expect_failing_but(want, &[])
}

/// The solution stage: these (and only these) fail on a bare setup.
const SOLUTION_ITEMS: &[&str] = &[
    "alb-multi-az",
    "alb-serves-asg",
    "alb-sg",
    "alb-sg.ingress",
    "alb-to-web",
    "cpu-target",
    "cpu-target.metric",
    "cpu-target.target",
    "cpu-target.type",
    "http-to-alb",
    "no-http-to-web-from-internet",
    "web-alb",
    "web-alb.scheme",
    "web-alb.security_groups",
    "web-alb.state",
    "web-alb.subnets",
    "web-alb.type",
    "web-asg",
    "web-asg.health_check_type",
    "web-asg.launch_template",
    "web-asg.size",
    "web-asg.subnets",
    "web-asg.target_groups",
    "web-egress-https",
    "web-listener",
    "web-listener.forwards_to",
    "web-listener.port",
    "web-listener.protocol",
    "web-lt",
    "web-lt.instance_type",
    "web-lt.security_groups",
    "web-lt.user_data",
    "web-multi-az",
    "web-only-from-alb",
    "web-sg",
    "web-sg.ingress",
    "web-tg",
    "web-tg.health_check_path",
    "web-tg.port",
    "web-tg.protocol",
    "web-tg.vpc",
];

/// No load balancer, target group, launch template or Auto Scaling group is left in the region,
/// and nothing EC2 of the env (instances included).
async fn nothing_left(region: &str, env: &str) {
    assert_eq!(
        common::tagged_left_in(region, env).await,
        Vec::<String>::new()
    );
    let conf = common::sdk_config(region).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let lbs = elb.describe_load_balancers().send().await.expect("lbs");
    let lbs: Vec<_> = lbs
        .load_balancers()
        .iter()
        .filter_map(|l| l.load_balancer_name())
        .collect();
    assert!(lbs.is_empty(), "load balancers left: {lbs:?}");
    let tgs = elb.describe_target_groups().send().await.expect("tgs");
    let tgs: Vec<_> = tgs
        .target_groups()
        .iter()
        .filter_map(|t| t.target_group_name())
        .collect();
    assert!(tgs.is_empty(), "target groups left: {tgs:?}");
    let asg = aws_sdk_autoscaling::Client::new(&conf);
    let groups = asg
        .describe_auto_scaling_groups()
        .send()
        .await
        .expect("groups");
    let groups: Vec<_> = groups
        .auto_scaling_groups()
        .iter()
        .filter_map(|g| g.auto_scaling_group_name())
        .collect();
    assert!(groups.is_empty(), "Auto Scaling groups left: {groups:?}");
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let lts = ec2
        .describe_launch_templates()
        .filters(common::tag_filter("awslab:env", env))
        .send()
        .await
        .expect("templates");
    let lts: Vec<_> = lts
        .launch_templates()
        .iter()
        .filter(|t| {
            t.tags()
                .iter()
                .any(|x| x.key() == Some("awslab:env") && x.value() == Some(env))
        })
        .filter_map(|t| t.launch_template_name())
        .collect();
    assert!(lts.is_empty(), "launch templates left: {lts:?}");
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_then_solution_then_down() {
    let region = "us-east-2";
    let env = common::env_name("alb");
    let home = tempfile::tempdir().expect("home");

    ok(&cmd(
        home.path(),
        region,
        &env,
        &["up", LAB, "--stage", "setup", "--yes"],
    ));
    let (code, report) = check(home.path(), region, &env);
    assert_eq!(code, Some(1));
    assert_eq!(
        failed(&report),
        expect_failing(SOLUTION_ITEMS),
        "{report:#}"
    );
    // `check --stage setup` grades what the setup made: the included network (gaps aside).
    let setup = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "check", LAB, "--stage", "setup"],
    );
    let setup_report = common::json(&setup);
    let setup_gaps: Vec<String> = expect_failing(&[])
        .into_iter()
        .filter(|id| id.starts_with("private-nacl") || id.starts_with("lab-nat"))
        .collect();
    assert_eq!(failed(&setup_report), setup_gaps, "{setup_report:#}");

    let up = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "up", LAB, "--yes"],
    );
    ok(&up);
    // The URL of the load balancer, at the end of the human output and in the JSON.
    let up_json = common::json(&up);
    let url = up_json["urls"][0]["url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("http://") && url.contains("elb"),
        "{up_json:#}"
    );
    assert_eq!(up_json["urls"][0]["name"], "web-alb");
    let human = cmd(home.path(), region, &env, &["up", LAB, "--yes"]);
    let text = String::from_utf8_lossy(&human.stderr);
    assert!(text.contains(&format!("web-alb: {url}")), "{text}");

    let (code, report) = check(home.path(), region, &env);
    assert_eq!(failed(&report), expect_failing(&[]), "{report:#}");
    if !ministack() {
        assert_eq!(code, Some(0));
        assert_eq!(report["score"], report["max_score"]);
        // Run twice, up changes nothing (MiniStack forgets the group's target groups, so
        // there `up` attaches them again: see MINISTACK_GAPS).
        assert!(
            human.status.success(),
            "{}",
            String::from_utf8_lossy(&human.stderr)
        );
        let again = common::json(&cmd(
            home.path(),
            region,
            &env,
            &["--format", "json", "up", LAB, "--yes"],
        ));
        let changed: Vec<&Value> = again["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter(|r| r["action"] != "keep")
            .collect();
        assert!(changed.is_empty(), "{changed:?}");
    }
    // The live part is skipped on an emulator, with the reason, never passed.
    let live_run = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "check", LAB, "--live"],
    );
    let live = results(&common::json(&live_run))
        .into_iter()
        .find(|(id, _, _, _)| id == "alb-serves-asg.live")
        .expect("live item");
    assert_eq!(live.1, "skip");
    assert!(live.2.contains("emulator"), "{}", live.2);

    let down = cmd(home.path(), region, &env, &["down", LAB, "--yes"]);
    ok(&down);
    let text = String::from_utf8_lossy(&down.stderr);
    for what in [
        "web-asg (auto_scaling_group)",
        "web-alb (load_balancer)",
        "web-alb:80 (listener)",
        "web-tg (target_group)",
        "web-lt (launch_template)",
    ] {
        assert!(text.contains(&format!("deleted {what}")), "{what}: {text}");
    }
    nothing_left(region, &env).await;
}

/// What the student built of the solution.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mistake {
    WebOpenToTheWorld,
    GroupInPublicSubnets,
}

/// An id by the tags `awslab up --stage setup` gave it.
async fn subnet(ec2: &aws_sdk_ec2::Client, env: &str, name: &str) -> String {
    let out = ec2
        .describe_subnets()
        .filters(common::tag_filter("awslab:env", env))
        .filters(common::tag_filter("Name", name))
        .send()
        .await
        .expect("subnet");
    out.subnets()[0].subnet_id().expect("id").to_owned()
}

/// Builds the student's part by hand in the tool-made setup, with console names and no tags.
/// Returns the launch template's id (outside the VPC: the test removes it).
async fn build_solution(region: &str, env: &str, mistake: Mistake) -> String {
    let conf = common::sdk_config(region).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let asg = aws_sdk_autoscaling::Client::new(&conf);
    let ssm = aws_sdk_ssm::Client::new(&conf);
    let vpc = ec2
        .describe_vpcs()
        .filters(common::tag_filter("awslab:env", env))
        .send()
        .await
        .expect("vpc");
    let vpc = vpc.vpcs()[0].vpc_id().expect("vpc id").to_owned();
    let public = [
        subnet(&ec2, env, "public-a").await,
        subnet(&ec2, env, "public-b").await,
    ];
    let private = [
        subnet(&ec2, env, "private-a").await,
        subnet(&ec2, env, "private-b").await,
    ];
    let group = |name: &'static str| {
        let (ec2, vpc) = (ec2.clone(), vpc.clone());
        async move {
            ec2.create_security_group()
                .group_name(name)
                .description(name)
                .vpc_id(vpc)
                .send()
                .await
                .expect("group")
                .group_id()
                .expect("id")
                .to_owned()
        }
    };
    let (alb_sg, web_sg) = (group("alb-sg").await, group("web-sg").await);
    let http = || {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
    };
    ec2.authorize_security_group_ingress()
        .group_id(&alb_sg)
        .ip_permissions(
            http()
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("alb rule");
    let web_rule = if mistake == Mistake::WebOpenToTheWorld {
        http().ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
    } else {
        http().user_id_group_pairs(UserIdGroupPair::builder().group_id(&alb_sg).build())
    };
    ec2.authorize_security_group_ingress()
        .group_id(&web_sg)
        .ip_permissions(web_rule.build())
        .send()
        .await
        .expect("web rule");
    let ami = ssm
        .get_parameter()
        .name("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
        .send()
        .await
        .expect("ami")
        .parameter()
        .and_then(|p| p.value())
        .expect("ami id")
        .to_owned();
    let lt = ec2
        .create_launch_template()
        .launch_template_name("web-lt")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(ami)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .security_group_ids(&web_sg)
                .user_data(aws_smithy_types::base64::encode(
                    "#!/bin/bash\ndnf install -y nginx && systemctl enable --now nginx\n",
                ))
                .build(),
        )
        .send()
        .await
        .expect("template");
    let lt = lt
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .expect("template id")
        .to_owned();
    let tg = elb
        .create_target_group()
        .name("web-tg")
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc)
        .health_check_path("/")
        .send()
        .await
        .expect("target group");
    let tg = tg.target_groups()[0]
        .target_group_arn()
        .expect("arn")
        .to_owned();
    let lb = elb
        .create_load_balancer()
        .name("web-alb")
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .set_subnets(Some(public.to_vec()))
        .security_groups(&alb_sg)
        .send()
        .await
        .expect("load balancer");
    let lb = lb.load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_owned();
    elb.create_listener()
        .load_balancer_arn(&lb)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg)
                .build(),
        )
        .send()
        .await
        .expect("listener");
    let subnets = if mistake == Mistake::GroupInPublicSubnets {
        public
    } else {
        private
    };
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("web-asg")
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&lt)
                .version("$Default")
                .build(),
        )
        .min_size(2)
        .max_size(4)
        .desired_capacity(2)
        .vpc_zone_identifier(subnets.join(","))
        .target_group_arns(&tg)
        .health_check_type("ELB")
        .send()
        .await
        .expect("group");
    asg.put_scaling_policy()
        .auto_scaling_group_name("web-asg")
        .policy_name("cpu50")
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(
            TargetTrackingConfiguration::builder()
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
                        .build(),
                )
                .target_value(50.0)
                .build(),
        )
        .send()
        .await
        .expect("policy");
    lt
}

async fn student(region: &str, mistake: Mistake, must_fail: &[(&str, &str)], passing: &[&str]) {
    let env = common::env_name(&format!("alb-{}", region.replace('-', "")));
    let home = tempfile::tempdir().expect("home");
    ok(&cmd(
        home.path(),
        region,
        &env,
        &["up", LAB, "--stage", "setup", "--yes"],
    ));
    let lt = build_solution(region, &env, mistake).await;
    let (code, report) = check(home.path(), region, &env);

    // down removes the setup and what the student built inside the lab's VPC: the group (drained
    // first), its instances, the load balancer and listener, the target group, the groups.
    let down = cmd(home.path(), region, &env, &["down", LAB, "--yes"]);
    ok(&down);
    // The student's template lives in no VPC and carries no tags: down leaves it (nothing
    // untagged outside a lab VPC is deleted); the test removes it.
    let conf = common::sdk_config(region).await;
    aws_sdk_ec2::Client::new(&conf)
        .delete_launch_template()
        .launch_template_id(&lt)
        .send()
        .await
        .expect("delete the student's template");
    nothing_left(region, &env).await;

    assert_eq!(code, Some(1), "{report:#}");
    let want: Vec<&str> = must_fail.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        failed(&report),
        expect_failing_but(&want, passing),
        "{mistake:?}: {report:#}"
    );
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
    // Everything else of the student's solution was found by its console name.
    let bound = results(&report)
        .into_iter()
        .find(|(id, _, _, _)| id == "web-alb")
        .expect("web-alb");
    assert_eq!(bound.1, "pass", "{bound:?}");
    assert!(
        bound.2.contains("by load balancer name `web-alb`"),
        "{bound:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn student_opens_the_web_servers_to_the_world() {
    student(
        "ap-southeast-2",
        Mistake::WebOpenToTheWorld,
        &[
            ("web-sg.ingress", "tcp 80 0.0.0.0/0"),
            (
                "web-only-from-alb",
                "a host in public-b -> web-asg in private-a gets through",
            ),
        ],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn student_puts_the_group_in_public_subnets() {
    student(
        "ap-northeast-3",
        Mistake::GroupInPublicSubnets,
        &[
            ("web-asg.subnets", "public-a, public-b"),
            (
                "alb-serves-asg",
                "web-asg launches into public-a, which is not private",
            ),
        ],
        // In public subnets it reaches the internet through the internet gateway.
        &["web-egress-https"],
    )
    .await;
}
