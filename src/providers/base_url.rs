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
    }
}
