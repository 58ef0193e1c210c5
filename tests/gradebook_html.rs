//! The gradebook's HTML page in a real browser: headless Chromium (found or installed by
//! `scripts/browser`) loads it from disk, its script runs without an error, sorting works, and a
//! screenshot is taken to look at.

mod browser;

use awslab::check::{CheckResult, Report, Status};
use awslab::gradebook::{self, Gradebook, StudentRow};
use awslab::lab::StageSel;
use browser::{browser, chromium};
use std::path::PathBuf;

fn check(id: &str, title: &str, max: u32, status: Status) -> CheckResult {
    match status {
        Status::Pass => CheckResult::pass(id.into(), title.into(), max, "as declared".into()),
        Status::Skip => CheckResult::skip(
            id.into(),
            title.into(),
            "not run: add --live to also connect from this machine".into(),
        ),
        Status::Fail | Status::Error => {
            let mut c = CheckResult::fail(
                id.into(),
                title.into(),
                max,
                format!("{title}: not as declared"),
                format!("set `{id}` as the lab file says"),
            );
            c.expected = Some("10.0.0.0/16".into());
            c.found = Some("10.1.0.0/16 <from the console>".into());
            c.status = status;
            c
        }
    }
}

/// A class of six: mixed results, a hostile name, and one student who could not be graded.
fn class() -> Gradebook {
    use Status::{Error, Fail, Pass, Skip};
    let checks: [(&str, &str, u32); 6] = [
        ("lab-vpc", "VPC `lab-vpc` exists", 1),
        ("lab-vpc.cidr", "VPC `lab-vpc` CIDR block", 2),
        ("public-a", "subnet `public-a` exists", 1),
        ("private-rt.routes", "route table `private-rt` routes", 2),
        (
            "ssh-bastion-to-app",
            "The bastion can SSH to the app server",
            3,
        ),
        (
            "ssh-to-bastion.live",
            "SSH from the internet reaches the bastion (live)",
            1,
        ),
    ];
    let students: [(&str, [Status; 6]); 5] = [
        ("alice", [Pass, Pass, Pass, Pass, Pass, Skip]),
        ("bob", [Pass, Fail, Pass, Fail, Fail, Skip]),
        (
            "<script>alert(1)</script>",
            [Pass, Pass, Pass, Fail, Pass, Skip],
        ),
        ("dmitri", [Pass, Pass, Error, Pass, Fail, Skip]),
        ("erin \"&'", [Pass, Pass, Pass, Pass, Fail, Skip]),
    ];
    let mut rows: Vec<StudentRow> = students
        .iter()
        .enumerate()
        .map(|(i, (name, statuses))| {
            let results = checks
                .iter()
                .zip(statuses)
                .map(|((id, title, max), s)| check(id, title, *max, *s))
                .collect();
            let report = Report::new(
                "vpc-public-private".into(),
                (*name).into(),
                StageSel::Full,
                results,
            );
            let mut row = StudentRow::graded(*name, report);
            row.account = Some(format!("1111222233{i:02}"));
            row.region = Some("eu-west-1".into());
            row
        })
        .collect();
    rows.insert(
        3,
        StudentRow::not_graded(
            "carla",
            "credentials for profile `carla` were refused: ExpiredToken",
        ),
    );
    Gradebook::new(
        "vpc-public-private".into(),
        StageSel::Full,
        "2026-11-23T12:00:00Z".into(),
        rows,
    )
}

/// The `data-name` of every student row, in page order.
fn row_names(dom: &str) -> Vec<String> {
    dom.split("data-name=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
#[expect(
    clippy::print_stdout,
    reason = "says where the screenshot is, to look at it"
)]
fn gradebook_page_loads_sorts_and_renders_in_chromium() {
    let browser = browser();
    let gb = class();
    let dir = tempfile::tempdir().expect("temp dir");
    // Kept beside the screenshot, to open by hand.
    let page = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gradebook.html");
    std::fs::write(&page, gradebook::html(&gb)).expect("write page");
    let url = format!("file://{}", page.display());

    let out = chromium(
        &browser,
        &dir.path().join("profile-dom"),
        &["--dump-dom"],
        &url,
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-ready=\"true\""),
        "the script did not run:\n{dom}"
    );
    assert!(
        dom.contains("data-errors=\"\""),
        "the script hit errors:\n{dom}"
    );
    assert_eq!(row_names(&dom).len(), gb.students.len(), "{dom}");
    // The hostile name is text, and the page's own script is the only one.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(dom.matches("<script").count(), 1, "{dom}");
    assert_eq!(
        dom.matches("<button type=\"button\">").count(),
        2,
        "sort buttons"
    );

    // A `#sort=` link sorts on load: best score first, the student not graded last.
    let sorted = chromium(
        &browser,
        &dir.path().join("profile-sort"),
        &["--dump-dom"],
        &format!("{url}#sort=score-desc"),
    );
    let dom = String::from_utf8_lossy(&sorted.stdout);
    assert!(
        dom.contains("data-errors=\"\""),
        "the script hit errors:\n{dom}"
    );
    assert_eq!(
        row_names(&dom),
        [
            "alice",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "erin &quot;&amp;'",
            "dmitri",
            "bob",
            "carla"
        ]
    );
    assert!(dom.contains("aria-sort=\"descending\""));

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gradebook.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &browser,
        &dir.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,900",
        ],
        &url,
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes",
        shot.display()
    );
    println!("screenshot: {}", shot.display());
}
