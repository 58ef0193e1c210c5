//! `.dockerignore` patterns, applied the way Docker applies them (moby's patternmatcher): each
//! line trimmed, `#` lines and blank lines skipped, `!` an exception, the pattern cleaned like a
//! path with a leading `/` dropped; `*` and `?` stop at `/`, `**` crosses directories, `[...]`
//! is a class, `\` escapes. A pattern excludes a path when it matches the path or one of its
//! parent directories, and the last matching line decides.

use regex::Regex;

#[derive(Debug)]
struct Rule {
    exception: bool,
    regex: Regex,
}

/// The rules of one `.dockerignore` file.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

/// A line Docker would refuse too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct BadPattern {
    pub line: usize,
    pub why: String,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Result<DockerIgnore, BadPattern> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.starts_with('#') {
                continue;
            }
            let mut pattern = raw.trim();
            if pattern.is_empty() {
                continue;
            }
            let exception = pattern.starts_with('!');
            if exception {
                pattern = pattern[1..].trim();
                if pattern.is_empty() {
                    return Err(BadPattern {
                        line,
                        why: "`!` without a pattern".to_owned(),
                    });
                }
            }
            let cleaned = clean(pattern);
            let regex = Regex::new(&to_regex(&cleaned)).map_err(|e| BadPattern {
                line,
                why: format!("`{}` is not a valid pattern ({e})", raw.trim()),
            })?;
            rules.push(Rule { exception, regex });
        }
        Ok(DockerIgnore { rules })
    }

    /// Some line is an exception (`!`): an excluded directory may hold files to keep.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }

    /// Whether `rel` (relative to the folder, `/`-separated) is left out.
    pub fn excludes(&self, rel: &str) -> bool {
        let parents: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for rule in &self.rules {
            // An exception can only change an excluded path, an exclusion an included one.
            if rule.exception != excluded {
                continue;
            }
            let matched = rule.regex.is_match(rel)
                || (1..parents.len()).any(|n| rule.regex.is_match(&parents[..n].join("/")));
            if matched {
                excluded = !rule.exception;
            }
        }
        excluded
    }
}

/// Go's `filepath.Clean` of a `/`-separated pattern, then without a leading `/`.
fn clean(pattern: &str) -> String {
    let rooted = pattern.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// The regular expression of a cleaned pattern (moby's translation).
fn to_regex(pattern: &str) -> String {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    re.push(']');
                }
                '\\' if i < chars.len() => {
                    re.push_str(&regex::escape(&chars[i].to_string()));
                    i += 1;
                }
                // Characters the regex crate reads as nested classes or set operations.
                '[' | '&' | '~' | '\\' => {
                    re.push('\\');
                    re.push(c);
                }
                _ => re.push(c),
            }
            continue;
        }
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    re.push_str(".*");
                } else {
                    re.push_str("(.*/)?");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' if i < chars.len() => {
                re.push_str(&regex::escape(&chars[i].to_string()));
                i += 1;
            }
            '[' => {
                in_class = true;
                re.push('[');
                if chars.get(i) == Some(&'^') {
                    re.push('^');
                    i += 1;
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::DockerIgnore;

    fn rules(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).expect("patterns")
    }

    #[test]
    fn patterns_match_as_docker_matches_them() {
        let ig = rules(
            "# comment\n\n*.log\n/build\nnode_modules/\ndocs/**/*.md\n!docs/keep/README.md\n**/secret?.txt\ntmp/*\n",
        );
        for (path, excluded) in [
            ("app.log", true),
            ("sub/app.log", false), // `*` does not cross `/`
            ("build", true),
            ("build/out/bin", true), // a parent directory matches
            ("src/build", false),
            ("node_modules/x/index.js", true),
            ("docs/a.md", true),
            ("docs/x/y/a.md", true),
            ("docs/keep/README.md", false),
            ("docs/a.txt", false),
            ("secret1.txt", true),
            ("deep/down/secret2.txt", true),
            ("secret12.txt", false),
            ("tmp/a", true),
            ("tmp", false),
            ("index.html", false),
        ] {
            assert_eq!(ig.excludes(path), excluded, "{path}");
        }
        assert!(ig.has_exceptions());
    }

    #[test]
    fn the_last_matching_line_decides_and_classes_work() {
        let ig = rules("*\n!index.html\n!css\ncss/*.map\n[a-c]?.bin\n");
        assert!(!ig.excludes("index.html"));
        assert!(ig.excludes("main.js"));
        assert!(!ig.excludes("css/site.css"));
        assert!(ig.excludes("css/site.css.map"));
        assert!(ig.excludes("b1.bin"));
        assert!(!rules("[a-c]?.bin").excludes("d1.bin"));
        assert!(rules("[^a]*.txt").excludes("b.txt"));
        assert!(!rules("[^a]*.txt").excludes("a.txt"));
        assert!(rules("a\\*b").excludes("a*b"));
        assert!(!rules("a\\*b").excludes("axb"));
        assert!(rules("./x/../y").excludes("y/z"));
    }

    #[test]
    fn a_line_docker_refuses_is_an_error_with_its_number() {
        let err = DockerIgnore::parse("ok\n!\n").expect_err("bare !");
        assert_eq!(err.line, 2);
        let err = DockerIgnore::parse("a\nb\n[abc\n").expect_err("open class");
        assert_eq!(err.line, 3);
        assert!(err.why.contains("`[abc` is not a valid pattern"), "{err}");
    }
}
