//! Request bodies sent compressed (`Content-Encoding: gzip` or `zstd`; the
//! Codex CLI can send zstd), decoded before anything reads them, on every
//! route. The limit applies to the decoded size: the decoder stops one byte
//! past `max_body`, so a small body that inflates to gigabytes (a zip bomb)
//! is a 413 having cost at most `max_body` of memory, never more.

use super::GatewayError;
use bytes::Bytes;
use http::HeaderMap;
use std::io::Read;

/// The body as the client meant it: decoded if it was sent compressed.
pub fn decode(headers: &HeaderMap, body: Bytes, limit: u64) -> Result<Bytes, GatewayError> {
    let Some(encoding) = headers.get(http::header::CONTENT_ENCODING) else {
        return Ok(body);
    };
    let encoding = encoding.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => Ok(body),
        "gzip" | "x-gzip" => read_bounded(flate2::read::GzDecoder::new(&body[..]), "gzip", limit),
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(&body[..])
                .map_err(|e| GatewayError::Undecodable(format!("zstd: {e}")))?;
            read_bounded(decoder, "zstd", limit)
        }
        other => Err(GatewayError::UnsupportedEncoding(super::truncate(
            other, 40,
        ))),
    }
}

/// Everything `reader` yields, up to `limit` bytes (413 past it).
fn read_bounded(reader: impl Read, name: &str, limit: u64) -> Result<Bytes, GatewayError> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| GatewayError::Undecodable(format!("{name}: {e}")))?;
    if out.len() as u64 > limit {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn headers(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_ENCODING,
            encoding.parse().expect("value"),
        );
        h
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("write");
        Bytes::from(e.finish().expect("finish"))
    }

    #[test]
    fn gzip_and_zstd_bodies_are_decoded() {
        let body = br#"{"model":"m","input":"hi"}"#;
        let out = decode(&headers("gzip"), gzip(body), 1000).expect("gzip");
        assert_eq!(&out[..], body);
        let z = Bytes::from(zstd::encode_all(&body[..], 3).expect("zstd"));
        let out = decode(&headers("zstd"), z, 1000).expect("zstd");
        assert_eq!(&out[..], body);
        let plain = Bytes::from_static(body);
        assert_eq!(
            decode(&HeaderMap::new(), plain.clone(), 10).expect("as is"),
            plain
        );
    }

    #[test]
    fn a_body_that_inflates_past_the_limit_is_413_not_memory() {
        let bomb = vec![b' '; 50 * 1024 * 1024];
        let z = Bytes::from(zstd::encode_all(&bomb[..], 19).expect("zstd"));
        assert!(z.len() < 64 * 1024, "a small body: {}", z.len());
        let err = decode(&headers("zstd"), z, 1024 * 1024).expect_err("too large");
        assert_eq!(err.status(), 413);
        let err = decode(&headers("gzip"), gzip(&bomb), 1024 * 1024).expect_err("too large");
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn garbage_and_unknown_encodings_are_client_errors() {
        let err = decode(&headers("zstd"), Bytes::from_static(b"not zstd"), 100).expect_err("bad");
        assert_eq!(err.status(), 400);
        let err = decode(&headers("gzip"), Bytes::from_static(b"not gzip"), 100).expect_err("bad");
        assert_eq!(err.status(), 400);
        let err = decode(&headers("br"), Bytes::from_static(b"x"), 100).expect_err("unknown");
        assert_eq!(err.status(), 415);
    }
}
