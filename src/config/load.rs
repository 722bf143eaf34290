//! Reading the file: YAML with spans (marked-yaml), `${VAR}` interpolation of
//! every scalar, then each top-level section and each list element
//! deserialized on its own, so that one bad provider does not hide the
//! problems of the next.

use super::diagnostics::{redact_quoted, segments, ConfigErrors, Problems, Segment};
use super::interpolate::interpolate;
use super::raw::{Sections, Unset, TOP_LEVEL_KEYS};
use super::validate::validate;
use super::Loaded;
use marked_yaml::loader::{parse_yaml_with_options, LoaderOptions};
use marked_yaml::types::MarkedScalarNode;
use marked_yaml::{LoadError, Node};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Load and validate `path`, reading `${VAR}`s from the process environment.
/// A relative `store:` path is taken from the file's directory.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load(
            &file,
            &text,
            &|k| std::env::var(k).ok(),
            Some(&config_dir(path)),
        ),
        Err(e) => {
            let mut p = Problems::default();
            p.at("", format!("cannot read the file: {e}"));
            Err(p.finish(&file, None))
        }
    }
}

/// Load and validate config text; `file` only labels the messages. There is
/// no file, so a relative `store:` path stays relative (to the working
/// directory).
pub fn load_str(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigErrors> {
    load(file, text, env, None)
}

/// The directory of the config file, made absolute now: a daemon changes its
/// working directory to `/` after loading, and the store must stay beside
/// the file.
fn config_dir(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn load(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    dir: Option<&Path>,
) -> Result<Loaded, ConfigErrors> {
    let mut problems = Problems::default();
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .toplevel_mapping();
    let (protected, tokens) = protect_variables(text);
    let mut root = match parse_yaml_with_options(0, protected.as_str(), options) {
        Ok(root) => root,
        Err(e) => {
            let (line, message) = describe_load_error(&e);
            problems.at_line("", line, message);
            return Err(problems.finish(file, None));
        }
    };
    let mut unset = Vec::new();
    let vars = Vars {
        env,
        tokens: &tokens,
    };
    interpolate_tree(&mut root, "", &vars, &mut problems, &mut unset);
    let sections = read_sections(&root, &mut problems);
    let loaded = validate(sections, &unset, dir, &mut problems);
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(problems.finish(file, Some(&root)))
    }
}

fn describe_load_error(e: &LoadError) -> (Option<usize>, String) {
    match e {
        LoadError::TopLevelMustBeMapping(m) => (
            Some(m.line()),
            "the file must be a mapping (listen:, providers:, ...)".into(),
        ),
        LoadError::TopLevelMustBeSequence(m) => (Some(m.line()), "unexpected top level".into()),
        LoadError::UnexpectedAnchor(m) => (Some(m.line()), "YAML anchors are not supported".into()),
        LoadError::MappingKeyMustBeScalar(m) => (Some(m.line()), "keys must be plain names".into()),
        LoadError::UnexpectedTag(m) => (Some(m.line()), "YAML tags are not supported".into()),
        LoadError::ScanError(m, e) => (Some(m.line()), format!("YAML syntax error: {}", e.info())),
        LoadError::DuplicateKey(d) => (
            d.key.span().start().map(|m| m.line()),
            format!("duplicate key `{}`", d.key.as_str()),
        ),
    }
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Placeholder delimiters: private-use characters, printable for YAML and
/// never special, so `[${A}, ${B}]` stays a valid flow sequence.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Replace each `${...}` / `$${` token by a placeholder on the same line.
/// `{` and `}` are flow indicators in YAML: unprotected, the documented
/// `api_keys: [${K1}, ${K2}]` would not parse.
fn protect_variables(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        let token_len = if after.starts_with("$${") {
            Some(3)
        } else if after.starts_with("${") {
            after
                .find(['}', '\n'])
                .filter(|&end| after.as_bytes()[end] == b'}')
                .map(|end| end + 1)
        } else {
            None
        };
        match token_len {
            Some(len) => {
                out.push(OPEN);
                out.push_str(&tokens.len().to_string());
                out.push(CLOSE);
                tokens.push(after[..len].to_string());
                rest = &after[len..];
            }
            None => {
                out.push('$');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    (out, tokens)
}

/// Put the original `${...}` tokens back into a scalar's text.
fn restore_variables(s: &str, tokens: &[String]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else { break };
        if let Some(t) = after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| tokens.get(i))
        {
            out.push_str(t);
        }
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

struct Vars<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    tokens: &'a [String],
}

/// Interpolate every scalar in place, keeping its span.
fn interpolate_tree(
    node: &mut Node,
    path: &str,
    vars: &Vars<'_>,
    problems: &mut Problems,
    unset: &mut Vec<Unset>,
) {
    let env = vars.env;
    match node {
        Node::Scalar(s) if s.as_str().contains(OPEN) || s.as_str().contains('$') => {
            match interpolate(&restore_variables(s.as_str(), vars.tokens), env) {
                Ok(done) => {
                    unset.extend(done.unset.into_iter().map(|var| Unset {
                        path: path.into(),
                        var,
                    }));
                    let coerce = s.may_coerce();
                    let mut fresh = MarkedScalarNode::new(*s.span(), done.value);
                    fresh.set_coerce(coerce);
                    *s = fresh;
                }
                Err(e) => problems.at(path, e.to_string()),
            }
        }
        Node::Scalar(_) => {}
        Node::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                interpolate_tree(v, &child_path(path, k.as_str()), vars, problems, unset);
            }
        }
        Node::Sequence(seq) => {
            for (i, v) in seq.iter_mut().enumerate() {
                interpolate_tree(v, &format!("{path}[{i}]"), vars, problems, unset);
            }
        }
    }
}

fn is_null(node: &Node) -> bool {
    node.as_scalar()
        .is_some_and(|s| matches!(s.as_str(), "" | "~" | "null"))
}

fn read_sections(root: &Node, problems: &mut Problems) -> Sections {
    let mut out = Sections::default();
    let Some(map) = root.as_mapping() else {
        return out;
    };
    for (key, value) in map.iter() {
        let k = key.as_str();
        if is_null(value) && k != "providers" {
            continue;
        }
        match k {
            "listen" => out.listen = de(value, k, problems),
            "admin_listen" => out.admin_listen = de(value, k, problems),
            "access_log" => out.access_log = de(value, k, problems),
            "cors" => out.cors = de(value, k, problems).unwrap_or_default(),
            "connections" => out.connections = de(value, k, problems).unwrap_or_default(),
            "auth" => out.auth = de(value, k, problems),
            "store" => out.store = de(value, k, problems),
            "routing" => out.routing = de(value, k, problems).unwrap_or_default(),
            "providers" => out.providers = Some(de_list(value, k, problems)),
            "models" => out.models = de_list(value, k, problems),
            other => problems.at(
                other,
                format!(
                    "unknown key `{other}` (expected one of: {})",
                    TOP_LEVEL_KEYS.join(", ")
                ),
            ),
        }
    }
    out
}

fn de_list<T: DeserializeOwned>(
    node: &Node,
    path: &str,
    problems: &mut Problems,
) -> Vec<Option<T>> {
    match node.as_sequence() {
        Some(seq) => seq
            .iter()
            .enumerate()
            .map(|(i, el)| de(el, &format!("{path}[{i}]"), problems))
            .collect(),
        None => {
            problems.at(path, "must be a list");
            Vec::new()
        }
    }
}

/// Deserialize one subtree, reporting each failure with its full key path.
/// serde stops at the first error, so the offending key is removed and the
/// rest read again: every bad key of a section is reported in one run.
fn de<T: DeserializeOwned>(node: &Node, path: &str, problems: &mut Problems) -> Option<T> {
    let mut node = node.clone();
    let mut removed: Vec<String> = Vec::new();
    loop {
        let e = match marked_yaml::from_node::<T>(&node) {
            Ok(v) => return removed.is_empty().then_some(v),
            Err(e) => e,
        };
        let inner = e.path().filter(|p| *p != ".").unwrap_or("").to_string();
        let mut full = join(path, &inner);
        // The offending key, by its path inside `node` (for an unknown key,
        // the key itself rather than the mapping that holds it).
        let mut offending = inner.clone();
        let message = match &*e {
            marked_yaml::Error::NotBoolean(_) => "expected true or false".to_string(),
            marked_yaml::Error::IntegerParseFailure(..) => "expected a whole number".into(),
            marked_yaml::Error::FloatParseFailure(..) => "expected a number".into(),
            marked_yaml::Error::UnknownFieldError(field, expected, _) => {
                if !full.ends_with(field.as_str()) {
                    full = child_path(&full, field);
                }
                if !offending.ends_with(field.as_str()) {
                    offending = child_path(&offending, field);
                }
                format!(
                    "unknown key `{field}` (expected one of: {})",
                    expected.join(", ")
                )
            }
            marked_yaml::Error::Other(msg, _) => {
                if removed.iter().any(|k| msg.contains(&format!("`{k}`"))) {
                    // "missing field" for a key removed above: already reported.
                    return None;
                }
                redact_quoted(msg)
            }
        };
        problems.at_line(full, e.start_mark().map(|m| m.line()), message);
        match remove_at(&mut node, &offending) {
            Some(key) => removed.push(key),
            None => return None,
        }
    }
}

/// Remove the deepest mapping key that `path` (`keys[0].rate_limit.rpm`)
/// names, so that the next try reports the next problem, even deep inside
/// a list element. The removed key's name, or `None` if nothing was found.
fn remove_at(node: &mut Node, path: &str) -> Option<String> {
    let segs: Vec<Segment<'_>> = segments(path).collect();
    let last = segs.iter().rposition(|s| matches!(s, Segment::Key(_)))?;
    let mut at = node;
    for seg in &segs[..last] {
        at = match (seg, at) {
            (Segment::Key(k), Node::Mapping(m)) => m.get_mut(*k)?,
            (Segment::Index(i), Node::Sequence(s)) => s.get_mut(*i)?,
            _ => return None,
        };
    }
    let Segment::Key(key) = segs[last] else {
        return None;
    };
    let map = at.as_mapping_mut()?;
    map.remove(key).map(|_| key.to_string())
}

fn join(path: &str, inner: &str) -> String {
    match (path.is_empty(), inner.is_empty()) {
        (_, true) => path.to_string(),
        (true, false) => inner.to_string(),
        (false, false) if inner.starts_with('[') => format!("{path}{inner}"),
        (false, false) => format!("{path}.{inner}"),
    }
}
