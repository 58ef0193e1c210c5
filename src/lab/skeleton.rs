//! `awslab new`: the text of a lab file to start from, small enough to read at a glance and
//! complete enough to show every part of a lab (schema directive, a resource, a check, and
//! instructions that quote the lab's own values).

/// The schema file the skeleton's `#:schema` directive names, beside the lab file.
pub const SCHEMA_FILE: &str = "lab.schema.json";

/// A lab file with id `id` that passes `awslab validate`.
pub fn skeleton(id: &str) -> String {
    format!(
        r#"#:schema ./{SCHEMA_FILE}
# A lab to start from: replace the bucket and its check with your own exercise. Your editor
# completes and checks this file through the schema above (Taplo, Even Better TOML); run
# `awslab validate` on it after each change.
id = "{id}"
title = "A versioned S3 bucket"
summary = "One S3 bucket that keeps every version of its objects."
source = "where the exercise comes from in your course notes"
# `${{NAME.KEY}}` quotes what the lab declares (`${{notes.object_ownership}}` reads
# BucketOwnerEnforced), so the text cannot drift from the resources; `${{NAME.id}}` is what
# AWS calls the resource, filled in by `awslab show` once it exists.
instructions = """
1. Create an S3 bucket named `${{notes.id}}` (`awslab show {id}` fills in the name: it carries
   your account id).
2. Under "Object Ownership", choose ${{notes.object_ownership}} (ACLs disabled).
3. Turn on Bucket Versioning, so that overwriting or deleting an object keeps its earlier
   versions.

Check your work with `awslab check {id}`, and remove the bucket with `awslab down {id}`.
"""

[resources.notes]
type = "s3_bucket"
versioning = true
object_ownership = "BucketOwnerEnforced"

[[checks]]
id = "versioning-on"
title = "The bucket keeps every version of its objects"
kind = "s3_versioning"
bucket = "notes"
points = 1
hint = "Open the bucket's Properties tab and enable Bucket Versioning."
"#
    )
}
