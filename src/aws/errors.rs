//! AWS errors, classified in one place: not found (gone, or not visible yet: see
//! [`crate::aws::known`]), dependency (wait and retry), throttled (retry), unreachable /
//! credentials (exit 3), a setting that is not set, fatal. Classification is by error code
//! ([`classify`]); [`classify_answer`] reads the message too where a code says too little (IAM
//! instance profiles EC2 does not see yet, Auto Scaling's `ValidationError` for a group that
//! does not exist, a managed policy that does not exist). What failed is AWS's answer or a
//! [`Fault`] awslab raises itself, which carries its own class.

use std::error::Error as StdError;
use std::fmt::{self, Debug};
use std::time::Duration;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use miette::Diagnostic;
use thiserror::Error;

use super::fault::Fault;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// AWS says the resource does not exist: gone, or (for something awslab has just created or
    /// read) not visible yet.
    Gone,
    /// The resource exists but this setting or child is not set (a bucket without a policy, a
    /// repository without a lifecycle policy): an answer, not an error.
    Unset,
    /// Something still uses it; it will clear (draining ENIs, a NAT being deleted).
    Dependency,
    /// Throttled or a transient server error.
    Throttled,
    /// No answer: endpoint down, DNS, timeout.
    Unreachable,
    /// Missing, invalid or expired credentials.
    Credentials,
    Fatal,
}

/// A call that failed: which call, on what, and what failed, with its class.
#[derive(Debug, Error, Diagnostic)]
#[error("{op} on {resource} failed: {cause}{}", asked_again_text(.asked_again))]
pub struct AwsError {
    pub op: &'static str,
    pub resource: String,
    pub cause: Cause,
    pub class: ErrorClass,
    #[source]
    pub source: Option<Box<dyn StdError + Send + Sync>>,
    #[help]
    pub help: Option<String>,
    /// What asking again about a not-found answer found, in the order it was asked (a step
    /// asked again can hold one asked again itself), told after the cause's message.
    asked_again: Vec<AskedAgain>,
}

/// What failed in a call: AWS's answer, or something awslab found wrong itself.
#[derive(Debug)]
pub enum Cause {
    /// AWS's error code and message (for a call that got no answer, the SDK's failure under
    /// awslab's name for it: `Unreachable`, `NoCredentials`, `Timeout`).
    Aws { code: String, message: String },
    /// A fault awslab raises itself.
    Own(Fault),
}

impl Cause {
    /// The code it renders with: AWS's error code, or the fault's.
    pub fn code(&self) -> &str {
        match self {
            Cause::Aws { code, .. } => code,
            Cause::Own(f) => f.code(),
        }
    }

    fn message(&self) -> String {
        match self {
            Cause::Aws { message, .. } => message.clone(),
            Cause::Own(f) => f.to_string(),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Aws { code, message } => write!(f, "{code}: {message}"),
            Cause::Own(fault) => write!(f, "{}: {fault}", fault.code()),
        }
    }
}

/// A not-found answer that stood after asking again for a while; displayed as the words added
/// after the cause's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AskedAgain {
    /// About something known to exist: still not visible after this long.
    NotVisible(Duration),
    /// To a delete: AWS still lists what it says is not found after this long.
    StillListed(Duration),
}

impl fmt::Display for AskedAgain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskedAgain::NotVisible(waited) => write!(
                f,
                " (still not visible after {} s of asking again)",
                waited.as_secs()
            ),
            AskedAgain::StillListed(waited) => write!(
                f,
                ", yet AWS still lists it after {} s of asking again",
                waited.as_secs()
            ),
        }
    }
}

fn asked_again_text(asked: &[AskedAgain]) -> String {
    asked.iter().map(AskedAgain::to_string).collect()
}

impl AwsError {
    pub fn from_sdk<E, R>(
        op: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: Debug + Send + Sync + 'static,
    {
        let resource = resource.into();
        let (code, message, class) = match &err {
            SdkError::DispatchFailure(d) => {
                let text = format!("{d:?} {}", source_chain(&err)).to_ascii_lowercase();
                let cred = text.contains("credential");
                if cred {
                    (
                        "NoCredentials".to_owned(),
                        "no usable AWS credentials".to_owned(),
                        ErrorClass::Credentials,
                    )
                } else {
                    (
                        "Unreachable".to_owned(),
                        "could not connect to the endpoint".to_owned(),
                        ErrorClass::Unreachable,
                    )
                }
            }
            SdkError::TimeoutError(_) => (
                "Timeout".to_owned(),
                "the request timed out".to_owned(),
                ErrorClass::Unreachable,
            ),
            _ => {
                let code = err.code().unwrap_or("Unknown").to_owned();
                let message = err.message().unwrap_or("").to_owned();
                let class = classify_answer(&code, &message);
                (code, message, class)
            }
        };
        let help = match class {
            ErrorClass::Unreachable => Some(
                "is the endpoint right? For --local, start the emulator first with `localstack/up`".to_owned(),
            ),
            ErrorClass::Credentials => Some(
                "configure credentials (aws configure / aws sso login / AWS_PROFILE), or use --local for the emulator".to_owned(),
            ),
            _ => None,
        };
        let message = if message.is_empty() {
            source_chain(&err)
        } else {
            message
        };
        AwsError {
            op,
            resource,
            cause: Cause::Aws { code, message },
            class,
            source: Some(Box::new(err)),
            help,
            asked_again: Vec::new(),
        }
    }

    /// A fault awslab raises itself about a call, of the fault's class.
    pub fn from_fault(op: &'static str, resource: impl Into<String>, fault: Fault) -> Self {
        AwsError {
            op,
            resource: resource.into(),
            class: fault.class(),
            cause: Cause::Own(fault),
            source: None,
            help: None,
            asked_again: Vec::new(),
        }
    }

    /// AWS's answer about one item of a call that succeeded as a whole (a batch delete's
    /// refusal of one object). Fatal unless the caller classifies it with [`Self::with_class`].
    pub fn answer(
        op: &'static str,
        resource: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            op,
            resource: resource.into(),
            cause: Cause::Aws {
                code: code.into(),
                message: message.into(),
            },
            class: ErrorClass::Fatal,
            source: None,
            help: None,
            asked_again: Vec::new(),
        }
    }

    /// AWS's error code, when what failed is AWS's answer.
    pub fn aws_code(&self) -> Option<&str> {
        match &self.cause {
            Cause::Aws { code, .. } => Some(code),
            Cause::Own(_) => None,
        }
    }

    /// The fault, when what failed is awslab's own.
    pub fn fault(&self) -> Option<&Fault> {
        match &self.cause {
            Cause::Aws { .. } => None,
            Cause::Own(f) => Some(f),
        }
    }

    /// The message it renders with, after the code (see [`Cause::code`]).
    pub fn message(&self) -> String {
        format!(
            "{}{}",
            self.cause.message(),
            asked_again_text(&self.asked_again)
        )
    }

    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.class = class;
        self
    }

    pub fn is_gone(&self) -> bool {
        self.class == ErrorClass::Gone
    }

    /// A not-found answer to a delete of something AWS still lists after `waited`.
    pub fn still_listed_after(mut self, waited: Duration) -> Self {
        self.asked_again.push(AskedAgain::StillListed(waited));
        self.class = ErrorClass::Fatal;
        self
    }

    /// A not-found answer about something known to exist, after it was asked for `waited`.
    pub fn not_visible_after(mut self, waited: Duration) -> Self {
        self.asked_again.push(AskedAgain::NotVisible(waited));
        self
    }
}

fn source_chain(err: &dyn StdError) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

/// The class of an AWS answer: by its code, except where AWS answers "not visible yet" with a
/// generic code and says which in the message (the cases Terraform matches the same way): EC2
/// refusing an instance profile IAM has not propagated to it yet, and Auto Scaling's
/// `ValidationError` for a group or instance profile it does not know.
pub fn classify_answer(code: &str, message: &str) -> ErrorClass {
    // A reference the lab or the user gave, not an id awslab made: not found is an answer.
    if code == "NoSuchEntity" && message.contains("Policy") {
        return ErrorClass::Fatal;
    }
    let not_visible = match code {
        "InvalidParameterValue" => {
            message.contains("Invalid IAM Instance Profile")
                || message.contains("has no associated IAM Roles")
        }
        // ECS: a target group only now attached to its load balancer's listener, or a role (the
        // service-linked one, or a task's) IAM has not propagated to ECS yet.
        "InvalidParameterException" => {
            message.contains("does not have an associated load balancer")
                || message.contains("service linked role")
                || message.contains("Unable to assume")
        }
        "ValidationError" => {
            message.contains("Invalid IAM Instance Profile")
                || message.contains("not found")
                || message.contains("does not exist")
        }
        _ => false,
    };
    if not_visible {
        ErrorClass::Gone
    } else {
        classify(code)
    }
}

/// The class of an AWS error code.
pub fn classify(code: &str) -> ErrorClass {
    match code {
        "DependencyViolation"
        | "InvalidIPAddress.InUse"
        | "InvalidGroup.InUse"
        | "ResourceInUse"
        | "IncorrectState"
        | "InvalidState"
        | "DeleteConflict"
        | "FileSystemInUse"
        | "MountTargetConflict"
        | "IncorrectFileSystemLifeCycleState"
        | "IncorrectMountTargetState"
        | "ScalingActivityInProgress"
        // A snapshot an image still uses; a volume still attached.
        | "InvalidSnapshot.InUse"
        | "VolumeInUse"
        | "ResourceInUseFault"
        // A cluster whose services or tasks are still draining.
        | "ClusterContainsServicesException"
        | "ClusterContainsTasksException"
        | "ClusterContainsContainerInstancesException" => ErrorClass::Dependency,
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "SlowDown"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "ServiceUnavailable"
        | "Unavailable"
        | "InternalError"
        | "InternalFailure"
        | "InsufficientInstanceCapacity"
        // ECS's and CloudWatch Logs' own words for "try again".
        | "ServerException"
        | "ServiceUnavailableException"
        // S3: "A conflicting conditional operation is currently in progress" (asked again,
        // as Terraform does).
        | "OperationAborted" => ErrorClass::Throttled,
        "AuthFailure"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken" => ErrorClass::Credentials,
        "LifecyclePolicyNotFoundException"
        | "RepositoryPolicyNotFoundException"
        | "ScanNotFoundException"
        | "ImageNotFoundException"
        | "NoSuchBucketPolicy"
        | "NoSuchWebsiteConfiguration"
        | "NoSuchTagSet"
        | "NoSuchTagSetError"
        | "NoSuchLifecycleConfiguration"
        | "NoSuchPublicAccessBlockConfiguration"
        | "ServerSideEncryptionConfigurationNotFoundError"
        | "OwnershipControlsNotFoundError"
        | "InvalidPermission.NotFound"
        | "InvalidRoute.NotFound"
        | "InvalidNetworkAclEntry.NotFound" => ErrorClass::Unset,
        // A malformed image id is the lab's mistake. Not found is what AWS answers about an
        // image made seconds ago (awslab makes images from instances) or deregistered since:
        // not visible yet, or gone, as for any other id.
        "InvalidAMIID.Malformed" => ErrorClass::Fatal,
        "InvalidAMIID.Unavailable" => ErrorClass::Gone,
        "NatGatewayNotFound"
        | "InvalidNatGatewayID.NotFound"
        | "NoSuchEntity"
        | "NoSuchBucket"
        | "InvocationDoesNotExist"
        // ECS: a service deleted or being deleted.
        | "ServiceNotActiveException"
        // ELB: "The specified security group does not exist".
        | "InvalidSecurityGroup" => ErrorClass::Gone,
        c if c.ends_with(".NotFound")
            || c.ends_with("NotFound")
            || c.ends_with("NotFoundException") =>
        {
            ErrorClass::Gone
        }
        _ => ErrorClass::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_ec2::error::SdkError;
    use aws_smithy_types::error::ErrorMetadata;

    use super::{AwsError, Cause, ErrorClass, Fault, classify, classify_answer};

    fn refused(code: &str, message: &str) -> AwsError {
        let answer = ErrorMetadata::builder().code(code).message(message).build();
        AwsError::from_sdk(
            "iam:CreateRole",
            "web-role",
            SdkError::<ErrorMetadata, ()>::service_error(answer, ()),
        )
    }

    #[test]
    fn an_aws_answer_keeps_its_code_and_message() {
        let e = refused("EntityAlreadyExists", "Role with name x already exists.");
        assert_eq!(e.aws_code(), Some("EntityAlreadyExists"));
        assert_eq!(e.cause.code(), "EntityAlreadyExists");
        assert!(e.fault().is_none());
        assert_eq!(e.class, ErrorClass::Fatal);
        assert_eq!(
            e.to_string(),
            "iam:CreateRole on web-role failed: EntityAlreadyExists: Role with name x already exists."
        );
        let gone = refused("NoSuchEntity", "The role with name x cannot be found.");
        assert!(gone.is_gone());
        let item = AwsError::answer("s3:DeleteObjects", "b/k", "AccessDenied", "Access Denied");
        assert_eq!(item.aws_code(), Some("AccessDenied"));
        assert_eq!(item.class, ErrorClass::Fatal);
        assert!(matches!(&item.cause, Cause::Aws { message, .. } if message == "Access Denied"));
    }

    #[test]
    fn asking_again_is_told_after_the_cause_in_the_order_it_happened() {
        let answer = refused("NoSuchEntity", "The role with name x cannot be found.")
            .not_visible_after(Duration::from_millis(20_900));
        assert_eq!(
            answer.message(),
            "The role with name x cannot be found. (still not visible after 20 s of asking again)"
        );
        assert!(answer.is_gone());
        let listed = AwsError::from_fault("ecr:DescribeRepositories", "app", Fault::NotListed)
            .not_visible_after(Duration::from_secs(20))
            .still_listed_after(Duration::from_secs(61));
        assert_eq!(listed.class, ErrorClass::Fatal);
        assert_eq!(
            listed.to_string(),
            "ecr:DescribeRepositories on app failed: NotListed: not listed by AWS (still not visible after 20 s of asking again), yet AWS still lists it after 61 s of asking again"
        );
        assert_eq!(listed.fault().map(Fault::code), Some("NotListed"));
    }

    #[test]
    fn codes_are_classified() {
        assert_eq!(classify("InvalidVpcID.NotFound"), ErrorClass::Gone);
        assert_eq!(classify("InvalidGroup.NotFound"), ErrorClass::Gone);
        assert_eq!(classify("NatGatewayNotFound"), ErrorClass::Gone);
        assert_eq!(classify("DependencyViolation"), ErrorClass::Dependency);
        assert_eq!(classify("InvalidIPAddress.InUse"), ErrorClass::Dependency);
        assert_eq!(classify("RequestLimitExceeded"), ErrorClass::Throttled);
        assert_eq!(classify("AuthFailure"), ErrorClass::Credentials);
        assert_eq!(classify("InvalidParameterValue"), ErrorClass::Fatal);
        assert_eq!(classify("NoSuchBucket"), ErrorClass::Gone);
        assert_eq!(classify("FileSystemNotFound"), ErrorClass::Gone);
        assert_eq!(classify("RepositoryNotFoundException"), ErrorClass::Gone);
        assert_eq!(
            classify_answer(
                "InvalidParameterValue",
                "Value (lab-profile) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
            ),
            ErrorClass::Gone
        );
        assert_eq!(
            classify_answer("InvalidParameterValue", "Invalid value for CidrBlock"),
            ErrorClass::Fatal
        );
        assert_eq!(
            classify_answer("ValidationError", "AutoScalingGroup name not found - x"),
            ErrorClass::Gone
        );
        assert_eq!(
            classify_answer(
                "ValidationError",
                "The subnet ID 'subnet-f630ceb774c54d699' does not exist"
            ),
            ErrorClass::Gone
        );
        assert_eq!(
            classify_answer("ValidationError", "Max bound, 4, must be >= 2"),
            ErrorClass::Fatal
        );
        // A malformed image id is final; an image not found is not visible yet, or gone.
        assert_eq!(classify("InvalidAMIID.Malformed"), ErrorClass::Fatal);
        assert_eq!(classify("InvalidAMIID.NotFound"), ErrorClass::Gone);
        assert_eq!(classify("InvalidAMIID.Unavailable"), ErrorClass::Gone);
        assert_eq!(classify("InvalidSnapshot.InUse"), ErrorClass::Dependency);
        assert_eq!(
            classify_answer(
                "NoSuchEntity",
                "Policy arn:aws:iam::aws:policy/Typo does not exist or is not attachable."
            ),
            ErrorClass::Fatal
        );
        assert_eq!(
            classify_answer(
                "NoSuchEntity",
                "The role with name awslab-x cannot be found."
            ),
            ErrorClass::Gone
        );
        // A setting that is not set is an answer about an existing resource, never "gone".
        assert_eq!(classify("NoSuchBucketPolicy"), ErrorClass::Unset);
        assert_eq!(
            classify("LifecyclePolicyNotFoundException"),
            ErrorClass::Unset
        );
    }
}
