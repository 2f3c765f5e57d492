//! Query strings: decoded properly, checked strictly.
//!
//! Parameters are decoded as `application/x-www-form-urlencoded` (percent escapes, `+` for a
//! space). A parameter the route does not know, or one given twice, is a 400 that names it:
//! silently ignoring `tz` spelled `timezone` would answer in the wrong zone.

use std::borrow::Cow;

use availability_core::tz::Zone;

use crate::wire::Problem;

/// The decoded parameters of one request, each at most once. Values borrow from the request
/// unless they had escapes to decode.
#[derive(Debug, Default)]
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    /// Parses `raw` (the part after `?`, if any), accepting only the names in `allowed`.
    ///
    /// # Errors
    ///
    /// 400 for an unknown or repeated parameter.
    pub fn parse(raw: Option<&'a str>, allowed: &[&str]) -> Result<Query<'a>, Problem> {
        let raw = raw.unwrap_or("");
        let mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::new();
        for (name, value) in pairs_of(raw) {
            if !allowed.contains(&name.as_ref()) {
                return Err(Problem::bad_request(if allowed.is_empty() {
                    format!("unknown query parameter {name:?}: this path takes no parameters")
                } else {
                    format!(
                        "unknown query parameter {name:?}: this path accepts {}",
                        allowed.join(", ")
                    )
                }));
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(Problem::bad_request(format!(
                    "query parameter {name:?} is given more than once; give it once"
                )));
            }
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    /// The value of `name`, if given. An empty value counts as not given, so `?week=` means
    /// the default week.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_ref())
    }
}

/// The zone with this IANA name (any case), or 400 naming it.
pub fn zone(name: &str) -> Result<Zone, Problem> {
    Zone::new(name).map_err(|e| Problem::bad_request(e.to_string()))
}

/// The `name=value` pairs of `raw`, decoded. Most queries have nothing to decode: they are
/// split in place, and only a query with a `%` or a `+` goes through the full decoder.
fn pairs_of(raw: &str) -> Pairs<'_> {
    if raw.contains(['%', '+']) {
        Pairs::Encoded(form_urlencoded::parse(raw.as_bytes()))
    } else {
        Pairs::Plain(raw.split('&'))
    }
}

/// The iterator of [`pairs_of`].
enum Pairs<'a> {
    Plain(std::str::Split<'a, char>),
    Encoded(form_urlencoded::Parse<'a>),
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Pairs::Encoded(parse) => parse.next(),
            Pairs::Plain(split) => {
                let pair = split.find(|pair| !pair.is_empty())?;
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((Cow::Borrowed(name), Cow::Borrowed(value)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        let q = Query::parse(Some("tz=America%2FNew_York&week=2026+W48"), &["tz", "week"])
            .expect("valid");
        assert_eq!(q.get("tz"), Some("America/New_York"));
        assert_eq!(q.get("week"), Some("2026 W48"));
        assert_eq!(q.get("format"), None);
    }

    #[test]
    fn rejects_unknown_and_repeated() {
        let err = Query::parse(Some("timezone=UTC"), &["tz"]).expect_err("unknown");
        assert!(err.detail().contains("\"timezone\""), "{err}");
        let err = Query::parse(Some("tz=UTC&tz=Europe/Paris"), &["tz"]).expect_err("twice");
        assert!(err.detail().contains("more than once"), "{err}");
        let err = Query::parse(Some("x=1"), &[]).expect_err("none allowed");
        assert!(err.detail().contains("takes no parameters"), "{err}");
    }

    #[test]
    fn the_quick_path_splits_as_the_decoder_does() {
        for raw in [
            "",
            "a=1",
            "a=1&b=2",
            "a&b=",
            "&&a=1&&",
            "a==1",
            "=1",
            "a=1&a=2",
            "tz=America/New_York&week=2026-W48",
            "a=%41+b",
            "a=\u{e9}t\u{e9}",
        ] {
            let quick: Vec<(String, String)> = pairs_of(raw)
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            let full: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(quick, full, "{raw:?}");
        }
    }

    #[test]
    fn empty_values_mean_default() {
        let q = Query::parse(Some("week=&tz=UTC"), &["tz", "week"]).expect("valid");
        assert_eq!(q.get("week"), None);
        assert_eq!(q.get("tz"), Some("UTC"));
    }
}
