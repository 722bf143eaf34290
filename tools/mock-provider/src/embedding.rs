//! The embeddings response: the list object, one deterministic unit vector
//! per input item (the same text always gets the same vector), as floats or
//! as base64 little-endian f32s (the official SDKs ask for base64 by default).

use bytes::Bytes;
use serde::Serialize;

use crate::error::ApiError;
use crate::request::EmbedRequest;
use crate::response::to_json;

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<Embedding>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Float(Vec<f32>),
    /// Little-endian f32s, base64: what the official SDKs ask for by default.
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

pub fn embeddings(req: &EmbedRequest) -> Result<Bytes, ApiError> {
    let data = req
        .seeds
        .iter()
        .enumerate()
        .map(|(index, seed)| {
            let vector = unit_vector(*seed, req.dimensions);
            let embedding = if req.base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                Vector::Base64(base64(&bytes))
            } else {
                Vector::Float(vector)
            };
            Embedding {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    to_json(&EmbeddingList {
        object: "list",
        data,
        model: &req.model,
        usage: EmbeddingUsage {
            prompt_tokens: req.prompt_tokens,
            total_tokens: req.prompt_tokens,
        },
    })
}

/// A deterministic vector of length one derived from `seed` (splitmix64).
pub fn unit_vector(seed: u64, dimensions: usize) -> Vec<f32> {
    let mut state = seed;
    let mut vector: Vec<f32> = (0..dimensions)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // Top 24 bits to [-1, 1).
            ((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect();
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn embeddings_are_unit_vectors_in_either_encoding() {
        let mut req = EmbedRequest {
            model: "mock-embed".into(),
            seeds: vec![1, 2],
            prompt_tokens: 2,
            base64: false,
            dimensions: 8,
        };
        let v: Value = serde_json::from_slice(&embeddings(&req).expect("json")).expect("json");
        assert_eq!(v["object"], "list");
        assert_eq!(v["data"][1]["index"], 1);
        let floats = v["data"][0]["embedding"].as_array().expect("array");
        assert_eq!(floats.len(), 8);
        let norm: f64 = floats.iter().map(|x| x.as_f64().expect("f").powi(2)).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        req.base64 = true;
        let v: Value = serde_json::from_slice(&embeddings(&req).expect("json")).expect("json");
        assert_eq!(v["data"][0]["embedding"].as_str().expect("b64").len(), 44);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
