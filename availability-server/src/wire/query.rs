//! Query strings: decoded properly, checked strictly.
//!
//! Parameters are decoded as `application/x-www-form-urlencoded` (percent escapes, `+` for a
//! space). A parameter the route does not know, or one given twice, is a 400 that names it:
//! silently ignoring `tz` spelled `timezone` would answer in the wrong zone.

use std::borrow::Cow;

use availability_core::tz::Zone;

use crate::wire::Problem;

/// The most names a route accepts.
const MAX_NAMES: usize = 8;

/// The decoded parameters of one request, each at most once. Values borrow from the request
/// unless they had escapes to decode.
///
/// Each value sits at the index of its name in the route's list: no allocation, and finding
/// a repeat is one look at that index.
#[derive(Debug, Default)]
pub struct Query<'a> {
    allowed: &'a [&'a str],
    values: [Option<Cow<'a, str>>; MAX_NAMES],
}

impl<'a> Query<'a> {
    /// Parses `raw` (the part after `?`, if any), accepting only the names in `allowed` (at
    /// most eight).
    ///
    /// # Errors
    ///
    /// 400 for an unknown or repeated parameter.
    pub fn parse(raw: Option<&'a str>, allowed: &'a [&'a str]) -> Result<Query<'a>, Problem> {
        debug_assert!(
            allowed.len() <= MAX_NAMES,
            "a route accepts at most {MAX_NAMES} names"
        );
        let mut query = Query {
            allowed,
            values: Default::default(),
        };
        for (name, value) in pairs_of(raw.unwrap_or("")) {
            let slot = allowed
                .iter()
                .position(|a| *a == name)
                .and_then(|i| query.values.get_mut(i));
            let Some(slot) = slot else {
                return Err(Problem::bad_request(if allowed.is_empty() {
                    format!("unknown query parameter {name:?}: this path takes no parameters")
                } else {
                    format!(
                        "unknown query parameter {name:?}: this path accepts {}",
                        allowed.join(", ")
                    )
                }));
            };
            if slot.is_some() {
                return Err(Problem::bad_request(format!(
                    "query parameter {name:?} is given more than once; give it once"
                )));
            }
            *slot = Some(value);
        }
        Ok(query)
    }

    /// The value of `name`, if given. An empty value counts as not given, so `?week=` means
    /// the default week.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.allowed.iter().position(|a| *a == name)?;
        self.values
            .get(i)?
            .as_deref()
            .filter(|value| !value.is_empty())
    }
}

/// The zone with this IANA name (any case), or 400 naming it.
pub fn zone(name: &str) -> Result<Zone, Problem> {
    Zone::new(name).map_err(|e| Problem::bad_request(e.to_string()))
}

/// The `name=value` pairs of `raw`, decoded, empty pairs skipped: split in place, each part
/// decoded only if it needs it (see [`decoded`]).
fn pairs_of(raw: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
    Pairs { rest: raw }
}

/// The bytes that end a pair (`&`), split it (`=`) or need decoding (`%`, `+`).
const SPECIAL: [bool; 256] = {
    let mut special = [false; 256];
    special[b'&' as usize] = true;
    special[b'=' as usize] = true;
    special[b'%' as usize] = true;
    special[b'+' as usize] = true;
    special
};

/// The pairs of a query, found in one pass over its bytes: the `&` that ends a pair, the first
/// `=` in it, and whether either side has a `%` or `+` to decode. (Splitting with `str::split`
/// and then searching each part for two characters took as long as the rest of a cached read.)
struct Pairs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let bytes = self.rest.as_bytes();
            let mut end = bytes.len();
            let mut equals = None;
            // Whether the name, and the value, have something to decode.
            let (mut name_escaped, mut value_escaped) = (false, false);
            for (i, &b) in bytes.iter().enumerate() {
                // Most bytes are none of the four: one table lookup each.
                if !SPECIAL[usize::from(b)] {
                    continue;
                }
                match b {
                    b'&' => {
                        end = i;
                        break;
                    }
                    b'=' if equals.is_none() => equals = Some(i),
                    b'=' => {}
                    _ if equals.is_none() => name_escaped = true,
                    _ => value_escaped = true,
                }
            }
            // Every index is that of an ASCII byte, or the end: a boundary of characters.
            let pair = self.rest.get(..end).unwrap_or_default();
            self.rest = self.rest.get(end + 1..).unwrap_or_default();
            if pair.is_empty() {
                continue;
            }
            let (name, value) = match equals {
                Some(at) => (
                    pair.get(..at).unwrap_or_default(),
                    pair.get(at + 1..).unwrap_or_default(),
                ),
                None => (pair, ""),
            };
            let part = |text: &'a str, escaped: bool| {
                if escaped {
                    decoded(text)
                } else {
                    Cow::Borrowed(text)
                }
            };
            return Some((part(name, name_escaped), part(value, value_escaped)));
        }
    }
}

/// One name or value as `application/x-www-form-urlencoded` reads it: `+` is a space, percent
/// escapes are bytes, and bytes that are not UTF-8 become U+FFFD. Only a part with a `%` or
/// a `+` comes here ([`Pairs`] borrows the others, which are every part of most queries): a
/// query such as `tz=America%2FNew_York&week=2026-W48` decodes one value, not the whole query
/// through a general decoder, which cost more than the rest of a cached read.
fn decoded(part: &str) -> Cow<'_, str> {
    let bytes = part.as_bytes();
    // Decoding only shortens: one allocation.
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        out.push(match b {
            b'+' => b' ',
            // `%` and two hex digits is a byte; any other `%` stays as it is.
            b'%' => match (hex(bytes.get(i)), hex(bytes.get(i + 1))) {
                (Some(high), Some(low)) => {
                    i += 2;
                    high << 4 | low
                }
                _ => b'%',
            },
            _ => b,
        });
    }
    match String::from_utf8(out) {
        Ok(text) => Cow::Owned(text),
        Err(err) => Cow::Owned(String::from_utf8_lossy(err.as_bytes()).into_owned()),
    }
}

/// The value of a hex digit.
fn hex(digit: Option<&u8>) -> Option<u8> {
    let digit = *digit?;
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
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
    fn pairs_read_as_the_form_decoder_reads_them() {
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
            "tz=America%2FNew_York&week=2026-W48",
            "a%3Db=c%26d",
            "a=%zz&b=%4&c=%",
            "a=%FF%FE&b=%C3%A9",
            "+%2B+=++",
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
