//! Locale tags as Apple takes them: BCP 47 `language[-Script][-REGION]`, in canonical
//! case (`en-US`, `zh-Hans-CN`). Apple refuses `en_US` (InvalidLocale), so the check
//! suggests the tag it most likely meant.

/// Checks a locale tag; on failure returns the problem and, when one exists, the
/// canonical tag the user probably meant.
pub fn check(tag: &str) -> Result<(), (String, Option<String>)> {
    let suggestion = canonical(&tag.replace('_', "-"));
    if let Some(canon) = &suggestion
        && canon == tag
    {
        return Ok(());
    }
    let problem = if tag.contains('_') {
        format!("`{tag}` is not a BCP 47 locale: parts are separated by `-`, not `_`")
    } else if suggestion.is_some() {
        format!("`{tag}` is not in canonical BCP 47 case")
    } else {
        format!("`{tag}` is not a BCP 47 locale such as `en-US` or `zh-Hans-CN`")
    };
    Err((problem, suggestion))
}

/// The canonical spelling of `language[-Script][-REGION]`, if `tag` has that shape.
fn canonical(tag: &str) -> Option<String> {
    let mut parts = tag.split('-');
    let language = parts.next()?;
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = language.to_ascii_lowercase();
    let mut rest: Vec<&str> = parts.collect();
    if let Some(script) = rest.first()
        && script.len() == 4
        && script.chars().all(|c| c.is_ascii_alphabetic())
    {
        out.push('-');
        out.push_str(&script[..1].to_ascii_uppercase());
        out.push_str(&script[1..].to_ascii_lowercase());
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => Some(out),
        [region]
            if (region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()))
                || (region.len() == 3 && region.chars().all(|c| c.is_ascii_digit())) =>
        {
            out.push('-');
            out.push_str(&region.to_ascii_uppercase());
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_canonical_tags() {
        for tag in ["en-US", "de-DE", "fr", "zh-Hans-CN", "es-419", "zh-Hant"] {
            assert_eq!(check(tag), Ok(()), "{tag}");
        }
    }

    #[test]
    fn suggests_the_canonical_tag() {
        assert_eq!(
            check("en_US"),
            Err((
                "`en_US` is not a BCP 47 locale: parts are separated by `-`, not `_`".into(),
                Some("en-US".into())
            ))
        );
        assert_eq!(check("en-us").unwrap_err().1.as_deref(), Some("en-US"));
        assert_eq!(check("english").unwrap_err().1, None);
        assert_eq!(check("").unwrap_err().1, None);
    }
}
