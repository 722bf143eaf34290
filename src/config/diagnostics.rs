//! Config problems as the user reads them: `file:line: key.path: message`,
//! one per line, every problem in one run. Lines come from marked-yaml's spans;
//! paths use the same `a.b[2].c` syntax as `serde_path_to_error`.

use marked_yaml::Node;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
}

impl std::error::Error for ConfigErrors {}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match (e.line, e.path.is_empty()) {
                (Some(l), false) => write!(f, "{}:{l}: {}: {}", self.file, e.path, e.message)?,
                (Some(l), true) => write!(f, "{}:{l}: {}", self.file, e.message)?,
                (None, false) => write!(f, "{}: {}: {}", self.file, e.path, e.message)?,
                (None, true) => write!(f, "{}: {}", self.file, e.message)?,
            }
        }
        Ok(())
    }
}

/// Collects problems during loading; lines are filled in from the document.
#[derive(Debug, Default)]
pub struct Problems {
    pub errors: Vec<ConfigError>,
}

impl Problems {
    pub fn at(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.into(),
            line: None,
            message: message.into(),
        });
    }

    pub fn at_line(
        &mut self,
        path: impl Into<String>,
        line: Option<usize>,
        msg: impl Into<String>,
    ) {
        self.errors.push(ConfigError {
            path: path.into(),
            line,
            message: msg.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Fill in missing lines by looking each path up in `root`, then order by line.
    pub fn finish(mut self, file: &str, root: Option<&Node>) -> ConfigErrors {
        for e in &mut self.errors {
            if e.line.is_none() {
                e.line = root.and_then(|r| locate(r, &e.path));
            }
        }
        self.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        ConfigErrors {
            file: file.to_string(),
            errors: self.errors,
        }
    }
}

/// The line of the node at `path` (`a.b[2].c`): for a mapping key, the key's
/// own line; if the path goes deeper than the document, the deepest node found.
pub fn locate(root: &Node, path: &str) -> Option<usize> {
    let mut node = root;
    let mut line = None;
    for (depth, seg) in segments(path).enumerate() {
        if depth == 0 {
            line = None;
        }
        match (seg, node) {
            (Segment::Key(k), Node::Mapping(m)) => {
                match m.iter().find(|(key, _)| key.as_str() == k) {
                    Some((key, child)) => {
                        line = key
                            .span()
                            .start()
                            .map(|m| m.line())
                            .or_else(|| line_of(child));
                        node = child;
                    }
                    None => break,
                }
            }
            (Segment::Index(i), Node::Sequence(s)) => match s.get(i) {
                Some(child) => {
                    line = line_of(child).or(line);
                    node = child;
                }
                None => break,
            },
            _ => break,
        }
    }
    line.or_else(|| path.is_empty().then(|| line_of(root)).flatten())
}

fn line_of(node: &Node) -> Option<usize> {
    node.span().start().map(|m| m.line())
}

pub(super) enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

pub(super) fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.').filter(|s| !s.is_empty()).flat_map(|part| {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        let key = (!key.is_empty()).then_some(Segment::Key(key));
        let idx = rest
            .split('[')
            .filter_map(|r| r.trim_end_matches(']').parse().ok())
            .map(Segment::Index);
        key.into_iter().chain(idx)
    })
}

/// serde messages quote offending values (`invalid type: string "…"`); a
/// value may be an interpolated secret, so quoted text is never echoed.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "a: 1\nlist:\n  - x: 1\n    y: 2\n  - x: 3\nnested:\n  deep: true\n";

    #[test]
    fn locates_keys_and_elements() {
        let root = marked_yaml::parse_yaml(0, DOC).expect("valid");
        assert_eq!(locate(&root, "a"), Some(1));
        assert_eq!(locate(&root, "list[0].y"), Some(4));
        assert_eq!(locate(&root, "list[1].x"), Some(5));
        assert_eq!(locate(&root, "nested.deep"), Some(7));
        assert_eq!(
            locate(&root, "nested.missing"),
            Some(6),
            "deepest existing node"
        );
    }

    #[test]
    fn redacts_quoted_values() {
        assert_eq!(
            redact_quoted("invalid type: string \"sk-123\", expected a sequence"),
            "invalid type: string \"…\", expected a sequence"
        );
        assert_eq!(redact_quoted("unknown field `x`"), "unknown field `x`");
    }

    #[test]
    fn renders_one_line_per_problem() {
        let mut p = Problems::default();
        p.at_line("routing.cooldown", Some(7), "invalid duration");
        p.at_line("", Some(2), "top");
        let s = p.finish("gw.yaml", None).to_string();
        assert_eq!(
            s,
            "gw.yaml:2: top\ngw.yaml:7: routing.cooldown: invalid duration"
        );
    }
}
