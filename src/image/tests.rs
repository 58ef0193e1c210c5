//! Unit tests of image inputs: every form loads and verifies; bad inputs fail naming the file,
//! the part and what it is.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("index.html"), b"<h1>hi</h1>").expect("write");
    std::fs::create_dir(dir.path().join("css")).expect("dir");
    std::fs::write(dir.path().join("css/style.css"), b"h1{}").expect("write");
    dir
}

/// A tar of a directory's files (what a user would hand over as an archive).
fn tar_of(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).expect("tar");
    b.into_inner().expect("tar")
}

fn write_tar(dir: &Path) -> tempfile::NamedTempFile {
    let archive = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(archive.path(), tar_of(dir)).expect("write");
    archive
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// 300 MiB of zeros in about 300 KiB: one gzip member of 1 MiB of zeros, 300 times (gzip
/// readers take concatenated members as one stream).
pub(super) fn gzip_bomb() -> Vec<u8> {
    let member = gzip_best(&vec![0u8; 1 << 20]);
    member.repeat(300)
}

fn gzip_best(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

fn load1(path: &Path) -> Result<Image, ImageError> {
    load(path, None)
}

fn bytes(b: &Blob) -> Vec<u8> {
    b.to_vec().expect("read blob")
}

/// A classic `docker save` directory holding `images` (tag, layer content) and its manifest.
fn docker_save(images: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let mut manifest = Vec::new();
    for (i, (tag, content)) in images.iter().enumerate() {
        let layer_dir = tempfile::tempdir().expect("dir");
        std::fs::write(layer_dir.path().join("file.txt"), content).expect("write");
        let layer = tar_of(layer_dir.path());
        let config =
            json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}})
                .to_string();
        std::fs::create_dir(dir.path().join(format!("l{i}"))).expect("dir");
        std::fs::write(dir.path().join(format!("l{i}/layer.tar")), &layer).expect("write");
        std::fs::write(dir.path().join(format!("c{i}.json")), &config).expect("write");
        manifest.push(json!({"Config": format!("c{i}.json"), "RepoTags": [tag], "Layers": [format!("l{i}/layer.tar")]}));
    }
    std::fs::write(
        dir.path().join("manifest.json"),
        Value::Array(manifest).to_string(),
    )
    .expect("write");
    dir
}

#[test]
fn a_packed_directory_is_reproducible_and_verifies() {
    let dir = site();
    let a = pack_dir(dir.path()).expect("pack");
    let b = pack_dir(dir.path()).expect("pack");
    assert_eq!(a.digest(), b.digest(), "same files, same image");
    assert_eq!(a.layers.len(), 1);
    assert_eq!(a.layers[0].media_type, OCI_LAYER_GZIP);
    let config: Value = serde_json::from_slice(&bytes(&a.config)).expect("json");
    // The diff id is the digest of the uncompressed layer.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes(&a.layers[0]).as_slice())
        .read_to_end(&mut tar)
        .expect("gunzip");
    assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&tar));
    assert_eq!(a.layers[0].digest, Digest::of(&bytes(&a.layers[0])));
    // Directories load as images by packing.
    let loaded = load1(dir.path()).expect("load");
    assert_eq!(loaded.digest(), a.digest());
    assert_eq!(
        loaded.input.to_string(),
        "a directory packed into one layer: 2 file(s)"
    );
}

#[test]
fn an_oci_layout_round_trips_as_directory_and_as_tar() {
    let image = pack_dir(site().path()).expect("pack");
    let layout = tempfile::tempdir().expect("dir");
    write_oci_layout(&image, layout.path()).expect("write");
    let back = load1(layout.path()).expect("layout dir");
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.layers, image.layers);
    assert_eq!(back.input.kind, InputKind::OciLayout);
    let archive = write_tar(layout.path());
    let back = load1(archive.path()).expect("layout tar");
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.input.to_string(), "a tar of an OCI image layout");
}

#[test]
fn a_classic_docker_save_archive_loads_with_its_layers_checked() {
    let saved = docker_save(&[("web:v1", b"hello")]);
    let archive = write_tar(saved.path());
    let image = load1(archive.path()).expect("docker save");
    assert_eq!(image.layers.len(), 1);
    let layer = std::fs::read(saved.path().join("l0/layer.tar")).expect("read");
    assert_eq!(image.layers[0].digest, Digest::of(&layer));
    assert_eq!(
        bytes(&image.layers[0]),
        layer,
        "read from inside the archive"
    );
    assert_eq!(
        image.input.to_string(),
        "a `docker save` archive, image web:v1"
    );

    // A layer that does not match the config's diff id is refused, naming the layer.
    std::fs::write(saved.path().join("l0/layer.tar"), b"not the layer").expect("write");
    let archive = write_tar(saved.path());
    let err = load1(archive.path()).expect_err("mismatch").to_string();
    assert!(
        err.contains("layer 1 (l0/layer.tar) does not match its digest"),
        "{err}"
    );
}

/// Docker's containerd image store: `index.json` names an index (the image and an
/// attestation), and the archive may be gzipped.
#[test]
fn a_containerd_docker_save_with_an_index_and_gzip_loads_the_image() {
    let image = pack_dir(site().path()).expect("pack");
    let layout = tempfile::tempdir().expect("dir");
    write_oci_layout(&image, layout.path()).expect("write");
    let manifest = Blob::bytes(OCI_MANIFEST, image.manifest.clone());
    let attestation = Blob::bytes(OCI_MANIFEST, b"{}".to_vec());
    let mut image_entry = docker::descriptor(&manifest);
    image_entry["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut att_entry = docker::descriptor(&attestation);
    att_entry["platform"] = json!({"os": "unknown", "architecture": "unknown"});
    att_entry["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest"});
    let index = Blob::bytes(
        "application/vnd.oci.image.index.v1+json",
        json!({"schemaVersion": 2, "manifests": [att_entry, image_entry]})
            .to_string()
            .into_bytes(),
    );
    let blobs = layout.path().join("blobs/sha256");
    std::fs::write(blobs.join(index.digest.hex()), bytes(&index)).expect("write");
    let mut entry = docker::descriptor(&index);
    entry["annotations"] = json!({"io.containerd.image.name": "docker.io/library/web:v1", "org.opencontainers.image.ref.name": "v1"});
    std::fs::write(
        layout.path().join("index.json"),
        json!({"schemaVersion": 2, "manifests": [entry]}).to_string(),
    )
    .expect("write");
    let back = load1(layout.path()).expect("through the index");
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.input.reference.as_deref(), Some("web:v1"));
    // `docker save … | gzip`
    let archive = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(archive.path(), gzip(&tar_of(layout.path()))).expect("write");
    let back = load1(archive.path()).expect("gzipped");
    assert_eq!(back.digest(), image.digest());
    assert_eq!(
        back.input.to_string(),
        "a tar of an OCI image layout (gzipped), image web:v1"
    );
    // An extracted archive is not packed as files.
    let extracted = tempfile::tempdir().expect("dir");
    std::fs::write(extracted.path().join("manifest.json"), b"[]").expect("write");
    let err = load1(extracted.path()).expect_err("extracted").to_string();
    assert!(err.contains("extracted `docker save` archive"), "{err}");
}

#[test]
fn gzipped_layers_of_a_docker_save_archive_are_checked_by_their_content() {
    let layer = tar_of(site().path());
    let compressed = gzip(&layer);
    let config = json!({"rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}}).to_string();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("l.tar.gz"), &compressed).expect("write");
    std::fs::write(dir.path().join("c.json"), &config).expect("write");
    std::fs::write(
        dir.path().join("manifest.json"),
        json!([{"Config": "c.json", "Layers": ["l.tar.gz"]}]).to_string(),
    )
    .expect("write");
    let archive = write_tar(dir.path());
    let image = load1(archive.path()).expect("gzipped layer");
    assert_eq!(image.layers[0].media_type, OCI_LAYER_GZIP);
    assert_eq!(image.layers[0].digest, Digest::of(&compressed));
}

#[test]
fn bad_inputs_name_the_file_and_the_part() {
    let image = pack_dir(site().path()).expect("pack");
    let layout = tempfile::tempdir().expect("dir");
    write_oci_layout(&image, layout.path()).expect("write");
    // A blob changed on disk (same size, other bytes).
    let hex = image.layers[0].digest.hex().to_owned();
    let blob = layout.path().join("blobs/sha256").join(&hex);
    let mut tampered = std::fs::read(&blob).expect("read");
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    std::fs::write(&blob, &tampered).expect("write");
    let err = load1(layout.path()).expect_err("tampered").to_string();
    assert!(
        err.contains(&format!(
            "layer 1 (blobs/sha256/{hex}) does not match its digest"
        )),
        "{err}"
    );
    // Another size than its descriptor says.
    std::fs::write(&blob, b"tampered").expect("write");
    let err = load1(layout.path()).expect_err("size").to_string();
    assert!(err.contains("has 8 bytes, its descriptor says"), "{err}");
    // A blob gone.
    std::fs::remove_file(&blob).expect("rm");
    let err = load1(layout.path()).expect_err("missing").to_string();
    assert!(
        err.contains("layer 1 (blobs/sha256/") && err.contains("is missing"),
        "{err}"
    );
    // A truncated archive.
    write_oci_layout(&image, layout.path()).expect("write");
    let bytes = tar_of(layout.path());
    let archive = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(archive.path(), &bytes[..bytes.len() / 3]).expect("write");
    let err = load1(archive.path()).expect_err("truncated").to_string();
    assert!(err.contains("is corrupt or truncated"), "{err}");
    // A tar that is no image, a text file, no such file.
    let plain = write_tar(site().path());
    let err = load1(plain.path()).expect_err("plain tar").to_string();
    assert!(
        err.contains("is not an image: it is a tar archive without manifest.json"),
        "{err}"
    );
    std::fs::write(archive.path(), "FROM nginx\nCOPY . /usr/share/nginx/html\n").expect("write");
    let err = load1(archive.path()).expect_err("text").to_string();
    assert!(
        err.ends_with("is not an image: it is a text file, not a tar archive or a directory"),
        "{err}"
    );
    let err = load1(Path::new("/no/such/image.tar"))
        .expect_err("missing file")
        .to_string();
    assert!(err.contains("cannot read /no/such/image.tar"), "{err}");
}

/// Digests become file names: anything but `sha256:` and 64 hex digits is refused before any
/// file is opened (`sha256:../../../../dev/zero` would otherwise be read forever).
#[test]
fn digests_that_are_not_digests_never_become_paths() {
    let image = pack_dir(site().path()).expect("pack");
    let layout = tempfile::tempdir().expect("dir");
    write_oci_layout(&image, layout.path()).expect("write");
    let index_path = layout.path().join("index.json");
    let good: Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("read")).expect("json");
    for bad in [
        "sha256:../../../../dev/zero",
        "sha256:../../../../../etc/passwd",
        "sha512:abcd",
        "sha256:ABCDEF",
    ] {
        let mut index = good.clone();
        index["manifests"][0]["digest"] = json!(bad);
        std::fs::write(&index_path, index.to_string()).expect("write");
        let err = load1(layout.path()).expect_err("bad digest").to_string();
        assert!(
            err.contains(&format!(
                "index.json entry 1 has the digest {bad:?}, which is not `sha256:` and 64 hex digits"
            )),
            "{err}"
        );
    }
    // In a manifest, for a layer.
    std::fs::write(&index_path, good.to_string()).expect("write");
    let mut manifest: Value = serde_json::from_slice(&image.manifest).expect("json");
    manifest["layers"][0]["digest"] = json!("sha256:../../../../dev/zero");
    let tampered = Blob::bytes(OCI_MANIFEST, manifest.to_string().into_bytes());
    std::fs::write(
        layout
            .path()
            .join("blobs/sha256")
            .join(tampered.digest.hex()),
        bytes(&tampered),
    )
    .expect("write");
    std::fs::write(
        &index_path,
        json!({"schemaVersion": 2, "manifests": [docker::descriptor(&tampered)]}).to_string(),
    )
    .expect("write");
    let err = load1(layout.path())
        .expect_err("bad layer digest")
        .to_string();
    assert!(err.contains("layer 1 has the digest"), "{err}");
}

#[test]
fn sizes_and_gzip_expansion_are_capped_before_reading() {
    let image = pack_dir(site().path()).expect("pack");
    let layout = tempfile::tempdir().expect("dir");
    write_oci_layout(&image, layout.path()).expect("write");
    // A descriptor claiming 11 GiB: refused by its size, nothing read.
    let mut manifest: Value = serde_json::from_slice(&image.manifest).expect("json");
    manifest["layers"][0]["size"] = json!(11u64 * limits::GIB);
    let big = Blob::bytes(OCI_MANIFEST, manifest.to_string().into_bytes());
    std::fs::write(
        layout.path().join("blobs/sha256").join(big.digest.hex()),
        bytes(&big),
    )
    .expect("write");
    std::fs::write(
        layout.path().join("index.json"),
        json!({"schemaVersion": 2, "manifests": [docker::descriptor(&big)]}).to_string(),
    )
    .expect("write");
    let err = load1(layout.path()).expect_err("too large").to_string();
    assert!(
        err.contains("has 11811160064 bytes, more than the 10737418240 awslab accepts"),
        "{err}"
    );
    // A gzipped archive that expands past its limit (300 MiB of zeros in 300 KiB).
    let bomb = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(bomb.path(), gzip_bomb()).expect("write");
    let err = load1(bomb.path()).expect_err("bomb").to_string();
    assert!(
        err.contains("the archive expands past 268435456 bytes when decompressed"),
        "{err}"
    );
}

#[test]
fn several_images_need_a_reference_and_it_picks_one() {
    // A `docker save` of two images.
    let saved = docker_save(&[("web:v1", b"one"), ("api:v2", b"two")]);
    let archive = write_tar(saved.path());
    let err = load1(archive.path()).expect_err("several");
    assert!(matches!(err, ImageError::SeveralImages { .. }), "{err}");
    assert!(
        err.to_string().ends_with("holds 2 images: web:v1, api:v2"),
        "{err}"
    );
    let api = load(archive.path(), Some("api:v2")).expect("chosen");
    let layer = std::fs::read(saved.path().join("l1/layer.tar")).expect("read");
    assert_eq!(bytes(&api.layers[0]), layer);
    let err = load(archive.path(), Some("db:v3"))
        .expect_err("none")
        .to_string();
    assert!(
        err.ends_with("holds no image \"db:v3\"; it holds web:v1, api:v2"),
        "{err}"
    );

    // An OCI layout of two images, by their ref names.
    let one = pack_dir(site().path()).expect("pack");
    let other = tempfile::tempdir().expect("dir");
    std::fs::write(other.path().join("index.html"), b"other").expect("write");
    let two = pack_dir(other.path()).expect("pack");
    let layout = tempfile::tempdir().expect("dir");
    write_oci_layout(&two, layout.path()).expect("write");
    write_oci_layout(&one, layout.path()).expect("write");
    let entry = |image: &Image, name: &str| {
        let mut d = docker::descriptor(&Blob::bytes(OCI_MANIFEST, image.manifest.clone()));
        d["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        d
    };
    std::fs::write(
        layout.path().join("index.json"),
        json!({"schemaVersion": 2, "manifests": [entry(&one, "v1"), entry(&two, "v2")]})
            .to_string(),
    )
    .expect("write");
    let err = load1(layout.path()).expect_err("several").to_string();
    assert!(err.ends_with("holds 2 images: v1, v2"), "{err}");
    assert_eq!(
        load(layout.path(), Some("v2")).expect("v2").digest(),
        two.digest()
    );
    assert_eq!(
        load(layout.path(), Some(one.digest().as_str()))
            .expect("by digest")
            .digest(),
        one.digest()
    );
    // A directory to pack has no references.
    let err = load(site().path(), Some("v1"))
        .expect_err("dir")
        .to_string();
    assert!(err.contains("has no image references"), "{err}");
}

#[test]
fn an_image_argument_splits_at_the_colon_after_an_existing_path() {
    let dir = tempfile::tempdir().expect("dir");
    let tar = dir.path().join("images.tar");
    std::fs::write(&tar, b"x").expect("write");
    let arg = |s: String| ImageArg::parse(&s);
    let t = tar.display();
    assert_eq!(arg(format!("{t}")).reference, None);
    assert_eq!(arg(format!("{t}:web:v1")).path, tar);
    assert_eq!(
        arg(format!("{t}:web:v1")).reference.as_deref(),
        Some("web:v1")
    );
    assert_eq!(arg(format!("{t}:v2")).reference.as_deref(), Some("v2"));
    // No existing prefix: the whole argument is the path (and reading it will say so).
    assert_eq!(
        arg("/no/such:thing".to_owned()).path,
        Path::new("/no/such:thing")
    );
}

#[cfg(unix)]
#[test]
fn a_packed_directory_follows_links_inside_and_refuses_the_rest() {
    use std::os::unix::fs::symlink;
    let dir = site();
    let d = dir.path();
    symlink("index.html", d.join("home.html")).expect("link");
    let image = load1(d).expect("pack");
    assert_eq!(image.input.links_followed, 1);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes(&image.layers[0]).as_slice())
        .read_to_end(&mut tar)
        .expect("gunzip");
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut names = Vec::new();
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        let mut content = String::new();
        e.read_to_string(&mut content).expect("read");
        names.push((e.path().expect("path").display().to_string(), content));
    }
    assert_eq!(
        names,
        [
            ("css/style.css".to_owned(), "h1{}".to_owned()),
            ("home.html".to_owned(), "<h1>hi</h1>".to_owned()),
            ("index.html".to_owned(), "<h1>hi</h1>".to_owned()),
        ]
    );
    // A link out, a dangling link: exit-2 errors naming them.
    let outside = tempfile::tempdir().expect("dir");
    symlink(outside.path(), d.join("out")).expect("link");
    symlink("nothing", d.join("dangling")).expect("link");
    let err = load1(d).expect_err("refused").to_string();
    assert!(err.contains("`out` is a symbolic link to"), "{err}");
    assert!(
        err.contains("`dangling` is a symbolic link to nothing, which does not exist"),
        "{err}"
    );
    // A folder holding only a link out is not "an empty directory".
    let only = tempfile::tempdir().expect("dir");
    symlink(outside.path(), only.path().join("data")).expect("link");
    let err = load1(only.path()).expect_err("only a link").to_string();
    assert!(err.contains("`data` is a symbolic link to"), "{err}");
    // A folder whose every file is left out says so.
    let git = tempfile::tempdir().expect("dir");
    std::fs::create_dir(git.path().join(".git")).expect("dir");
    std::fs::write(git.path().join(".git/HEAD"), b"ref").expect("write");
    let err = load1(git.path()).expect_err("nothing left").to_string();
    assert!(err.contains("every file in it is left out (.git"), "{err}");
    let empty = tempfile::tempdir().expect("dir");
    let err = load1(empty.path()).expect_err("empty").to_string();
    assert!(err.ends_with("it is an empty directory"), "{err}");
}
