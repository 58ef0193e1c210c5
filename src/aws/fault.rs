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
            | Fault::Io(_) => ErrorClass::Fatal,
        }
    }
}
