//! Fault injection for the simulator: latency, slow answers, 500 GeneralInternalRetryable,
//! 429 with a `Retry-After`, "commit then fail", and dropped connections — every Nth API
//! request or a seeded fraction of them, so a test run is repeatable — and targeted
//! [`FaultRule`]s: for requests whose method and path match a pattern, an Apple error or
//! a bare status, a redirect, upper-cased identifiers in the answer, or a hold until the
//! test releases the request.

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::apple::ApiErrorCode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every API request.
    pub latency_ms: u64,
    /// Every Nth API request is delayed by `slow_ms` more (then carried out as usual:
    /// a client that gave up may find its change made).
    pub slow_every: u64,
    pub slow_ms: u64,
    /// Every Nth API request is answered 500 GeneralInternalRetryable (0: never).
    pub error_every: u64,
    /// This fraction of API requests is answered 500 GeneralInternalRetryable.
    pub error_rate: f64,
    /// Every Nth API request is answered 429 with a `Retry-After`.
    pub rate_limit_every: u64,
    pub rate_limit_rate: f64,
    /// How far ahead the injected `Retry-After` points (UNIX time in milliseconds).
    pub retry_after_ms: u64,
    /// Every Nth API request is carried out, then answered 500 as if it had failed.
    pub commit_then_fail_every: u64,
    /// Every Nth API request has its connection dropped before an answer.
    pub drop_every: u64,
    pub drop_rate: f64,
    pub seed: u64,
    /// Targeted answers, tried in order before the counted faults above; the first rule
    /// that matches (and has uses left) acts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FaultRule>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            latency_ms: 0,
            slow_every: 0,
            slow_ms: 0,
            error_every: 0,
            error_rate: 0.0,
            rate_limit_every: 0,
            rate_limit_rate: 0.0,
            retry_after_ms: 1000,
            commit_then_fail_every: 0,
            drop_every: 0,
            drop_rate: 0.0,
            seed: 0,
            rules: vec![],
        }
    }
}

/// For API requests whose method and path match: a targeted answer.
///
/// As a flag (`retainctl sim --fault-rule RULE`), `METHOD PATH ANSWER [times N]`:
/// - `PUT /inApps/v1/messaging/default/*/* error 4030017` — Apple's error body with
///   that number, HTTP status its first three digits; nothing is carried out;
/// - `GET /inApps/v1/messaging/image/list status 502` — a bare status, no body;
/// - `PUT /inApps/v1/messaging/image/* redirect https://elsewhere.example/ok` — 302 to
///   that location with an HTML page that says "200 OK"; nothing is carried out;
/// - `GET /inApps/v1/messaging/default/*/* upper-case-ids` — carried out, every
///   `…Identifier` in the JSON answer upper-cased;
/// - `PUT /inApps/v1/messaging/image/* rate-limited 600000` — 429 with a `Retry-After`
///   that many milliseconds ahead (this endpoint's hourly budget used up); nothing is
///   carried out;
/// - `PUT /inApps/v1/messaging/default/*/* hold 30000` — waits until released
///   (`POST /_sim/release`) or for at most that many milliseconds (default 30000),
///   then carried out as usual.
///
/// `*` in the path stands for one segment; METHOD may be `*`. `times N` acts on the first
/// N matching requests only. In JSON (`POST /_sim/faults`, field `rules`):
/// `{"method": "PUT", "path": "/inApps/v1/messaging/default/*/*", "answer": {"error": 4030017}, "times": 1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    pub method: String,
    pub path: String,
    pub answer: RuleAnswer,
    /// Acts on the first N matching requests only (absent: on every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

/// What a matching [`FaultRule`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RuleAnswer {
    /// Apple's error body with this number; the status is its first three digits.
    Error(i64),
    /// This HTTP status with no body.
    Status(u16),
    /// 302 to this location, with an HTML page that says "200 OK".
    Redirect(String),
    /// Carried out; the identifiers in the JSON answer are upper-cased.
    UpperCaseIds,
    /// Held until released or for at most this many milliseconds, then carried out.
    Hold(u64),
    /// 429 with a `Retry-After` this many milliseconds ahead; nothing is carried out.
    RateLimited(u64),
}

/// How long a held request waits for its release when the rule names no bound.
pub const DEFAULT_HOLD_MS: u64 = 30_000;

impl FaultRule {
    /// Whether a request with this method and path (no query) matches.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let mut pattern = self.path.split('/');
        let mut actual = path.split('/');
        loop {
            match (pattern.next(), actual.next()) {
                (None, None) => return true,
                (Some("*"), Some(seg)) if !seg.is_empty() => {}
                (Some(p), Some(seg)) if p == seg => {}
                _ => return false,
            }
        }
    }
}

impl FromStr for FaultRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const SHAPE: &str = "a fault rule is `METHOD PATH ANSWER [times N]`, e.g. \
            `PUT /inApps/v1/messaging/default/*/* error 4030017 times 1`; ANSWER is one of \
            `error NUMBER`, `status CODE`, `redirect URL`, `upper-case-ids`, `hold [MS]`, \
            `rate-limited MS`";
        let words: Vec<&str> = text.split_whitespace().collect();
        let (method, path, rest) = match words.as_slice() {
            [method, path, rest @ ..] if !rest.is_empty() => (*method, *path, rest),
            _ => return Err(format!("`{text}`: {SHAPE}")),
        };
        if !path.starts_with('/') {
            return Err(format!("`{text}`: the path `{path}` must start with `/`"));
        }
        let (answer_words, times) = match rest {
            [answer @ .., "times", n] => {
                let n = n.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("`{text}`: `times` takes a positive count, not `{n}`")
                })?;
                (answer, Some(n))
            }
            _ => (rest, None),
        };
        let answer = match answer_words {
            ["error", n] => {
                let number = n.parse::<i64>().map_err(|_| {
                    format!("`{text}`: `error` takes Apple's error number, e.g. 4030017, not `{n}`")
                })?;
                RuleAnswer::Error(number)
            }
            ["status", s] => RuleAnswer::Status(s.parse::<u16>().map_err(|_| {
                format!("`{text}`: `status` takes an HTTP status, e.g. 502, not `{s}`")
            })?),
            ["redirect", location] => RuleAnswer::Redirect(location.to_string()),
            ["upper-case-ids"] => RuleAnswer::UpperCaseIds,
            ["hold"] => RuleAnswer::Hold(DEFAULT_HOLD_MS),
            ["hold", ms] => RuleAnswer::Hold(ms.parse::<u64>().map_err(|_| {
                format!("`{text}`: `hold` takes the longest wait in milliseconds, not `{ms}`")
            })?),
            ["rate-limited", ms] => RuleAnswer::RateLimited(ms.parse::<u64>().map_err(|_| {
                format!(
                    "`{text}`: `rate-limited` takes how far ahead Retry-After points, in milliseconds, not `{ms}`"
                )
            })?),
            _ => return Err(format!("`{text}`: {SHAPE}")),
        };
        let rule = FaultRule {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            answer,
            times,
        };
        rule.check()?;
        Ok(rule)
    }
}

impl FaultRule {
    /// Refuses answers the simulator could not send.
    pub fn check(&self) -> Result<(), String> {
        match &self.answer {
            RuleAnswer::Error(n) if !(4_000_000..6_000_000).contains(n) => Err(format!(
                "`{self}`: Apple's error numbers have seven digits starting with the HTTP status \
                 (4xx or 5xx), e.g. 4030017"
            )),
            RuleAnswer::Status(s) if !(100..1000).contains(s) => {
                Err(format!("`{self}`: {s} is not an HTTP status"))
            }
            RuleAnswer::Redirect(location)
                if location.is_empty() || location.chars().any(|c| c.is_control()) =>
            {
                Err(format!("`{self}`: the redirect needs a location"))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.method, self.path)?;
        match &self.answer {
            RuleAnswer::Error(n) => write!(f, "error {n}")?,
            RuleAnswer::Status(s) => write!(f, "status {s}")?,
            RuleAnswer::Redirect(l) => write!(f, "redirect {l}")?,
            RuleAnswer::UpperCaseIds => write!(f, "upper-case-ids")?,
            RuleAnswer::Hold(ms) => write!(f, "hold {ms}")?,
            RuleAnswer::RateLimited(ms) => write!(f, "rate-limited {ms}")?,
        }
        if let Some(n) = self.times {
            write!(f, " times {n}")?;
        }
        Ok(())
    }
}

impl RuleAnswer {
    /// Apple's error for an `Error` answer.
    pub fn apple_error(&self) -> Option<ApiErrorCode> {
        match self {
            RuleAnswer::Error(n) => Some(ApiErrorCode::from_number(*n)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    Slow,
    None,
    Drop,
    RateLimited,
    Error,
    CommitThenFail,
}

#[derive(Debug)]
pub struct Faults {
    pub config: FaultConfig,
    count: u64,
    rng: StdRng,
    /// How often each rule has acted, by its index in `config.rules`.
    rule_uses: Vec<u64>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        let rule_uses = vec![0; config.rules.len()];
        Faults {
            config,
            count: 0,
            rng,
            rule_uses,
        }
    }

    /// Checks a configuration before it is used (the rules' answers).
    pub fn check(config: &FaultConfig) -> Result<(), String> {
        config.rules.iter().try_for_each(FaultRule::check)
    }

    /// The answer of the first rule that matches this request and has uses left; counts
    /// the use.
    pub fn rule_for(&mut self, method: &str, path: &str) -> Option<RuleAnswer> {
        let index = self.config.rules.iter().enumerate().position(|(i, r)| {
            r.matches(method, path) && r.times.is_none_or(|n| self.rule_uses[i] < n)
        })?;
        self.rule_uses[index] += 1;
        Some(self.config.rules[index].answer.clone())
    }

    /// What happens to the next API request.
    pub fn decide(&mut self) -> Injected {
        self.count += 1;
        let n = self.count;
        let c = &self.config;
        let every = |k: u64| k > 0 && n.is_multiple_of(k);
        let (drop_rate, limit_rate, error_rate) = (c.drop_rate, c.rate_limit_rate, c.error_rate);
        let (drop_every, limit_every, error_every, commit_every, slow_every) = (
            every(c.drop_every),
            every(c.rate_limit_every),
            every(c.error_every),
            every(c.commit_then_fail_every),
            every(c.slow_every),
        );
        let mut roll = |p: f64| p > 0.0 && self.rng.random_bool(p.min(1.0));
        if drop_every || roll(drop_rate) {
            Injected::Drop
        } else if limit_every || roll(limit_rate) {
            Injected::RateLimited
        } else if error_every || roll(error_rate) {
            Injected::Error
        } else if commit_every {
            Injected::CommitThenFail
        } else if slow_every {
            Injected::Slow
        } else {
            Injected::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_is_exact_and_rates_are_seeded() {
        let mut f = Faults::new(FaultConfig {
            error_every: 3,
            ..Default::default()
        });
        let seen: Vec<Injected> = (0..6).map(|_| f.decide()).collect();
        assert_eq!(seen[2], Injected::Error);
        assert_eq!(seen[5], Injected::Error);
        assert_eq!(seen.iter().filter(|i| **i == Injected::Error).count(), 2);

        let config = FaultConfig {
            drop_rate: 0.3,
            seed: 7,
            ..Default::default()
        };
        let a: Vec<Injected> = (0..50)
            .map({
                let mut f = Faults::new(config.clone());
                move |_| f.decide()
            })
            .collect();
        let b: Vec<Injected> = (0..50)
            .map({
                let mut f = Faults::new(config);
                move |_| f.decide()
            })
            .collect();
        assert_eq!(a, b);
        assert!(a.contains(&Injected::Drop) && a.contains(&Injected::None));
    }

    #[test]
    fn every_nth_request_is_slow() {
        let mut f = Faults::new(FaultConfig {
            slow_every: 2,
            slow_ms: 10,
            ..Default::default()
        });
        let seen: Vec<Injected> = (0..4).map(|_| f.decide()).collect();
        assert_eq!(
            seen,
            [
                Injected::None,
                Injected::Slow,
                Injected::None,
                Injected::Slow
            ]
        );
    }

    #[test]
    fn rules_parse_from_text_and_json_alike() {
        let text: FaultRule = "put /inApps/v1/messaging/default/*/* error 4030017 times 1"
            .parse()
            .unwrap();
        let json: FaultRule = serde_json::from_str(
            r#"{"method":"PUT","path":"/inApps/v1/messaging/default/*/*","answer":{"error":4030017},"times":1}"#,
        )
        .unwrap();
        assert_eq!(text, json);
        assert_eq!(
            text.to_string(),
            "PUT /inApps/v1/messaging/default/*/* error 4030017 times 1"
        );
        for (rule, answer) in [
            ("GET /a status 502", RuleAnswer::Status(502)),
            (
                "PUT /a rate-limited 600000",
                RuleAnswer::RateLimited(600_000),
            ),
            (
                "PUT /a redirect http://x.example/ok",
                RuleAnswer::Redirect("http://x.example/ok".into()),
            ),
            ("GET /a upper-case-ids", RuleAnswer::UpperCaseIds),
            ("PUT /a hold", RuleAnswer::Hold(DEFAULT_HOLD_MS)),
            ("PUT /a hold 200", RuleAnswer::Hold(200)),
        ] {
            assert_eq!(rule.parse::<FaultRule>().unwrap().answer, answer, "{rule}");
        }
        for bad in [
            "PUT /a",
            "PUT a error 4030017",
            "PUT /a error MessageNotApproved",
            "PUT /a error 42",
            "PUT /a status 99",
            "PUT /a hold forever",
            "PUT /a error 4030017 times 0",
            "PUT /a shrug",
        ] {
            let err = bad.parse::<FaultRule>().unwrap_err();
            assert!(err.contains('`'), "{bad}: {err}");
        }
    }

    #[test]
    fn rules_match_method_and_segments_and_count_their_uses() {
        let rule: FaultRule = "PUT /inApps/v1/messaging/default/*/* status 500 times 2"
            .parse()
            .unwrap();
        assert!(rule.matches("PUT", "/inApps/v1/messaging/default/premium/en-US"));
        assert!(!rule.matches("GET", "/inApps/v1/messaging/default/premium/en-US"));
        assert!(!rule.matches("PUT", "/inApps/v1/messaging/default/premium"));
        assert!(!rule.matches("PUT", "/inApps/v1/messaging/default/premium/en-US/x"));
        assert!(!rule.matches("PUT", "/inApps/v1/messaging/default//en-US"));
        let any: FaultRule = "* /inApps/v1/messaging/message/list upper-case-ids"
            .parse()
            .unwrap();
        let mut f = Faults::new(FaultConfig {
            rules: vec![rule, any],
            ..Default::default()
        });
        let put = |f: &mut Faults| f.rule_for("PUT", "/inApps/v1/messaging/default/p/en-US");
        assert_eq!(put(&mut f), Some(RuleAnswer::Status(500)));
        assert_eq!(put(&mut f), Some(RuleAnswer::Status(500)));
        assert_eq!(put(&mut f), None, "used up after 2");
        assert_eq!(
            f.rule_for("GET", "/inApps/v1/messaging/message/list"),
            Some(RuleAnswer::UpperCaseIds)
        );
    }
}
