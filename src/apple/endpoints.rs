//! Apple's endpoints of the Retention Messaging API in one table ([`ENDPOINTS`]): method,
//! path template, hourly budget, read or write, and which of Apple's errors are worth a
//! retry. The client builds its URLs from it ([`Endpoint::path`]), the pacer takes its
//! budgets from it ([`Endpoint::hourly_budget`]), and the simulator routes requests with
//! it ([`route`]). Data and pure functions only, no I/O.

use super::errors::ApiErrorCode;

/// Where every path of the API starts, in both environments.
pub const PATH_PREFIX: &str = "/inApps/v1/messaging";

/// The HTTP methods Apple's endpoints use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Put,
    Delete,
    Post,
}

impl HttpMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Post => "POST",
        }
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a request only reads what Apple holds or may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

/// Each endpoint, for URLs, routing, rate limits, pacing and request counts. Its row in
/// [`ENDPOINTS`] is [`Endpoint::spec`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Endpoint {
    UploadImage,
    DeleteImage,
    GetImageList,
    UploadMessage,
    DeleteMessage,
    GetMessageList,
    ConfigureDefaultMessage,
    GetDefaultMessage,
    DeleteDefaultMessage,
    ConfigureRealtimeUrl,
    GetRealtimeUrl,
    DeleteRealtimeUrl,
    InitiatePerformanceTest,
    GetPerformanceTestResult,
    /// The App Store Server API's Get Notification History (outside `PATH_PREFIX`; a
    /// POST that only reads): outcomes for `retainctl report`.
    GetNotificationHistory,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointSpec {
    pub endpoint: Endpoint,
    /// Apple's name of the endpoint, without spaces (`GetDefaultMessage`).
    pub name: &'static str,
    pub method: HttpMethod,
    /// The whole path as Apple documents it; a `{name}` segment is a parameter.
    pub path: &'static str,
    /// Apple's production rate in requests per second, enforced per hour (sandbox: 10%).
    pub production_per_second: u32,
    /// Read for Apple's GETs, Write for every other method (derived from the method).
    pub access: Access,
    /// Apple's errors that a retry may cure.
    pub retryable: &'static [ApiErrorCode],
}

/// Apple's Retention Messaging error page lists GeneralInternal (5000000) among the errors
/// to retry, beside GeneralInternalRetryable and RateLimitExceeded; the same on every
/// endpoint.
const RETRY: &[ApiErrorCode] = &[
    ApiErrorCode::GeneralInternal,
    ApiErrorCode::GeneralInternalRetryable,
    ApiErrorCode::RateLimitExceeded,
];

/// Apple's rates (Retention Messaging, *Identifying rate limits*): Configure Default
/// Message 10 requests per second, every other endpoint 1.
const ONE_PER_SECOND: u32 = 1;
const CONFIGURE_DEFAULT_PER_SECOND: u32 = 10;

const fn row(
    endpoint: Endpoint,
    name: &'static str,
    method: HttpMethod,
    path: &'static str,
    production_per_second: u32,
) -> EndpointSpec {
    let access = match method {
        HttpMethod::Get => Access::Read,
        _ => Access::Write,
    };
    EndpointSpec {
        endpoint,
        name,
        method,
        path,
        production_per_second,
        access,
        retryable: RETRY,
    }
}

/// Every endpoint, in the order of [`Endpoint`] (checked when compiling).
pub const ENDPOINTS: &[EndpointSpec] = {
    use Endpoint as E;
    use HttpMethod::*;
    &[
        row(
            E::UploadImage,
            "UploadImage",
            Put,
            "/inApps/v1/messaging/image/{imageIdentifier}",
            ONE_PER_SECOND,
        ),
        row(
            E::DeleteImage,
            "DeleteImage",
            Delete,
            "/inApps/v1/messaging/image/{imageIdentifier}",
            ONE_PER_SECOND,
        ),
        row(
            E::GetImageList,
            "GetImageList",
            Get,
            "/inApps/v1/messaging/image/list",
            ONE_PER_SECOND,
        ),
        row(
            E::UploadMessage,
            "UploadMessage",
            Put,
            "/inApps/v1/messaging/message/{messageIdentifier}",
            ONE_PER_SECOND,
        ),
        row(
            E::DeleteMessage,
            "DeleteMessage",
            Delete,
            "/inApps/v1/messaging/message/{messageIdentifier}",
            ONE_PER_SECOND,
        ),
        row(
            E::GetMessageList,
            "GetMessageList",
            Get,
            "/inApps/v1/messaging/message/list",
            ONE_PER_SECOND,
        ),
        row(
            E::ConfigureDefaultMessage,
            "ConfigureDefaultMessage",
            Put,
            "/inApps/v1/messaging/default/{productId}/{locale}",
            CONFIGURE_DEFAULT_PER_SECOND,
        ),
        row(
            E::GetDefaultMessage,
            "GetDefaultMessage",
            Get,
            "/inApps/v1/messaging/default/{productId}/{locale}",
            ONE_PER_SECOND,
        ),
        row(
            E::DeleteDefaultMessage,
            "DeleteDefaultMessage",
            Delete,
            "/inApps/v1/messaging/default/{productId}/{locale}",
            ONE_PER_SECOND,
        ),
        row(
            E::ConfigureRealtimeUrl,
            "ConfigureRealtimeUrl",
            Put,
            "/inApps/v1/messaging/realtime/url",
            ONE_PER_SECOND,
        ),
        row(
            E::GetRealtimeUrl,
            "GetRealtimeUrl",
            Get,
            "/inApps/v1/messaging/realtime/url",
            ONE_PER_SECOND,
        ),
        row(
            E::DeleteRealtimeUrl,
            "DeleteRealtimeUrl",
            Delete,
            "/inApps/v1/messaging/realtime/url",
            ONE_PER_SECOND,
        ),
        row(
            E::InitiatePerformanceTest,
            "InitiatePerformanceTest",
            Post,
            "/inApps/v1/messaging/performanceTest",
            ONE_PER_SECOND,
        ),
        row(
            E::GetPerformanceTestResult,
            "GetPerformanceTestResult",
            Get,
            "/inApps/v1/messaging/performanceTest/result/{requestId}",
            ONE_PER_SECOND,
        ),
        EndpointSpec {
            // App Store Server API, *Identifying rate limits*: 50 per second.
            access: Access::Read,
            ..row(
                E::GetNotificationHistory,
                "GetNotificationHistory",
                Post,
                "/inApps/v1/notifications/history",
                50,
            )
        },
    ]
};

// The row of an endpoint is at its index: `spec()` indexes without searching.
const _: () = {
    let mut i = 0;
    while i < ENDPOINTS.len() {
        assert!(ENDPOINTS[i].endpoint as usize == i);
        i += 1;
    }
};

/// What a path parameter's value has encoded: the URL standard's path-segment set
/// (controls, space, quote, hash, angle and curly brackets, question mark, backtick,
/// slash, percent), so that a value is one segment whatever it holds; bytes beyond ASCII
/// are always encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%');

/// The client passed an endpoint a different number of path parameters than its
/// template has: a mistake in retainctl, never in a user's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint} takes {expected} path parameters, not {given}")]
pub struct WrongParameters {
    pub endpoint: &'static str,
    pub expected: usize,
    pub given: usize,
}

impl Endpoint {
    /// Every endpoint, in the table's order.
    pub const ALL: [Endpoint; 15] = [
        Self::UploadImage,
        Self::DeleteImage,
        Self::GetImageList,
        Self::UploadMessage,
        Self::DeleteMessage,
        Self::GetMessageList,
        Self::ConfigureDefaultMessage,
        Self::GetDefaultMessage,
        Self::DeleteDefaultMessage,
        Self::ConfigureRealtimeUrl,
        Self::GetRealtimeUrl,
        Self::DeleteRealtimeUrl,
        Self::InitiatePerformanceTest,
        Self::GetPerformanceTestResult,
        Self::GetNotificationHistory,
    ];

    /// This endpoint's row of [`ENDPOINTS`].
    pub fn spec(self) -> &'static EndpointSpec {
        &ENDPOINTS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn method(self) -> HttpMethod {
        self.spec().method
    }

    /// Requests allowed per rolling hour: the production rate × 3600, sandbox 10% of it.
    pub fn hourly_budget(self, sandbox: bool) -> u32 {
        let production = self.spec().production_per_second * 3600;
        if sandbox { production / 10 } else { production }
    }

    /// Whether Apple's error `code`, answered by this endpoint, is worth a retry.
    pub fn retries(self, code: ApiErrorCode) -> bool {
        self.spec().retryable.contains(&code)
    }

    /// The template's segments after the leading `/`.
    fn template(self) -> impl Iterator<Item = &'static str> {
        self.spec().path.trim_start_matches('/').split('/')
    }

    fn is_parameter(segment: &str) -> bool {
        segment.starts_with('{') && segment.ends_with('}')
    }

    /// The names of the template's parameters, in order (`["productId", "locale"]`).
    pub fn parameters(self) -> impl Iterator<Item = &'static str> {
        self.template()
            .filter(|s| Self::is_parameter(s))
            .map(|s| &s[1..s.len() - 1])
    }

    /// The path's segments with `params` in place of the template's parameters, in order,
    /// not yet encoded.
    pub fn segments<'a>(self, params: &[&'a str]) -> Result<Vec<&'a str>, WrongParameters> {
        let expected = self.parameters().count();
        if params.len() != expected {
            return Err(WrongParameters {
                endpoint: self.name(),
                expected,
                given: params.len(),
            });
        }
        let mut params = params.iter();
        Ok(self
            .template()
            .map(|s| match Self::is_parameter(s) {
                true => *params.next().expect("counted above"),
                false => s,
            })
            .collect())
    }

    /// The request's path (`/inApps/v1/messaging/default/premium/en-US`), each parameter
    /// percent-encoded as one segment (a `/` in it is `%2F`), which [`route`] reads back.
    pub fn path(self, params: &[&str]) -> Result<String, WrongParameters> {
        Ok(self
            .segments(params)?
            .into_iter()
            .map(|s| format!("/{}", percent_encoding::utf8_percent_encode(s, SEGMENT)))
            .collect())
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A request matched to an endpoint, with its parameters decoded, in template order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    pub params: Vec<String>,
}

/// The endpoint a request's method and path (no query) are for, with its parameters
/// decoded. No two templates of one method match the same path (a test checks the
/// table), so the first match is the only one: `GET …/image/list` is the list, and
/// `PUT …/image/list` uploads an image named `list`. `None` for a path no template has
/// or a method the path does not take: the simulator answers both 404, as before the
/// table.
pub fn route(method: &str, path: &str) -> Option<Route> {
    let segments: Vec<String> = path
        .strip_prefix('/')?
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    ENDPOINTS
        .iter()
        .filter(|spec| spec.method.as_str() == method)
        .find_map(|spec| {
            let template: Vec<&str> = spec.endpoint.template().collect();
            if template.len() != segments.len() {
                return None;
            }
            let mut params = vec![];
            for (t, s) in template.iter().zip(&segments) {
                if Endpoint::is_parameter(t) {
                    params.push(s.clone());
                } else if t != s {
                    return None;
                }
            }
            Some(Route {
                endpoint: spec.endpoint,
                params,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apple's methods and paths, written out as the facts sheet has them
    /// (shared/apple-api/retention-messaging.md, "Endpoints").
    const APPLE: &[(Endpoint, &str, &str)] = &[
        (
            Endpoint::UploadImage,
            "PUT",
            "/inApps/v1/messaging/image/{imageIdentifier}",
        ),
        (
            Endpoint::DeleteImage,
            "DELETE",
            "/inApps/v1/messaging/image/{imageIdentifier}",
        ),
        (
            Endpoint::GetImageList,
            "GET",
            "/inApps/v1/messaging/image/list",
        ),
        (
            Endpoint::UploadMessage,
            "PUT",
            "/inApps/v1/messaging/message/{messageIdentifier}",
        ),
        (
            Endpoint::DeleteMessage,
            "DELETE",
            "/inApps/v1/messaging/message/{messageIdentifier}",
        ),
        (
            Endpoint::GetMessageList,
            "GET",
            "/inApps/v1/messaging/message/list",
        ),
        (
            Endpoint::ConfigureDefaultMessage,
            "PUT",
            "/inApps/v1/messaging/default/{productId}/{locale}",
        ),
        (
            Endpoint::GetDefaultMessage,
            "GET",
            "/inApps/v1/messaging/default/{productId}/{locale}",
        ),
        (
            Endpoint::DeleteDefaultMessage,
            "DELETE",
            "/inApps/v1/messaging/default/{productId}/{locale}",
        ),
        (
            Endpoint::ConfigureRealtimeUrl,
            "PUT",
            "/inApps/v1/messaging/realtime/url",
        ),
        (
            Endpoint::GetRealtimeUrl,
            "GET",
            "/inApps/v1/messaging/realtime/url",
        ),
        (
            Endpoint::DeleteRealtimeUrl,
            "DELETE",
            "/inApps/v1/messaging/realtime/url",
        ),
        (
            Endpoint::InitiatePerformanceTest,
            "POST",
            "/inApps/v1/messaging/performanceTest",
        ),
        (
            Endpoint::GetPerformanceTestResult,
            "GET",
            "/inApps/v1/messaging/performanceTest/result/{requestId}",
        ),
        (
            Endpoint::GetNotificationHistory,
            "POST",
            "/inApps/v1/notifications/history",
        ),
    ];

    #[test]
    fn the_table_is_apples_methods_and_paths() {
        assert_eq!(ENDPOINTS.len(), Endpoint::ALL.len());
        assert_eq!(APPLE.len(), Endpoint::ALL.len());
        for (endpoint, method, path) in APPLE {
            let spec = endpoint.spec();
            assert_eq!(spec.endpoint, *endpoint);
            assert_eq!(spec.method.as_str(), *method, "{endpoint}");
            assert_eq!(spec.path, *path, "{endpoint}");
            let app_store_server_api = *endpoint == Endpoint::GetNotificationHistory;
            assert!(
                spec.path.starts_with(PATH_PREFIX) != app_store_server_api,
                "{endpoint}"
            );
            assert_eq!(format!("{endpoint:?}"), spec.name);
        }
    }

    /// Facts sheet, "Rate limits": Configure Default Message 10 requests per second,
    /// every other endpoint 1, enforced per hour; sandbox 10% of these.
    #[test]
    fn budgets_are_apples() {
        for endpoint in Endpoint::ALL {
            let (production, sandbox) = match endpoint {
                Endpoint::ConfigureDefaultMessage => (36_000, 3_600),
                // App Store Server API, *Identifying rate limits*: 50 per second.
                Endpoint::GetNotificationHistory => (180_000, 18_000),
                _ => (3_600, 360),
            };
            assert_eq!(endpoint.hourly_budget(false), production, "{endpoint}");
            assert_eq!(endpoint.hourly_budget(true), sandbox, "{endpoint}");
        }
    }

    /// Facts sheet, "Error numbers": GeneralInternal and GeneralInternalRetryable are
    /// retried, and so is a 429; nothing else Apple says is cured by asking again.
    #[test]
    fn retryable_errors_are_apples() {
        for endpoint in Endpoint::ALL {
            for n in [5000000, 5000001, 4290000] {
                assert!(
                    endpoint.retries(ApiErrorCode::from_number(n)),
                    "{endpoint} {n}"
                );
            }
            for n in [
                4000006, 4000048, 4000185, 4000187, 4030017, 4040015, 4090001, 4001234,
            ] {
                assert!(
                    !endpoint.retries(ApiErrorCode::from_number(n)),
                    "{endpoint} {n}"
                );
            }
        }
    }

    fn sample_params(endpoint: Endpoint, values: &[&'static str]) -> Vec<&'static str> {
        endpoint
            .parameters()
            .zip(values.iter().cycle())
            .map(|(_, v)| *v)
            .collect()
    }

    /// Build a path from parameters, route it back, and find the same endpoint with the
    /// same parameters, even for values that need encoding.
    #[test]
    fn every_template_round_trips() {
        let awkward: &[&[&str]] = &[
            &["9542adfb-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "en-US"],
            &["com.example.premium", "zh-Hans"],
            &["a/b", "c%2Fd"],
            &["with space", "q?x#y"],
            &["list", "url"],
            &["ümlaut", "{x}"],
        ];
        for endpoint in Endpoint::ALL {
            for values in awkward {
                let params = sample_params(endpoint, values);
                let path = endpoint.path(&params).unwrap();
                let routed = route(endpoint.method().as_str(), &path);
                assert_eq!(
                    routed,
                    Some(Route {
                        endpoint,
                        params: params.iter().map(|p| p.to_string()).collect()
                    }),
                    "{endpoint} {path}"
                );
            }
        }
    }

    #[test]
    fn the_wrong_number_of_parameters_is_refused() {
        assert_eq!(
            Endpoint::GetDefaultMessage.path(&["premium"]),
            Err(WrongParameters {
                endpoint: "GetDefaultMessage",
                expected: 2,
                given: 1
            })
        );
        assert!(Endpoint::GetImageList.path(&["x"]).is_err());
        assert_eq!(
            Endpoint::GetImageList.path(&[]).unwrap(),
            "/inApps/v1/messaging/image/list"
        );
    }

    /// Two templates of one method could both match a path when, at every segment,
    /// either is a parameter or both are the same literal: then routing would depend on
    /// the table's order. None may.
    #[test]
    fn no_two_templates_of_one_method_overlap() {
        for (i, a) in ENDPOINTS.iter().enumerate() {
            for b in &ENDPOINTS[i + 1..] {
                let (ta, tb): (Vec<_>, Vec<_>) = (
                    a.endpoint.template().collect(),
                    b.endpoint.template().collect(),
                );
                let overlap = a.method == b.method
                    && ta.len() == tb.len()
                    && ta.iter().zip(&tb).all(|(x, y)| {
                        Endpoint::is_parameter(x) || Endpoint::is_parameter(y) || x == y
                    });
                assert!(!overlap, "{} and {} match the same paths", a.name, b.name);
            }
        }
        let list = route("GET", "/inApps/v1/messaging/image/list").unwrap();
        assert_eq!(list.endpoint, Endpoint::GetImageList);
        assert!(list.params.is_empty());
        // `list` is an identifier to Upload Image, which has no list of its own
        let upload = route("PUT", "/inApps/v1/messaging/image/list").unwrap();
        assert_eq!(upload.endpoint, Endpoint::UploadImage);
        assert_eq!(upload.params, ["list"]);
    }

    #[test]
    fn unknown_paths_and_methods_have_no_route() {
        for (method, path) in [
            ("GET", "/inApps/v1/messaging/image"),
            ("GET", "/inApps/v1/messaging/image/list/"),
            ("GET", "/inApps/v1/messaging/default/premium"),
            ("GET", "/inApps/v1/messaging/default/premium/en-US/x"),
            ("GET", "/inApps/v2/messaging/image/list"),
            ("GET", "/inApps/v1/messaging"),
            ("GET", "/"),
            ("GET", ""),
            ("GET", "inApps/v1/messaging/image/list"),
            ("POST", "/inApps/v1/messaging/image/list"),
            ("PATCH", "/inApps/v1/messaging/message/x"),
            ("GET", "/inApps/v1/messaging/performanceTest"),
            ("PUT", "/inApps/v1/messaging/performanceTest/result/x"),
            ("get", "/inApps/v1/messaging/image/list"),
        ] {
            assert_eq!(route(method, path), None, "{method} {path}");
        }
    }
}
