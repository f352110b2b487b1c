//! Request ids and trace ids as API Gateway writes them.

use base64::Engine;
use rand::RngCore;

/// A fresh `apigw-requestid` / `extendedRequestId`: 11 random bytes in base64
/// (`Mc7UVioPPHcEKPA=`).
pub fn short_request_id() -> String {
    let mut b = [0u8; 11];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A fresh REST `x-amzn-RequestId` / `requestContext.requestId`: a UUID.
pub fn uuid_request_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// An X-Ray trace header for a request that arrived without one.
pub fn trace_id(epoch_secs: u64) -> String {
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("Root=1-{epoch_secs:08x}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_aws() {
        let id = short_request_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        let u = uuid_request_id();
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert!(trace_id(0x5e60_0000).starts_with("Root=1-5e600000-"));
    }
}
