//! Unit tests of bucket naming and policies.

use super::{
    MAX_LOGICAL, bucket_name, is_name_of, is_owners, logical_name_problem, public_grants,
    public_read_policy, same_bucket_name, website_url,
};
use crate::aws::tags::Owner;

#[test]
fn bucket_names_are_one_per_lab_and_env_as_written() {
    let account = "123456789012";
    let alice = Owner::new("s3-static-website", "Alice");
    let name = bucket_name(&alice, "site", account);
    let (head, code_and_account) = name.split_at(5);
    assert_eq!(head, "site-");
    let (code, rest) = code_and_account.split_at(10);
    assert!(code.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    assert_eq!(rest, "-123456789012");
    // The env as written, and the lab, are part of the owner.
    for other in [
        Owner::new("s3-static-website", "alice"),
        Owner::new("another-lab", "Alice"),
    ] {
        assert_ne!(bucket_name(&other, "site", account), name);
        assert!(!is_owners(&name, &other));
    }
    assert_ne!(
        bucket_name(&Owner::new("l", "a_b"), "site", account),
        bucket_name(&Owner::new("l", "a-b"), "site", account)
    );
    assert!(is_name_of(&name, &alice, "site"));
    assert!(!is_name_of(&name, &alice, "other"));
    assert!(is_owners(&name, &alice));
    assert!(is_owners(
        &bucket_name(&alice, "logs", "210987654321"),
        &alice
    ));
    assert!(!is_owners("site-alice-123456789012", &alice));
    assert!(!is_owners(&name.replacen("site-", "", 1), &alice));
    // The longest logical name validation lets through fits S3's 63 characters.
    let longest = "a".repeat(MAX_LOGICAL);
    assert_eq!(logical_name_problem(&longest), None);
    assert_eq!(bucket_name(&alice, &longest, account).len(), 63);
}

#[test]
fn logical_names_that_cannot_name_a_bucket() {
    assert_eq!(logical_name_problem("site"), None);
    assert_eq!(logical_name_problem("Site_2"), None);
    let long = logical_name_problem(&"a".repeat(MAX_LOGICAL + 1)).unwrap_or_default();
    assert!(long.contains("at most 39"), "{long}");
    assert!(logical_name_problem("_site").is_some());
    assert!(logical_name_problem("xn--site").is_some());
    assert!(same_bucket_name("Site_a", "site-a"));
    assert!(!same_bucket_name("site", "sites"));
}

#[test]
fn public_grants_are_read_from_the_policy() {
    let p = public_read_policy("b");
    let text = |d: &str| -> Vec<String> {
        public_grants(d)
            .expect("json")
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(text(&p), vec!["s3:GetObject on arn:aws:s3:::b/*"]);
    let wide = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    assert_eq!(
        text(wide),
        vec!["s3:* on arn:aws:s3:::b", "s3:* on arn:aws:s3:::b/*"]
    );
    assert!(public_grants("not json").is_err());
    // Conditions and Deny statements are marked, not taken as plain grants.
    let conditional = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]}"#;
    let grants = public_grants(conditional).expect("json");
    assert!(grants.iter().all(|g| !g.is_plain()));
    assert_eq!(grants[0].effect, super::Effect::Deny);
    assert_eq!(
        text(conditional),
        vec![
            "DENY s3:GetObject on arn:aws:s3:::b/secret/*",
            "s3:GetObject on arn:aws:s3:::b/* (with a condition)"
        ]
    );
}

#[test]
fn website_endpoints_by_region() {
    assert_eq!(
        website_url("b", "us-east-1"),
        "http://b.s3-website-us-east-1.amazonaws.com/"
    );
    assert_eq!(
        website_url("b", "eu-central-1"),
        "http://b.s3-website.eu-central-1.amazonaws.com/"
    );
}
