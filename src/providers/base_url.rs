//! A provider's base URL, split once at load time into what the connector
//! needs: TLS or not, host (for DNS, SNI and `Host`), port, and path prefix.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Without a trailing slash; empty for a bare origin.
    pub path_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("is not a URL ({0})")]
    Invalid(String),
    #[error("must start with http:// or https://")]
    Scheme,
    #[error("has no host")]
    NoHost,
    #[error("must not carry a query or fragment")]
    Query,
    #[error("must not carry credentials (`user:password@`); put the key in `api_key`")]
    Userinfo,
}

impl BaseUrl {
    pub fn parse(s: &str) -> Result<Self, BaseUrlError> {
        if !(s.starts_with("http://") || s.starts_with("https://")) {
            return Err(BaseUrlError::Scheme);
        }
        let uri: http::Uri = s
            .parse()
            .map_err(|e: http::uri::InvalidUri| BaseUrlError::Invalid(e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(BaseUrlError::Scheme),
        };
        let host = uri.host().ok_or(BaseUrlError::NoHost)?;
        if host.is_empty() {
            return Err(BaseUrlError::NoHost);
        }
        if uri.query().is_some() || s.contains('#') {
            return Err(BaseUrlError::Query);
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(BaseUrlError::Userinfo);
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path_prefix = uri.path().trim_end_matches('/').to_string();
        Ok(Self {
            tls,
            host,
            port,
            path_prefix,
        })
    }

    /// The `Host` header value: the port only when it is not the default.
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// `url` as it may be printed: credentials (`user:password@`) and query
/// values replaced by `***`, since either may hold a key.
pub fn redacted(url: &str) -> String {
    let (url, fragment) = match url.split_once('#') {
        Some((u, _)) => (u, "#***"),
        None => (url, ""),
    };
    let (url, query) = match url.split_once('?') {
        Some((u, q)) => (u, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    let mut out = if scheme.is_empty() {
        format!("{authority}{path}")
    } else {
        format!("{scheme}://{authority}{path}")
    };
    if let Some(q) = query {
        let pairs: Vec<String> = (q.split('&'))
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=***"),
                None => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out.push_str(fragment);
    out
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.path_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scheme_host_port_and_prefix() {
        let b = BaseUrl::parse("http://127.0.0.1:11434/v1/").expect("valid");
        assert_eq!(
            b,
            BaseUrl {
                tls: false,
                host: "127.0.0.1".into(),
                port: 11434,
                path_prefix: "/v1".into()
            }
        );
        assert_eq!(b.host_header(), "127.0.0.1:11434");
        let b = BaseUrl::parse("https://api.openai.com/v1").expect("valid");
        assert_eq!((b.port, b.host_header().as_str()), (443, "api.openai.com"));
        assert_eq!(b.to_string(), "https://api.openai.com/v1");
    }

    #[test]
    fn rejects_what_cannot_be_an_upstream() {
        assert_eq!(BaseUrl::parse("ftp://x/v1"), Err(BaseUrlError::Scheme));
        assert_eq!(
            BaseUrl::parse("api.openai.com/v1"),
            Err(BaseUrlError::Scheme)
        );
        assert_eq!(BaseUrl::parse("https://x/v1?a=b"), Err(BaseUrlError::Query));
        assert!(matches!(
            BaseUrl::parse("https://"),
            Err(BaseUrlError::Invalid(_))
        ));
        assert_eq!(
            BaseUrl::parse("https://user:sk-1@x/v1"),
            Err(BaseUrlError::Userinfo)
        );
    }

    #[test]
    fn redaction_hides_credentials_and_query_values() {
        assert_eq!(
            redacted("https://user:sk-secret@host:8443/v1?api_key=sk-2&x&y=3#frag"),
            "https://***@host:8443/v1?api_key=***&x&y=***#***"
        );
        assert_eq!(
            redacted("https://api.groq.com/openai/v1"),
            "https://api.groq.com/openai/v1"
        );
        assert_eq!(redacted("host/v1?k=v"), "host/v1?k=***");
        assert_eq!(redacted("a@b"), "***@b");
    }
}
