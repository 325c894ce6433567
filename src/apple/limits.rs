//! Apple's numbers and rules for the Retention Messaging API: text lengths, caps per app,
//! the realtime URL (its length, and which the simulator accepts), transaction ids, and the
//! App Store's locale short codes. No I/O; validation and the simulator both read them. The
//! endpoints (method, path, hourly budget, retryable errors) are a table of their own,
//! [`super::endpoints::ENDPOINTS`].

/// Header of a message, in characters.
pub const MAX_HEADER: usize = 66;
/// Body of a message, in characters.
pub const MAX_BODY: usize = 144;
/// Alt text of an image or a bullet point's icon, in characters.
pub const MAX_ALT_TEXT: usize = 150;
/// Text of one bullet point, in characters.
pub const MAX_BULLET_TEXT: usize = 66;
/// Bullet points in one message.
pub const MAX_BULLET_POINTS: usize = 5;
/// Messages Apple holds per app.
pub const MAX_MESSAGES: usize = 2000;
/// Images Apple holds per app.
pub const MAX_IMAGES: usize = 2000;
/// The realtime URL, in characters.
pub const MAX_REALTIME_URL: usize = 256;

/// A transaction id: 1 to 20 digits.
pub fn is_transaction_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A realtime URL the simulator accepts: `https://`, as Apple requires, or `http://` to a
/// loopback host (127.0.0.1, [::1], localhost) so local servers and tests can be targets.
pub fn realtime_url_accepted(url: &str) -> bool {
    if url.chars().count() > MAX_REALTIME_URL {
        return false;
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => true,
        "http" => loopback,
        _ => false,
    }
}

/// Where [`APP_STORE_LOCALES`] comes from, and when it was checked.
pub const APP_STORE_LOCALES_SOURCE: &str = "App Store Connect API, \"Managing metadata in your app by using locale shortcodes\" \
(https://developer.apple.com/documentation/appstoreconnectapi/managing-metadata-in-your-app-by-using-locale-shortcodes) \
and App Store Connect Help, \"App Store localizations\" \
(https://developer.apple.com/help/app-store-connect/reference/app-store-localizations/); \
39 codes as of 2024, plus the 11 languages of Apple Developer News \"App Store expands support to 11 new languages\" \
(https://developer.apple.com/news/?id=97t4mt64, 2026-03-31); checked 2026-11-23";

/// Every locale short code the App Store takes, with its language as Apple names it.
/// Apple's `locale` type is one of these, case-sensitive; anything else gets
/// InvalidLocale (4000164). Source: [`APP_STORE_LOCALES_SOURCE`].
pub const APP_STORE_LOCALES: &[(&str, &str)] = &[
    ("ar-SA", "Arabic"),
    ("bn", "Bangla"),
    ("ca", "Catalan"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("de-DE", "German"),
    ("el", "Greek"),
    ("en-AU", "English (Australia)"),
    ("en-CA", "English (Canada)"),
    ("en-GB", "English (U.K.)"),
    ("en-US", "English (U.S.)"),
    ("es-ES", "Spanish (Spain)"),
    ("es-MX", "Spanish (Mexico)"),
    ("fi", "Finnish"),
    ("fr-CA", "French (Canada)"),
    ("fr-FR", "French"),
    ("gu", "Gujarati"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hr", "Croatian"),
    ("hu", "Hungarian"),
    ("id", "Indonesian"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("kn", "Kannada"),
    ("ko", "Korean"),
    ("ml", "Malayalam"),
    ("mr", "Marathi"),
    ("ms", "Malay"),
    ("nl-NL", "Dutch"),
    ("no", "Norwegian"),
    ("or", "Odia"),
    ("pa", "Punjabi"),
    ("pl", "Polish"),
    ("pt-BR", "Portuguese (Brazil)"),
    ("pt-PT", "Portuguese (Portugal)"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("sv", "Swedish"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("vi", "Vietnamese"),
    ("zh-Hans", "Chinese (Simplified)"),
    ("zh-Hant", "Chinese (Traditional)"),
];

/// Spellings people write for a language whose App Store code is not derived from the
/// language subtag alone (Chinese by region, Norwegian Bokmål and Nynorsk, ISO 639
/// codes Apple does not use).
const ALIASES: &[(&str, &str)] = &[
    ("zh-cn", "zh-Hans"),
    ("zh-sg", "zh-Hans"),
    ("zh-hans-cn", "zh-Hans"),
    ("zh-hans-sg", "zh-Hans"),
    ("zh-tw", "zh-Hant"),
    ("zh-hk", "zh-Hant"),
    ("zh-mo", "zh-Hant"),
    ("zh-hant-tw", "zh-Hant"),
    ("zh-hant-hk", "zh-Hant"),
    ("zh-hant-mo", "zh-Hant"),
    ("nb", "no"),
    ("nn", "no"),
    ("iw", "he"),
    ("in", "id"),
];

/// Whether `code` is one of Apple's App Store locale short codes, exactly as written.
pub fn is_app_store_locale(code: &str) -> bool {
    APP_STORE_LOCALES.iter().any(|(c, _)| *c == code)
}

/// The listed codes alone, in the table's order.
pub fn app_store_locale_codes() -> impl Iterator<Item = &'static str> {
    APP_STORE_LOCALES.iter().map(|(c, _)| *c)
}

/// The listed code someone most likely meant by `written`: the same code in another case
/// or with `_` (`en_US`, `EN-us` → `en-US`), Apple's code for the language when it has
/// only one (`ja-JP` → `ja`, `de` → `de-DE`, `nb-NO` → `no`), or Chinese by script
/// (`zh-CN` → `zh-Hans`, `zh-TW` → `zh-Hant`). `None` when the language is not on the
/// list or has several codes and the region does not pick one (`en`, `pt-AO`).
pub fn suggest_locale(written: &str) -> Option<&'static str> {
    let normal = written.trim().replace('_', "-").to_ascii_lowercase();
    if normal.is_empty() {
        return None;
    }
    if let Some(code) = app_store_locale_codes().find(|c| c.to_ascii_lowercase() == normal) {
        return Some(code);
    }
    if let Some((_, code)) = ALIASES.iter().find(|(alias, _)| *alias == normal) {
        return Some(code);
    }
    let language = normal.split('-').next().unwrap_or_default();
    if let Some((_, code)) = ALIASES.iter().find(|(alias, _)| *alias == language) {
        return Some(code);
    }
    let mut same_language = app_store_locale_codes()
        .filter(|c| c.split('-').next().is_some_and(|l| l == language) && !c.starts_with("zh"));
    match (same_language.next(), same_language.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The listed codes of one language (`en` → en-AU, en-CA, en-GB, en-US), for a hint
/// when [`suggest_locale`] cannot pick one.
pub fn codes_of_language(written: &str) -> Vec<&'static str> {
    let normal = written.trim().replace('_', "-").to_ascii_lowercase();
    let language = normal.split('-').next().unwrap_or_default().to_string();
    app_store_locale_codes()
        .filter(|c| c.split('-').next() == Some(language.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_fifty_distinct_codes() {
        let mut codes: Vec<&str> = app_store_locale_codes().collect();
        assert_eq!(codes.len(), 50);
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 50);
    }

    #[test]
    fn listed_codes_are_exact_and_case_sensitive() {
        for code in ["ja", "zh-Hans", "zh-Hant", "en-US", "no", "bn", "ur", "sl"] {
            assert!(is_app_store_locale(code), "{code}");
        }
        for code in [
            "ja-JP", "en_US", "en-us", "zh-hans", "zh-CN", "ko-KR", "nb", "",
        ] {
            assert!(!is_app_store_locale(code), "{code}");
        }
    }

    #[test]
    fn suggestions_lead_to_the_listed_code() {
        for (written, code) in [
            ("ja-JP", "ja"),
            ("en_US", "en-US"),
            ("EN-us", "en-US"),
            ("zh-CN", "zh-Hans"),
            ("zh-TW", "zh-Hant"),
            ("zh-HK", "zh-Hant"),
            ("zh_Hans_CN", "zh-Hans"),
            ("ko-KR", "ko"),
            ("it-IT", "it"),
            ("sv-SE", "sv"),
            ("nb", "no"),
            ("nb-NO", "no"),
            ("no-NO", "no"),
            ("de", "de-DE"),
            ("de-AT", "de-DE"),
            ("fr-fr", "fr-FR"),
            ("pt_br", "pt-BR"),
            ("ur-PK", "ur"),
            ("bn-BD", "bn"),
        ] {
            assert_eq!(suggest_locale(written), Some(code), "{written}");
        }
    }

    #[test]
    fn no_suggestion_when_the_language_is_ambiguous_or_unlisted() {
        for written in ["en", "pt-AO", "es-AR", "english", "xx-YY", "", "zh"] {
            assert_eq!(suggest_locale(written), None, "{written}");
        }
        assert_eq!(
            codes_of_language("en"),
            ["en-AU", "en-CA", "en-GB", "en-US"]
        );
    }
}
