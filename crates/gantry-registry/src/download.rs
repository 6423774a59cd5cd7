//! Answering a `.crate` download from the blob store, streamed: the file is never held whole in
//! memory, whatever its size (hosted and mirrored downloads alike).

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;

use crate::blob::{BlobReader, CRATE_CACHE_CONTROL, CRATE_CONTENT_TYPE};

/// The 200 answer streaming `reader`; a read error midway ends the connection (the client sees a
/// short body and cargo retries).
pub fn crate_response(reader: BlobReader) -> Response {
    let size = reader.size;
    let mut resp = Response::new(Body::from_stream(reader.stream));
    set_headers(&mut resp, size);
    resp
}

/// The 200 answer for bytes already in memory (a file the mirror just fetched and verified).
pub fn crate_bytes_response(bytes: Bytes) -> Response {
    let size = bytes.len() as u64;
    let mut resp = Response::new(Body::from(bytes));
    set_headers(&mut resp, size);
    resp
}

fn set_headers(resp: &mut Response, size: u64) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CRATE_CONTENT_TYPE),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CRATE_CACHE_CONTROL),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
}
