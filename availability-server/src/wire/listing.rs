//! Listings a page at a time: the `limit` and `after` a listing takes, and the `next` link its
//! answer gives. Both are here, so the link a page writes is one its listing reads back.
//!
//! A page holds the items whose ids sort strictly after `after`, in id order, at most `limit`
//! of them (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]). The cursor is an id, not a
//! position: an item created or deleted between two pages moves nothing else, and the id of
//! an item deleted since is still a cursor (any well-formed id is). `next` is the path of the
//! page after this one when more items followed it at the moment of the read, and `null` on
//! the last page; the same path goes in an RFC 8288 `Link: <...>; rel="next"` field, which a
//! last page does not have.

use availability_core::store::check_id;
use http::header::{HeaderValue, LINK};
use http::request::Parts;
use http::Response;
use serde_json::Value;

use super::problem::shown;
use super::query::Query;
use super::{response, Body, Problem};

/// The page size when a listing names none.
pub const DEFAULT_LIMIT: usize = 100;

/// The largest page: a thousand calendars are about 100 KiB.
pub const MAX_LIMIT: usize = 1_000;

/// The query parameters of a listing.
pub const PARAMETERS: &[&str] = &["limit", "after"];

/// The page a listing asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<'a> {
    /// At most this many items, 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// The items after this id, or from the first.
    pub after: Option<&'a str>,
}

impl<'a> Page<'a> {
    /// The page `query` asks for, in a listing of `what`s (`"calendar"`, `"group"`).
    ///
    /// # Errors
    ///
    /// 400 for a `limit` that is not a whole number from 1 to [`MAX_LIMIT`], or an `after`
    /// that is not an id. An empty value is one not given, as everywhere in a query.
    pub fn of(query: &'a Query<'_>, what: &str) -> Result<Page<'a>, Problem> {
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => limit(text)?,
        };
        let after = query.get("after");
        if let Some(id) = after {
            if check_id(id).is_err() {
                return Err(Problem::bad_request(format!(
                    "after {:?} is not a {what} id (1 to 63 characters of a-z, 0-9 and '-', \
                     starting with a letter or digit): give the last id of the page before, \
                     or follow the \"next\" link of its answer",
                    shown(id)
                )));
            }
        }
        Ok(Page { limit, after })
    }

    /// How many items to ask the store for: one more than the page shows, which says
    /// whether a next page has anything.
    pub fn wanted(&self) -> usize {
        self.limit + 1
    }

    /// The answer of a page of the listing at `path` (`/calendars`) from `found`, what the
    /// store gave for [`Page::wanted`]: `{ <key>: [...], "next": ... }`, each shown item as
    /// `describe` has it, and `Link` when there is a next page. Tagged by its bytes.
    pub fn answer<T>(
        &self,
        parts: &Parts,
        (path, key): (&str, &str),
        found: &[T],
        id: impl Fn(&T) -> &str,
        describe: impl Fn(&T) -> Value,
    ) -> Response<Body> {
        let shown = found.get(..self.limit).unwrap_or(found);
        let next = match shown.last() {
            Some(last) if found.len() > shown.len() => {
                Some(format!("{path}?limit={}&after={}", self.limit, id(last)))
            }
            _ => None,
        };
        let mut body = serde_json::Map::new();
        body.insert(key.to_owned(), shown.iter().map(describe).collect());
        body.insert(
            "next".to_owned(),
            next.clone().map_or(Value::Null, Value::from),
        );
        let bytes = response::to_bytes(&Value::Object(body));
        let mut answer = response::document(parts, bytes, None);
        // Ids are `[a-z0-9-]`: the path needs no escaping, and is a valid field value.
        if let Some(next) = next {
            if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
                answer.headers_mut().insert(LINK, link);
            }
        }
        answer
    }
}

/// A `limit`: a whole number from 1 to [`MAX_LIMIT`], in decimal digits only.
fn limit(text: &str) -> Result<usize, Problem> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<usize>() {
        Ok(n) if digits && (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(Problem::bad_request(format!(
            "limit {:?} is not a number from 1 to {MAX_LIMIT}: a page holds at most \
             {MAX_LIMIT} items (without a limit, {DEFAULT_LIMIT})",
            shown(text)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(raw: &str) -> Result<(usize, Option<String>), String> {
        let query = Query::parse(Some(raw), PARAMETERS).map_err(|e| e.detail().to_owned())?;
        Page::of(&query, "calendar")
            .map(|p| (p.limit, p.after.map(str::to_owned)))
            .map_err(|e| e.detail().to_owned())
    }

    #[test]
    fn limits_are_1_to_1000_and_default_to_100() {
        assert_eq!(page(""), Ok((100, None)));
        assert_eq!(page("limit="), Ok((100, None)));
        assert_eq!(page("limit=1"), Ok((1, None)));
        assert_eq!(page("limit=1000"), Ok((1000, None)));
        assert_eq!(page("limit=0007"), Ok((7, None)));
        for bad in [
            "0",
            "1001",
            "-1",
            "%2B5",
            "abc",
            "1.5",
            "1e3",
            "%201",
            "99999999999999999999",
        ] {
            let detail = page(&format!("limit={bad}")).expect_err(bad);
            assert!(
                detail.starts_with("limit ") && detail.contains("1 to 1000"),
                "{detail}"
            );
        }
    }

    #[test]
    fn after_is_any_well_formed_id() {
        assert_eq!(page("after=room-4"), Ok((100, Some("room-4".to_owned()))));
        assert_eq!(page("after=&limit=2"), Ok((2, None)));
        for bad in ["Room", "-a", "a_b", "a%2Fb", &"a".repeat(64)] {
            let detail = page(&format!("after={bad}")).expect_err(bad);
            assert!(detail.contains("is not a calendar id"), "{detail}");
        }
    }
}
