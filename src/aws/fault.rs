//! What awslab itself finds wrong during a call, as opposed to what AWS answers: a wait that ran
//! out of time, something AWS does not list (yet), an answer without what AWS always sends, a
//! request that could not be built, a resource that is not this owner's, a bug in awslab, a local
//! file that could not be read or written. Each fault knows its [`ErrorClass`] and the short code
//! it renders with in place of an AWS error code.

use std::io;
use std::path::PathBuf;
use std::string::FromUtf8Error;
use std::time::Duration;

use aws_smithy_types::error::operation::BuildError;
use thiserror::Error;

use super::ErrorClass;

/// A failure awslab raises itself. The display is the message; [`Fault::code`] is the code.
#[derive(Debug, Error)]
pub enum Fault {
    // Waits, and what AWS lists.
    /// A wait that ran out of time before the transition to `target` was over.
    #[error("still not {target} after {} s", .waited.as_secs())]
    WaitTimeout { target: String, waited: Duration },
    /// A describe of something known to exist found nothing: not visible yet.
    #[error("not listed by AWS")]
    NotListed,
    /// A subnet whose network ACL association is not listed (every subnet has one): not
    /// visible yet, coded as EC2's own not-found answer.
    #[error("subnet {subnet_id} has no network ACL association to replace")]
    NoAclAssociation { subnet_id: String },
    /// Something awslab has just found or waited for, missing from the next answer.
    #[error("{}", if *.while_waiting { "vanished while waiting" } else { "vanished" })]
    Vanished { while_waiting: bool },
    /// Object versions S3 still lists after awslab deleted them.
    #[error(
        "S3 still lists {versions} object versions after deleting them (object lock or a legal hold?)"
    )]
    NotDeleted { versions: usize },

    // What AWS gave up on making.
    /// A VPC endpoint in a state it does not leave for `available`.
    #[error("{id} is {state}, not available")]
    EndpointFailed { id: String, state: String },
    /// A NAT gateway that failed.
    #[error("NAT gateway {id} failed; see its failure message in the console")]
    NatGatewayFailed { id: String },
    /// An image or snapshot whose creation failed (`state` is `failed` or `error`).
    #[error("{what} {id} is {state}: {reason}")]
    CreationFailed {
        what: &'static str,
        id: String,
        state: String,
        reason: String,
    },

    // Answers without what AWS always sends.
    /// A create's answer without the new resource's id (`what` is the missing field).
    #[error("no {what} in the answer")]
    NoId { what: &'static str },
    /// A create's answer without the new resource's ARN (`what` is the missing field).
    #[error("no {what} in the answer")]
    NoArn { what: &'static str },
    /// An SSM parameter that answered without a value.
    #[error("{parameter} has no value")]
    NoValue { parameter: String },

    // Requests awslab cannot make.
    /// A request the SDK's builder refused.
    #[error("{0}")]
    Unbuilt(BuildError),
    /// A tag the SDK's builder refused.
    #[error("{0}")]
    BadTag(BuildError),
    /// An image manifest that is not UTF-8.
    #[error("{0}")]
    BadManifest(FromUtf8Error),
    /// A blob of no bytes, which ECR's layer upload cannot take.
    #[error("an empty blob cannot be uploaded")]
    EmptyUpload,
    /// A subnet's `az` beyond the region's availability zones.
    #[error("az = {az}, but region {region} has {zones} availability zones")]
    NoSuchAz {
        az: usize,
        region: String,
        zones: usize,
    },
    /// A VPC endpoint that serves another service than the lab asks for.
    #[error(
        "it serves {serves}, the lab asks for {asked}: an endpoint's service cannot change; `awslab down` and `up` again make it anew"
    )]
    ServiceChanged { serves: String, asked: String },

    // Resources that are not this owner's.
    /// A resource of the name awslab gives this owner, made by another (`what`: "a role").
    #[error("{what} named {name} exists and is not this env's")]
    NotOurs { what: &'static str, name: String },
    /// A bucket of awslab's name with objects and no awslab tags.
    #[error(
        "holds objects and carries no awslab tags: awslab neither takes it over nor deletes it (empty it or delete it yourself, or use another --env)"
    )]
    NotAwslabsBucket,
    /// A bucket of awslab's name tagged for another lab or env.
    #[error("tagged for lab {lab}, env {env}: awslab takes no other owner's bucket")]
    OtherOwnersBucket { lab: String, env: String },
    /// A bucket S3 refused awslab's calls about (`refusal` is S3's answer, as found), coded as
    /// that answer.
    #[error(
        "{refusal}: the bucket's policy (or an organisation's policy) denies awslab; remove that Deny and run again"
    )]
    BucketRefused { refusal: String },
    /// An immutable tag that already names another image, coded as ECR's own answer to a
    /// push under it.
    #[error(
        "refused: {repository}:{tag} already names {current}, and the repository's tags are IMMUTABLE; nothing was uploaded"
    )]
    TagTaken {
        repository: String,
        tag: String,
        current: String,
    },

    // Bugs in awslab.
    /// A resource handed to another kind's handler.
    #[error("{name} is a {is}, handed to the {handler} handler")]
    WrongKind {
        name: String,
        is: &'static str,
        handler: &'static str,
    },
    /// A name the engine scheduled and holds nothing for (`why`: "not in the lab").
    #[error("{why}")]
    Untracked { why: &'static str },
    /// A dependency the engine should have applied first.
    #[error("`{name}` was not created")]
    NotCreated { name: String },
    /// A listener whose load balancer is not bound.
    #[error("no load balancer")]
    NoLoadBalancer,

    // Local files.
    /// A file or directory that could not be written.
    #[error("{}: {error}", .path.display())]
    WriteFailed { path: PathBuf, error: io::Error },
    /// A blob that could not be read back from disk.
    #[error("cannot read the blob from disk: {0}")]
    ReadFailed(io::Error),
    /// Local I/O while packing an image.
    #[error("{0}")]
    Io(io::Error),
    /// A base image that could not be pulled from its registry.
    #[error("{0}")]
    Pull(Box<crate::image::PullError>),
}

impl Fault {
    /// The short code the fault renders with, where an AWS answer has its error code.
    pub fn code(&self) -> &'static str {
        match self {
            Fault::WaitTimeout { .. } => "WaitTimeout",
            Fault::NotListed => "NotListed",
            Fault::NoAclAssociation { .. } => "InvalidAssociationID.NotFound",
            Fault::Vanished { .. } => "NotFound",
            Fault::NotDeleted { .. } => "NotDeleted",
            Fault::EndpointFailed { .. } => "EndpointFailed",
            Fault::NatGatewayFailed { .. } => "NatGatewayFailed",
            Fault::CreationFailed { .. } => "CreationFailed",
            Fault::NoId { .. } => "NoId",
            Fault::NoArn { .. } => "NoArn",
            Fault::NoValue { .. } => "NoValue",
            Fault::Unbuilt(_) => "Bad",
            Fault::BadTag(_) => "BadTag",
            Fault::BadManifest(_) => "BadManifest",
            Fault::EmptyUpload => "EmptyUpload",
            Fault::NoSuchAz { .. } => "NoSuchAz",
            Fault::ServiceChanged { .. } => "ServiceChanged",
            Fault::NotOurs { .. } => "NotOurs",
            Fault::NotAwslabsBucket => "NotAwslabsBucket",
            Fault::OtherOwnersBucket { .. } => "OtherOwnersBucket",
            Fault::BucketRefused { .. } => "AccessDenied",
            Fault::TagTaken { .. } => "ImageTagAlreadyExistsException",
            Fault::WrongKind { .. } => "WrongKind",
            Fault::Untracked { .. } => "Unknown",
            Fault::NotCreated { .. } | Fault::NoLoadBalancer => "MissingDependency",
            Fault::WriteFailed { .. } => "WriteFailed",
            Fault::ReadFailed(_) => "ReadFailed",
            Fault::Io(_) => "Io",
            Fault::Pull(e) => e.short_code(),
        }
    }

    /// How the engine treats it: what AWS does not list yet is asked about again (gone, as a
    /// not-found answer); everything else is final.
    pub fn class(&self) -> ErrorClass {
        match self {
            Fault::NotListed | Fault::NoAclAssociation { .. } => ErrorClass::Gone,
            Fault::WaitTimeout { .. }
            | Fault::Vanished { .. }
            | Fault::NotDeleted { .. }
            | Fault::EndpointFailed { .. }
            | Fault::NatGatewayFailed { .. }
            | Fault::CreationFailed { .. }
            | Fault::NoId { .. }
            | Fault::NoArn { .. }
            | Fault::NoValue { .. }
            | Fault::Unbuilt(_)
            | Fault::BadTag(_)
            | Fault::BadManifest(_)
            | Fault::EmptyUpload
            | Fault::NoSuchAz { .. }
            | Fault::ServiceChanged { .. }
            | Fault::NotOurs { .. }
            | Fault::NotAwslabsBucket
            | Fault::OtherOwnersBucket { .. }
            | Fault::BucketRefused { .. }
            | Fault::TagTaken { .. }
            | Fault::WrongKind { .. }
            | Fault::Untracked { .. }
            | Fault::NotCreated { .. }
            | Fault::NoLoadBalancer
            | Fault::WriteFailed { .. }
            | Fault::ReadFailed(_)
            | Fault::Io(_)
            | Fault::Pull(_) => ErrorClass::Fatal,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::PathBuf;
    use std::time::Duration;

    use aws_smithy_types::error::operation::BuildError;

    use super::Fault;
    use crate::aws::{AwsError, ErrorClass};

    fn build_error() -> BuildError {
        BuildError::missing_field("key", "a tag needs a key")
    }

    /// Every fault with the class, code and message the call site that raised it used to give
    /// (the messages spelled as those call sites built them).
    fn every_fault() -> Vec<(Fault, ErrorClass, &'static str, String)> {
        let (id, state, path) = ("vpce-1", "failed", "/aws/service/ami");
        let keys = PathBuf::from("/home/u/.awslab/keys");
        let bad_utf8 = String::from_utf8(vec![0xff]).expect_err("not UTF-8");
        let bad_utf8_text = bad_utf8.to_string();
        let io_text = io::Error::other("disk gone").to_string();
        vec![
            (
                Fault::WaitTimeout {
                    target: "active".to_owned(),
                    waited: Duration::from_millis(30_400),
                },
                ErrorClass::Fatal,
                "WaitTimeout",
                format!("still not {} after {} s", "active", 30),
            ),
            (
                Fault::NotListed,
                ErrorClass::Gone,
                "NotListed",
                "not listed by AWS".to_owned(),
            ),
            (
                Fault::NoAclAssociation {
                    subnet_id: "subnet-1".to_owned(),
                },
                ErrorClass::Gone,
                "InvalidAssociationID.NotFound",
                format!(
                    "subnet {} has no network ACL association to replace",
                    "subnet-1"
                ),
            ),
            (
                Fault::Vanished {
                    while_waiting: false,
                },
                ErrorClass::Fatal,
                "NotFound",
                "vanished".to_owned(),
            ),
            (
                Fault::Vanished {
                    while_waiting: true,
                },
                ErrorClass::Fatal,
                "NotFound",
                "vanished while waiting".to_owned(),
            ),
            (
                Fault::NotDeleted { versions: 3 },
                ErrorClass::Fatal,
                "NotDeleted",
                format!(
                    "S3 still lists {} object versions after deleting them (object lock or a legal hold?)",
                    3
                ),
            ),
            (
                Fault::EndpointFailed {
                    id: id.to_owned(),
                    state: state.to_owned(),
                },
                ErrorClass::Fatal,
                "EndpointFailed",
                format!("{id} is {state}, not available"),
            ),
            (
                Fault::NatGatewayFailed {
                    id: "nat-1".to_owned(),
                },
                ErrorClass::Fatal,
                "NatGatewayFailed",
                format!(
                    "NAT gateway {} failed; see its failure message in the console",
                    "nat-1"
                ),
            ),
            (
                Fault::NoId {
                    what: "allocation id",
                },
                ErrorClass::Fatal,
                "NoId",
                "no allocation id in the answer".to_owned(),
            ),
            (
                Fault::NoArn {
                    what: "target group",
                },
                ErrorClass::Fatal,
                "NoArn",
                "no target group in the answer".to_owned(),
            ),
            (
                Fault::NoValue {
                    parameter: path.to_owned(),
                },
                ErrorClass::Fatal,
                "NoValue",
                format!("{path} has no value"),
            ),
            (
                Fault::Unbuilt(build_error()),
                ErrorClass::Fatal,
                "Bad",
                build_error().to_string(),
            ),
            (
                Fault::BadTag(build_error()),
                ErrorClass::Fatal,
                "BadTag",
                build_error().to_string(),
            ),
            (
                Fault::BadManifest(bad_utf8),
                ErrorClass::Fatal,
                "BadManifest",
                bad_utf8_text,
            ),
            (
                Fault::EmptyUpload,
                ErrorClass::Fatal,
                "EmptyUpload",
                "an empty blob cannot be uploaded".to_owned(),
            ),
            (
                Fault::NoSuchAz {
                    az: 4,
                    region: "eu-west-1".to_owned(),
                    zones: 3,
                },
                ErrorClass::Fatal,
                "NoSuchAz",
                format!(
                    "az = {}, but region {} has {} availability zones",
                    4, "eu-west-1", 3
                ),
            ),
            (
                Fault::ServiceChanged {
                    serves: "com.amazonaws.eu-west-1.s3".to_owned(),
                    asked: "dynamodb".to_owned(),
                },
                ErrorClass::Fatal,
                "ServiceChanged",
                format!(
                    "it serves {}, the lab asks for {}: an endpoint's service cannot change; `awslab down` and `up` again make it anew",
                    "com.amazonaws.eu-west-1.s3", "dynamodb"
                ),
            ),
            (
                Fault::NotOurs {
                    what: "an instance profile",
                    name: "awslab-x".to_owned(),
                },
                ErrorClass::Fatal,
                "NotOurs",
                format!(
                    "an instance profile named {} exists and is not this env's",
                    "awslab-x"
                ),
            ),
            (
                Fault::NotAwslabsBucket,
                ErrorClass::Fatal,
                "NotAwslabsBucket",
                "holds objects and carries no awslab tags: awslab neither takes it over nor deletes it (empty it or delete it yourself, or use another --env)".to_owned(),
            ),
            (
                Fault::OtherOwnersBucket {
                    lab: "web".to_owned(),
                    env: "dev".to_owned(),
                },
                ErrorClass::Fatal,
                "OtherOwnersBucket",
                format!(
                    "tagged for lab {}, env {}: awslab takes no other owner's bucket",
                    "web", "dev"
                ),
            ),
            (
                Fault::BucketRefused {
                    refusal: "s3:GetBucketTagging refused: AccessDenied: no".to_owned(),
                },
                ErrorClass::Fatal,
                "AccessDenied",
                format!(
                    "{}: the bucket's policy (or an organisation's policy) denies awslab; remove that Deny and run again",
                    "s3:GetBucketTagging refused: AccessDenied: no"
                ),
            ),
            (
                Fault::TagTaken {
                    repository: "app".to_owned(),
                    tag: "v1".to_owned(),
                    current: "sha256:ab".to_owned(),
                },
                ErrorClass::Fatal,
                "ImageTagAlreadyExistsException",
                crate::push::PushError::TagTaken {
                    repository: "app".to_owned(),
                    tag: "v1".to_owned(),
                    current: "sha256:ab".to_owned(),
                }
                .to_string(),
            ),
            (
                Fault::WrongKind {
                    name: "web".to_owned(),
                    is: "subnet",
                    handler: "VPC",
                },
                ErrorClass::Fatal,
                "WrongKind",
                format!(
                    "{} is a {}, handed to the {} handler",
                    "web", "subnet", "VPC"
                ),
            ),
            (
                Fault::Untracked {
                    why: "not in the lab",
                },
                ErrorClass::Fatal,
                "Unknown",
                "not in the lab".to_owned(),
            ),
            (
                Fault::NotCreated {
                    name: "lab-vpc".to_owned(),
                },
                ErrorClass::Fatal,
                "MissingDependency",
                format!("`{}` was not created", "lab-vpc"),
            ),
            (
                Fault::NoLoadBalancer,
                ErrorClass::Fatal,
                "MissingDependency",
                "no load balancer".to_owned(),
            ),
            (
                Fault::WriteFailed {
                    path: keys.clone(),
                    error: io::Error::other("disk gone"),
                },
                ErrorClass::Fatal,
                "WriteFailed",
                format!("{}: {}", keys.display(), io_text),
            ),
            (
                Fault::ReadFailed(io::Error::other("disk gone")),
                ErrorClass::Fatal,
                "ReadFailed",
                format!("cannot read the blob from disk: {io_text}"),
            ),
            (
                Fault::Io(io::Error::other("disk gone")),
                ErrorClass::Fatal,
                "Io",
                io_text.clone(),
            ),
        ]
    }

    #[test]
    fn each_fault_keeps_the_class_code_and_message_it_was_raised_with() {
        for (fault, class, code, message) in every_fault() {
            assert_eq!(fault.class(), class, "{fault:?}");
            assert_eq!(fault.code(), code, "{fault:?}");
            assert_eq!(fault.to_string(), message, "{fault:?}");
        }
    }

    #[test]
    fn a_fault_renders_as_the_error_it_replaces() {
        for (fault, class, code, message) in every_fault() {
            let e = AwsError::from_fault("ec2:CreateSubnet", "public-a", fault);
            assert_eq!(e.class, class);
            assert_eq!(e.cause.code(), code);
            assert_eq!(e.message(), message);
            assert_eq!(
                e.to_string(),
                format!("ec2:CreateSubnet on public-a failed: {code}: {message}")
            );
            assert!(e.aws_code().is_none(), "{e}");
            assert!(std::error::Error::source(&e).is_none(), "{e}");
            assert!(e.help.is_none(), "{e}");
        }
    }

    #[test]
    fn a_wait_that_timed_out_and_a_foreign_role_read_as_before() {
        let wait = AwsError::from_fault(
            "wait",
            "lab-alb",
            Fault::WaitTimeout {
                target: "active".to_owned(),
                waited: Duration::from_secs(300),
            },
        );
        assert_eq!(
            wait.to_string(),
            "wait on lab-alb failed: WaitTimeout: still not active after 300 s"
        );
        let role = AwsError::from_fault(
            "iam:CreateRole",
            "web-role",
            Fault::NotOurs {
                what: "a role",
                name: "awslab-web-dev-1a2b-web-role".to_owned(),
            },
        );
        assert_eq!(
            role.to_string(),
            "iam:CreateRole on web-role failed: NotOurs: a role named awslab-web-dev-1a2b-web-role exists and is not this env's"
        );
    }
}
