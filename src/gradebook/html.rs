//! The gradebook as one self-contained HTML page: a students × checks matrix an instructor opens
//! from disk, with no network at all (the CSS and the script are inline). Every cell says its
//! status in a symbol and a word as well as a colour; a failed cell opens to expected, found and
//! the hint; the footer row gives each check's pass rate. The script only sorts (by name or score,
//! from the headers or a `#sort=score-desc` link) and opens every cell for printing: the page
//! reads the same without it.

use std::fmt::Write;

use super::book::{CheckColumn, Gradebook, StudentOutcome, StudentRow};
use crate::check::{CheckResult, Status};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// `text` made safe inside HTML text and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The page. Rows come in the gradebook's order; `<body data-ready>` turns `true` once the
/// script has run, and `data-errors` collects any error it hit.
pub fn html(gb: &Gradebook) -> String {
    let date = gb.generated_at.get(..10).unwrap_or(&gb.generated_at);
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Gradebook: {lab} ({stage}), {date}</title>\n<style>\n{STYLE}</style>\n</head>\n\
         <body data-ready=\"false\" data-errors=\"\">\n<header>\n\
         <h1>Gradebook: <span class=\"lab\">{lab}</span></h1>\n\
         <p class=\"meta\">stage {stage} · graded <time datetime=\"{at}\">{at}</time></p>\n",
        lab = escape(&gb.lab),
        stage = escape(gb.stage),
        date = escape(date),
        at = escape(&gb.generated_at),
    );
    summary(&mut s, gb);
    s.push_str("</header>\n<main>\n<div class=\"scroll\">\n<table id=\"grades\">\n<thead>\n<tr>");
    s.push_str("<th scope=\"col\" class=\"student\" data-sort=\"name\">Student</th>");
    s.push_str("<th scope=\"col\" class=\"score\" data-sort=\"score\">Score</th>");
    for col in &gb.checks {
        let _ = write!(
            s,
            "<th scope=\"col\" class=\"check\" title=\"{title}\">{title}\
             <span class=\"sub\"><code>{id}</code> · {max}&nbsp;pt{plural}</span></th>",
            title = escape(&col.title),
            id = escape(&col.id),
            max = col.max_points,
            plural = if col.max_points == 1 { "" } else { "s" },
        );
    }
    s.push_str("</tr>\n</thead>\n<tbody>\n");
    for student in &gb.students {
        row(&mut s, gb, student);
    }
    s.push_str("</tbody>\n<tfoot>\n<tr><th scope=\"row\">Pass rate</th>");
    let _ = write!(
        s,
        "<td class=\"score\">{}</td>",
        gb.average_score()
            .map(|a| format!("avg {}", percent(a)))
            .unwrap_or_default()
    );
    for col in &gb.checks {
        rate(&mut s, col);
    }
    s.push_str("</tr>\n</tfoot>\n</table>\n</div>\n");
    s.push_str(
        "<p class=\"legend\"><span class=\"pass\">✓ pass</span> <span class=\"fail\">✗ fail</span> \
         <span class=\"error\">! error</span> <span class=\"skip\">– skipped</span> \
         <span class=\"absent\">· not checked</span> · open a failed cell for expected, found and \
         the hint · sort by clicking <em>Student</em> or <em>Score</em></p>\n</main>\n",
    );
    let _ = write!(s, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    s
}

fn summary(s: &mut String, gb: &Gradebook) {
    let graded = gb.graded().count();
    let passed = gb
        .graded()
        .filter(|st| st.report().is_some_and(|r| r.passed))
        .count();
    let _ = write!(
        s,
        "<p class=\"summary\"><strong>{}</strong> student{} · <strong>{graded}</strong> graded · \
         <strong>{passed}</strong> passed everything · average score <strong>{}</strong>",
        gb.students.len(),
        if gb.students.len() == 1 { "" } else { "s" },
        gb.average_score().map_or_else(|| "–".to_owned(), percent),
    );
    let missing: Vec<String> = gb.not_graded().map(|st| escape(&st.name)).collect();
    if missing.is_empty() {
        s.push_str("</p>\n");
    } else {
        let _ = write!(
            s,
            "</p>\n<p class=\"summary not-graded\">! Not graded ({}): {}</p>\n",
            missing.len(),
            missing.join(", ")
        );
    }
}

fn row(s: &mut String, gb: &Gradebook, student: &StudentRow) {
    let ratio = student.score_ratio();
    let class = match &student.outcome {
        StudentOutcome::Graded(r) if r.passed => "passed",
        StudentOutcome::Graded(_) => "failed",
        StudentOutcome::NotGraded { .. } => "not-graded",
    };
    let _ = write!(
        s,
        "<tr class=\"{class}\" data-name=\"{name}\" data-score=\"{score}\">\
         <th scope=\"row\" class=\"student\">{name}",
        name = escape(&student.name),
        // Not graded sorts below a score of 0.
        score = ratio.map_or_else(|| "-1".to_owned(), |r| format!("{r:.4}")),
    );
    let place: Vec<&str> = [&student.account, &student.region]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !place.is_empty() {
        let _ = write!(
            s,
            "<span class=\"sub\">{}</span>",
            escape(&place.join(" · "))
        );
    }
    s.push_str("</th>");
    match &student.outcome {
        StudentOutcome::NotGraded { error } => {
            let _ = write!(
                s,
                "<td class=\"score error\">not graded</td>\
                 <td class=\"error\" colspan=\"{}\"><span class=\"mark\">!</span> \
                 could not be graded: {}</td>",
                gb.checks.len().max(1),
                escape(error)
            );
        }
        StudentOutcome::Graded(r) => {
            let _ = write!(
                s,
                "<td class=\"score\"><strong>{}</strong>/{}<span class=\"sub\">{}</span></td>",
                r.score,
                r.max_score,
                ratio.map(percent).unwrap_or_default()
            );
            for col in &gb.checks {
                cell(s, student.check(&col.id));
            }
        }
    }
    s.push_str("</tr>\n");
}

fn cell(s: &mut String, check: Option<&CheckResult>) {
    let Some(c) = check else {
        s.push_str("<td class=\"absent\" title=\"not in this student's report\">·</td>");
        return;
    };
    let (class, mark, word) = match c.status {
        Status::Pass => ("pass", "✓", "pass"),
        Status::Fail => ("fail", "✗", "fail"),
        Status::Error => ("error", "!", "error"),
        Status::Skip => ("skip", "–", "skipped"),
    };
    let points = format!("{}/{}", c.points, c.max_points);
    match c.status {
        Status::Pass | Status::Skip => {
            let _ = write!(
                s,
                "<td class=\"{class}\" title=\"{word}: {msg}\"><span class=\"mark\">{mark}</span> \
                 {points}</td>",
                msg = escape(&c.message),
            );
        }
        Status::Fail | Status::Error => {
            let _ = write!(
                s,
                "<td class=\"{class}\"><details><summary><span class=\"mark\">{mark}</span> \
                 {points} <span class=\"word\">{word}</span></summary><dl>\
                 <dt>why</dt><dd>{}</dd>",
                escape(&c.message)
            );
            for (term, text) in [("expected", &c.expected), ("found", &c.found)] {
                if let Some(text) = text {
                    let _ = write!(s, "<dt>{term}</dt><dd>{}</dd>", escape(text));
                }
            }
            if !c.hint.is_empty() {
                let _ = write!(s, "<dt>hint</dt><dd>{}</dd>", escape(&c.hint));
            }
            s.push_str("</dl></details></td>");
        }
    }
}

fn rate(s: &mut String, col: &CheckColumn) {
    if col.graded == 0 {
        s.push_str("<td class=\"rate\" title=\"nobody was graded on this check\">–</td>");
        return;
    }
    let level = match col.pass_rate {
        r if r >= 0.8 => "high",
        r if r >= 0.5 => "mid",
        _ => "low",
    };
    let _ = write!(
        s,
        "<td class=\"rate {level}\" style=\"--rate:{rate:.3}\" title=\"{passed} of {graded} \
         graded students passed\"><strong>{}</strong><span class=\"sub\">{passed}/{graded}</span>\
         </td>",
        percent(col.pass_rate),
        rate = col.pass_rate,
        passed = col.passed,
        graded = col.graded,
    );
}

fn percent(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

#[cfg(test)]
mod tests {
    use super::{escape, html};
    use crate::gradebook::book::tests::class;
    use crate::gradebook::{Gradebook, StudentRow};
    use crate::lab::StageSel;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("\"&'"), "&quot;&amp;&#39;");
        assert_eq!(escape("plain ✓ text"), "plain ✓ text");
    }

    #[test]
    fn page_escapes_every_text_it_shows() {
        let mut gb = class();
        gb.students
            .push(StudentRow::not_graded("<script>alert(1)</script>", "\"&'"));
        gb.lab = "<img src=x onerror=alert(1)>".into();
        let page = html(&gb);
        assert!(!page.contains("<script>alert(1)"), "{page}");
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>"), "bob's name is text");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("could not be graded: &quot;&amp;&#39;"));
        // Only the page's own script.
        assert_eq!(page.matches("<script").count(), 1);
    }

    #[test]
    fn page_is_self_contained_and_complete() {
        let gb = class();
        let page = html(&gb);
        for outside in ["http://", "https://", "//fonts", "src=", "@import", "url("] {
            assert!(
                !page.contains(outside),
                "page refers outside itself: {outside}"
            );
        }
        assert!(page.contains("<meta charset=\"utf-8\">"));
        assert!(page.contains("<title>Gradebook: vpc-basic (full), 2026-11-23</title>"));
        assert!(page.contains("data-ready=\"false\""));
        assert!(page.contains("@media print"));
        assert_eq!(page.matches("<tr class=").count(), gb.students.len());
        // One footer cell per check, with the rate; `live` was graded for nobody.
        assert!(page.contains("<strong>33%</strong><span class=\"sub\">1/3</span>"));
        assert!(page.contains("title=\"nobody was graded on this check\""));
        assert!(page.contains("Not graded (1): dave"));
        assert!(page.contains("<dt>expected</dt><dd>10.0.0.0/16</dd>"));
        assert!(page.contains("<dt>hint</dt><dd>fix cidr</dd>"));
        let empty = Gradebook::new("lab".into(), StageSel::Full, String::new(), vec![]);
        assert!(html(&empty).contains("<strong>0</strong> students"));
    }
}
