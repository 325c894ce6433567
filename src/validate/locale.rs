//! Locales as Apple takes them: one of the App Store's locale short codes
//! ([`crate::apple::limits::APP_STORE_LOCALES`]), exactly as listed and case-sensitive
//! (`en-US`, `ja`, `zh-Hans`). Free BCP 47 tags such as `ja-JP` or `en_US` get
//! InvalidLocale from Apple, so the check refuses them and names the listed code.

use crate::apple::limits;

/// A locale that is not one of Apple's codes, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlisted {
    pub written: String,
    /// The listed code it most likely means.
    pub suggestion: Option<&'static str>,
    /// When no single code fits: the listed codes of the same language, if any.
    pub same_language: Vec<&'static str>,
}

impl Unlisted {
    pub fn message(&self) -> String {
        format!(
            "`{}` is not one of the App Store's locale codes",
            self.written
        )
    }

    pub fn hint(&self) -> String {
        match (self.suggestion, self.same_language.as_slice()) {
            (Some(code), _) => {
                format!("write `{code}`; Apple refuses other spellings with InvalidLocale")
            }
            (None, [_, _, ..]) => format!(
                "write one of {}; Apple refuses other spellings with InvalidLocale",
                self.same_language.join(", ")
            ),
            _ => "use a code from the App Store's list (case-sensitive), e.g. en-US, de-DE, ja, zh-Hans; `retainctl schema` lists them all".to_string(),
        }
    }
}

/// Checks a locale against the App Store's list.
pub fn check(code: &str) -> Result<(), Unlisted> {
    if limits::is_app_store_locale(code) {
        return Ok(());
    }
    let suggestion = limits::suggest_locale(code);
    Err(Unlisted {
        written: code.to_string(),
        suggestion,
        same_language: if suggestion.is_none() {
            limits::codes_of_language(code)
        } else {
            vec![]
        },
    })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_listed_codes_only() {
        for code in ["en-US", "de-DE", "ja", "zh-Hans", "zh-Hant", "no", "pt-BR"] {
            assert_eq!(check(code), Ok(()), "{code}");
        }
        for code in [
            "ja-JP",
            "en_US",
            "EN-us",
            "zh-CN",
            "zh-Hans-CN",
            "es-419",
            "fr",
            "",
        ] {
            assert!(check(code).is_err(), "{code}");
        }
    }

    #[test]
    fn names_the_listed_code() {
        let e = check("ja-JP").unwrap_err();
        assert_eq!(e.suggestion, Some("ja"));
        assert_eq!(
            e.message(),
            "`ja-JP` is not one of the App Store's locale codes"
        );
        assert_eq!(
            e.hint(),
            "write `ja`; Apple refuses other spellings with InvalidLocale"
        );
        let e = check("fr").unwrap_err();
        assert_eq!(e.suggestion, None);
        assert_eq!(
            e.hint(),
            "write one of fr-CA, fr-FR; Apple refuses other spellings with InvalidLocale"
        );
        assert!(
            check("english")
                .unwrap_err()
                .hint()
                .starts_with("use a code")
        );
    }
}
