//! Outbound HTTP: a small client over `wasi:http`, with a body you read chunk by
//! chunk as it arrives and a server-sent-events parser for streaming APIs.
//!
//! The host sends a request only to origins granted to the plugin (`http` in its
//! config section) and may add headers the plugin never sees (an API key from the
//! host's `[secrets]`). A refused request fails with [`Error::Denied`]; the host
//! never follows redirects, so a 3xx arrives here as it is.
//!
//! ```no_run
//! use dingtalk_bot_sdk::http::Request;
//!
//! # fn main() -> Result<(), dingtalk_bot_sdk::Error> {
//! let answer = Request::post("https://api.example.com/v1/things")
//!     .json(&serde_json::json!({"name": "x"}))?
//!     .send()?;
//! if answer.status() == 200 {
//!     let body: serde_json::Value = answer.json()?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Streaming (an OpenAI-compatible chat completion, say): each event as it arrives.
//!
//! ```no_run
//! use dingtalk_bot_sdk::http::Request;
//!
//! # fn main() -> Result<(), dingtalk_bot_sdk::Error> {
//! let answer = Request::post("https://api.example.com/v1/chat/completions")
//!     .json(&serde_json::json!({"stream": true}))?
//!     .send()?;
//! for event in answer.events() {
//!     let event = event?;
//!     if event.data == "[DONE]" {
//!         break;
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::{InputStream, StreamError};

use crate::Error;
pub use crate::sse::{Event, SseParser};

/// Bytes read from the body per read at most.
const READ_SIZE: u64 = 64 << 10;

/// One outgoing request, built up and then [`sent`](Request::send).
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    connect_timeout: Option<Duration>,
    first_byte_timeout: Option<Duration>,
}

impl Request {
    /// A request with any method.
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            connect_timeout: None,
            first_byte_timeout: None,
        }
    }

    /// A GET request.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        self
    }

    /// The headers set so far: all this plugin can know of its request (headers the
    /// host injects are added after it left the plugin).
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Set a JSON body and its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Wait at most this long to connect (the host's limit still applies).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Wait at most this long for the response head, and between body chunks (the
    /// host's limit still applies).
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = Some(timeout);
        self
    }

    /// Send it and wait for the response head; the body is read from the answer.
    pub fn send(self) -> Result<Response, Error> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let fields = Fields::new();
        for (name, value) in &self.headers {
            fields
                .append(name, value)
                .map_err(|e| Error::InvalidArgument(format!("header {name:?}: {e:?}")))?;
        }
        let request = OutgoingRequest::new(fields);
        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        let invalid =
            |what: &str| Error::InvalidArgument(format!("invalid {what} in {:?}", self.url));
        request
            .set_method(&method)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("host"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| invalid("path"))?;
        let options = RequestOptions::new();
        let nanos = |d: Duration| d.as_nanos().min(u64::MAX as u128) as u64;
        if let Some(t) = self.connect_timeout {
            let _ = options.set_connect_timeout(Some(nanos(t)));
        }
        if let Some(t) = self.first_byte_timeout {
            let _ = options.set_first_byte_timeout(Some(nanos(t)));
            let _ = options.set_between_bytes_timeout(Some(nanos(t)));
        }
        let body = request.body().map_err(|()| invalid("body"))?;
        let pending = outgoing_handler::handle(request, Some(options)).map_err(to_error)?;
        {
            let out = body.write().map_err(|()| invalid("body"))?;
            for chunk in self.body.chunks(4096) {
                out.blocking_write_and_flush(chunk)
                    .map_err(|e| Error::Network(format!("sending the body failed: {e:?}")))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(to_error)?;
        let response = loop {
            match pending.get() {
                Some(Ok(result)) => break result.map_err(to_error)?,
                Some(Err(())) => return Err(Error::Network("the response was taken twice".into())),
                None => pending.subscribe().block(),
            }
        };
        Response::new(response)
    }
}

/// (scheme, authority, path and query) of an absolute URL.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let bad = || Error::InvalidArgument(format!("{url:?} is not an absolute http(s) URL"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(bad()),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err(bad());
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

/// The guest's view of a `wasi:http` error code.
fn to_error(code: ErrorCode) -> Error {
    match code {
        ErrorCode::HttpRequestDenied => {
            Error::Denied("the request's origin is not granted to this plugin".into())
        }
        ErrorCode::DestinationIpProhibited => Error::Denied(
            "the host resolves only to internal addresses, which the grant does not name".into(),
        ),
        ErrorCode::ConnectionLimitReached => {
            Error::Denied("this frame has sent as many requests as the host allows".into())
        }
        ErrorCode::HttpResponseBodySize(limit) => Error::InvalidArgument(format!(
            "the responses exceed the frame's byte limit{}",
            limit.map(|l| format!(" of {l}")).unwrap_or_default()
        )),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => Error::Timeout(format!("{code:?}")),
        other => Error::Network(format!("{other:?}")),
    }
}

/// A response: status and headers now, the body as it arrives.
#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Body,
}

impl Response {
    fn new(response: IncomingResponse) -> Result<Self, Error> {
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response
            .consume()
            .map_err(|()| Error::Network("the response body was taken twice".into()))?;
        let stream = incoming
            .stream()
            .map_err(|()| Error::Network("the response body was taken twice".into()))?;
        Ok(Self {
            status,
            headers,
            body: Body {
                stream: Some(stream),
                incoming: Some(incoming),
                _response: response,
            },
        })
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (any case), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Every header.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body, read chunk by chunk.
    pub fn body(&mut self) -> &mut Body {
        &mut self.body
    }

    /// The whole body.
    pub fn bytes(mut self) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        while let Some(chunk) = self.body.chunk()? {
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }

    /// The whole body as text (invalid UTF-8 replaced).
    pub fn text(self) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(&self.bytes()?).into_owned())
    }

    /// The whole body as JSON.
    pub fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        Ok(serde_json::from_slice(&self.bytes()?)?)
    }

    /// The body, to read on one's own terms (see [`Body::read_within`]).
    pub fn into_body(self) -> Body {
        self.body
    }

    /// The body as server-sent events, each as soon as its blank line arrives.
    pub fn events(self) -> Events {
        Events {
            body: self.body,
            parser: SseParser::default(),
            ready: VecDeque::new(),
            ended: false,
        }
    }
}

/// A response body being read.
#[derive(Debug)]
pub struct Body {
    // Children before parents: wasi:http traps if a resource is dropped before its
    // children.
    stream: Option<InputStream>,
    incoming: Option<IncomingBody>,
    _response: IncomingResponse,
}

impl Body {
    /// The next chunk as soon as the host has one; `None` at the end.
    pub fn chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        match stream.blocking_read(READ_SIZE) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(StreamError::Closed) => {
                self.stream = None;
                if let Some(incoming) = self.incoming.take() {
                    let _trailers = IncomingBody::finish(incoming);
                }
                Ok(None)
            }
            Err(StreamError::LastOperationFailed(e)) => {
                self.stream = None;
                let detail = wasip2::http::types::http_error_code(&e)
                    .map_or_else(|| e.to_debug_string(), |c| format!("{c:?}"));
                Err(match wasip2::http::types::http_error_code(&e) {
                    Some(code) => to_error(code),
                    None => Error::Network(format!("reading the body failed: {detail}")),
                })
            }
        }
    }
}

/// What [`Body::read_within`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Bytes that arrived.
    Data(Vec<u8>),
    /// The body ended.
    End,
    /// Nothing arrived in time.
    Idle,
}

impl Body {
    /// The next chunk if one arrives within `wait`, so a caller can do something
    /// else on time (e.g. show what it has) while a slow server thinks.
    pub fn read_within(&mut self, wait: std::time::Duration) -> Result<Read, Error> {
        let Some(stream) = &self.stream else {
            return Ok(Read::End);
        };
        let ready = {
            let readable = stream.subscribe();
            let nanos = wait.as_nanos().min(u64::MAX as u128) as u64;
            let timer = wasip2::clocks::monotonic_clock::subscribe_duration(nanos);
            wasip2::io::poll::poll(&[&readable, &timer]).contains(&0)
        };
        if !ready {
            return Ok(Read::Idle);
        }
        Ok(match self.chunk()? {
            Some(bytes) => Read::Data(bytes),
            None => Read::End,
        })
    }
}

/// The events of a server-sent-events body.
#[derive(Debug)]
pub struct Events {
    body: Body,
    parser: SseParser,
    ready: VecDeque<Event>,
    ended: bool,
}

impl Iterator for Events {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            if self.ended {
                return None;
            }
            match self.body.chunk() {
                Ok(Some(bytes)) => self.ready.extend(self.parser.feed(&bytes)),
                Ok(None) => {
                    self.ended = true;
                    self.ready.extend(self.parser.finish());
                }
                Err(e) => {
                    self.ended = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let (s, a, p) = split_url("https://api.x.com/v1/chat?q=1").unwrap();
        assert!(matches!(s, Scheme::Https));
        assert_eq!((a, p), ("api.x.com", "/v1/chat?q=1"));
        assert_eq!(split_url("http://127.0.0.1:9").unwrap().2, "/");
        assert!(split_url("ftp://x").is_err());
        assert!(split_url("/relative").is_err());
    }
}
