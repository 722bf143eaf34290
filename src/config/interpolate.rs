//! `${VAR}` / `${VAR:-default}` interpolation, as a pure function over one
//! string (the loader applies it to every scalar of the parsed YAML, so a value
//! can never change the document's structure). `$${` writes a literal `${`.
//! Shell semantics for `:-`: the default applies when the variable is unset
//! *or* empty.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    #[error("unterminated `${{` (expected `}}`)")]
    Unterminated,
    #[error("`${{{0}}}` is not a valid variable name")]
    BadName(String),
}

/// The interpolated text, and the variables that were unset with no default
/// (each replaced by the empty string; the caller decides if that is an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    pub value: String,
    pub unset: Vec<String>,
}

pub fn interpolate(
    input: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Interpolated, InterpolateError> {
    let mut value = String::with_capacity(input.len());
    let mut unset = Vec::new();
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        value.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(escaped) = after.strip_prefix("$${") {
            value.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body.find('}').ok_or(InterpolateError::Unterminated)?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            if !is_var_name(name) {
                return Err(InterpolateError::BadName(expr.to_string()));
            }
            match (
                env(name).filter(|v| !v.is_empty() || default.is_none()),
                default,
            ) {
                (Some(v), _) => value.push_str(&v),
                (None, Some(d)) => value.push_str(d),
                (None, None) => unset.push(name.to_string()),
            }
            rest = &body[end + 1..];
        } else {
            value.push('$');
            rest = &after[1..];
        }
    }
    value.push_str(rest);
    Ok(Interpolated { value, unset })
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn ok(s: &str) -> Interpolated {
        interpolate(s, env).expect("valid")
    }

    #[test]
    fn replaces_set_variables_anywhere_in_the_string() {
        assert_eq!(ok("Bearer ${KEY}!").value, "Bearer sk-1!");
        assert_eq!(ok("${KEY}${KEY}").value, "sk-1sk-1");
        assert_eq!(
            ok("no vars, $5 and $ alone").value,
            "no vars, $5 and $ alone"
        );
    }

    #[test]
    fn defaults_apply_to_unset_and_empty() {
        assert_eq!(ok("${NOPE:-8080}").value, "8080");
        assert_eq!(ok("${EMPTY:-x}").value, "x");
        assert_eq!(ok("${KEY:-x}").value, "sk-1");
        assert_eq!(ok("${NOPE:-}").value, "");
    }

    #[test]
    fn reports_unset_variables_without_default() {
        let i = ok("a${NOPE}b${ALSO_NOPE}");
        assert_eq!(i.value, "ab");
        assert_eq!(i.unset, vec!["NOPE".to_string(), "ALSO_NOPE".to_string()]);
        assert!(
            ok("${EMPTY}").unset.is_empty(),
            "set-but-empty is not unset"
        );
    }

    #[test]
    fn escapes_and_errors() {
        assert_eq!(ok("$${KEY}").value, "${KEY}");
        assert_eq!(
            interpolate("${KEY", env),
            Err(InterpolateError::Unterminated)
        );
        assert_eq!(
            interpolate("${1BAD}", env),
            Err(InterpolateError::BadName("1BAD".into()))
        );
        assert_eq!(
            interpolate("${}", env),
            Err(InterpolateError::BadName(String::new()))
        );
    }
}
