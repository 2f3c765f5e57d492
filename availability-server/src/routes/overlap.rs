//! `/overlap`: when is everyone free. Up to 1,000 calendars, each viewed from its own zone by
//! the time-zone rule into the viewer's week, then counted slot by slot.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use availability_core::group::Tally;
use availability_core::tz::{IsoWeek, Zone};
use availability_core::{Slot, Status, Week, SLOTS};
use http::request::Parts;
use http::Response;
use serde::Deserialize;

use crate::app::App;
use crate::cache::{Format, GroupKey, NamedKey, Rendered};
use crate::ctx::Ctx;
use crate::ics::freebusy;
use crate::page;
use crate::render::{self, GroupHeader, GroupSpan};
use crate::store::{Calendar, Group};
use crate::wire::body::{self, RequestBody};
use crate::wire::etag::Tag;
use crate::wire::problem::shown;
use crate::wire::query::{self, Query};
use crate::wire::{response, Body, Problem, Result};

/// The most calendars one question may name.
const MAX_MEMBERS: usize = 1000;

/// Groups of at most this many members name who is available in each span.
const NAMED: usize = 50;

/// A question, from the query string or a JSON body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    calendars: Vec<String>,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default)]
    week: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    min: Option<u32>,
}

/// GET /overlap?calendars=a,b,c&tz=&week=&format=&min= (anyone).
pub(super) fn get(cx: &Ctx<'_>) -> Result<Response<Body>> {
    ask_from_query(cx, None)
}

/// GET `/groups/{id}/availability?tz=&week=&format=&min=` (anyone): the members' overlap,
/// as `/overlap` answers it.
pub(super) fn group(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let group = cx.app.group(cx.param(0))?;
    ask_from_query(cx, Some(&group))
}

/// Whom a question is about: the calendars it names, found ([`asked`]); or a named group
/// (its members checked when it was stored: 1 to 1,000 distinct ids), whose members are found
/// only when its answer is not cached.
enum Whom<'a> {
    Asked(Vec<Arc<Calendar>>),
    Group(&'a Arc<Group>),
}

/// A question from the query string, about `group` or else the query's `calendars`.
fn ask_from_query(cx: &Ctx<'_>, group: Option<&Arc<Group>>) -> Result<Response<Body>> {
    let allowed: &[&str] = match group {
        None => &["calendars", "tz", "week", "format", "min"],
        Some(_) => &["tz", "week", "format", "min"],
    };
    let query = Query::parse(cx.parts.uri.query(), allowed)?;
    let min = query
        .get("min")
        .map(|m| {
            m.parse::<u32>().map_err(|_| {
                Problem::bad_request(format!("min {m:?} is not a number of calendars"))
            })
        })
        .transpose()?;
    let ask = Ask {
        calendars: match group {
            Some(_) => Vec::new(),
            None => query
                .get("calendars")
                .map(|list| list.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        },
        tz: query.get("tz").map(str::to_owned),
        week: query.get("week").map(str::to_owned),
        format: query.get("format").map(str::to_owned),
        min,
    };
    let whom = match group {
        Some(group) => Whom::Group(group),
        None => Whom::Asked(asked(cx.app, &ask.calendars)?),
    };
    answer(cx.app, cx.parts, &ask, whom, None)
}

/// GET `/groups/{id}` asking for HTML: the group's week as a page, `tz` and `week` from the
/// query.
pub(super) fn group_page(cx: &Ctx<'_>) -> Result<Response<Body>> {
    let group = cx.app.group(cx.param(0))?;
    let query = Query::parse(cx.parts.uri.query(), &["tz", "week"])?;
    let ask = Ask {
        calendars: Vec::new(),
        tz: query.get("tz").map(str::to_owned),
        week: query.get("week").map(str::to_owned),
        format: None,
        min: None,
    };
    answer(
        cx.app,
        cx.parts,
        &ask,
        Whom::Group(&group),
        Some(group.id()),
    )
}

/// POST /overlap (anyone): the same question as a JSON body, for long lists.
pub(super) async fn post(cx: Ctx<'_>, body: RequestBody) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    let bytes = body::read_json(cx.app.body, cx.parts, body).await?;
    let ask: Ask = body::parse_json(
        &bytes,
        "question ({\"calendars\": [...], \"tz\", \"week\", \"format\", \"min\"})",
    )?;
    let whom = Whom::Asked(asked(cx.app, &ask.calendars)?);
    answer(cx.app, cx.parts, &ask, whom, None)
}

/// The calendars a question names, as they are now: 1 to 1,000 distinct calendars that exist.
fn asked(app: &App, ids: &[String]) -> Result<Vec<Arc<Calendar>>> {
    if ids.is_empty() || ids.len() > MAX_MEMBERS {
        return Err(Problem::bad_request(format!(
            "name 1 to {MAX_MEMBERS} calendars (calendars=a,b,c); this asked for {}",
            ids.len()
        )));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(id.as_str()) {
            return Err(Problem::bad_request(format!(
                "calendar {:?} is named more than once; name each once",
                shown(id)
            )));
        }
    }
    app.calendars(ids)
}

/// Answers a question about `whom` from the cache, or computes, renders and caches it; as
/// the page of group `page` when there is one.
fn answer(
    app: &App,
    parts: &Parts,
    ask: &Ask,
    whom: Whom<'_>,
    page: Option<&str>,
) -> Result<Response<Body>> {
    let viewer = query::zone(ask.tz.as_deref().unwrap_or("UTC"))?;
    let week = match ask.week.as_deref() {
        Some(text) if !text.is_empty() => text.parse::<IsoWeek>(),
        _ => IsoWeek::at(viewer, app.now_unix()),
    }
    .map_err(|e| Problem::bad_request(e.to_string()))?;
    let format = match ask.format.as_deref() {
        None | Some("" | "json") => Format::Json,
        Some("intervals") => Format::Intervals,
        Some("csv") => Format::Csv,
        Some("view") => Format::View,
        Some("ics") => Format::Ics,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "unknown format {other:?}: use json (the default), intervals, csv, view or ics"
            )))
        }
    };
    let format = match page {
        Some(id) => {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            id.hash(&mut hasher);
            Format::Page {
                now: page::Now::at(viewer, week, app.now_unix()).slot,
                of: hasher.finish() << 1 | u64::from(ask.tz.is_some()),
            }
        }
        None => format,
    };
    let total = match &whom {
        Whom::Asked(members) => members.len(),
        Whom::Group(group) => group.members().len(),
    };
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    let min = match (format, ask.min) {
        (Format::Intervals, Some(min)) if (1..=total).contains(&min) => min,
        (Format::Intervals, Some(min)) => {
            return Err(Problem::bad_request(format!(
                "min is {min}: it must be 1 to the number of calendars ({total})"
            )))
        }
        // Only the spans depend on the threshold; other formats share one cached answer.
        _ => total,
    };
    let rendered = match whom {
        Whom::Asked(members) => {
            let key = GroupKey {
                group: None,
                members: &members,
                viewer,
                week,
                format,
                min,
            };
            app.cached(app.cache.get_group(&key), || {
                Ok(Rendered::for_group(&key, compute(app, &key, page)?))
            })?
        }
        Whom::Group(group) => {
            let named = NamedKey {
                group,
                viewer,
                week,
                format,
                min,
            };
            app.cached(app.cache.get_named(&named), || {
                let members = app.calendars(group.members())?;
                let key = GroupKey {
                    group: Some(group),
                    members: &members,
                    viewer,
                    week,
                    format,
                    min,
                };
                Ok(Rendered::for_group(&key, compute(app, &key, page)?))
            })?
        }
    };
    Ok(response::read(parts, &*rendered))
}

/// Views every member from the viewer's zone (one plan per owner zone), counts them, and
/// renders the answer (the page of group `page`, when there is one).
fn compute(app: &App, key: &GroupKey<'_>, page: Option<&str>) -> Result<Vec<u8>> {
    let mut order: Vec<usize> = (0..key.members.len()).collect();
    order.sort_by(|&a, &b| key.members[a].zone().cmp(key.members[b].zone()));
    let mut viewed = vec![Week::UNAVAILABLE; key.members.len()];
    // A `VFREEBUSY` lays each member's real times over the others', not its viewed week.
    let exact = matches!(key.format, Format::Ics);
    let mut runs = vec![Vec::new(); if exact { key.members.len() } else { 0 }];
    // A page marks the slots some member's booking holds; other formats do not read it.
    let mut booked = Week::UNAVAILABLE;
    let page_wanted = matches!(key.format, Format::Page { .. });
    let mut tally = Tally::new();
    for chunk in order.chunk_by(|&a, &b| key.members[a].zone() == key.members[b].zone()) {
        let zone = key.members[chunk[0]].zone();
        // The owner's zone was checked when it was stored.
        let owner = Zone::new(zone).map_err(|e| Problem::internal("reading an owner's zone", e))?;
        let plan = app
            .plans
            .get(owner, key.viewer, key.week)
            .map_err(|e| Problem::bad_request(e.to_string()))?;
        for &i in chunk {
            let member = &key.members[i];
            viewed[i] = member.dated().view(&member.week(), &plan);
            tally.add(&viewed[i]);
            if exact {
                runs[i] = member.dated().runs(&member.week(), &plan);
            }
            if page_wanted {
                booked.max_with(&member.dated().booked(&plan));
            }
        }
    }
    let ids: Vec<&str> = key.members.iter().map(|c| c.id()).collect();
    let header = GroupHeader {
        calendars: &ids,
        timezone: key.viewer.name(),
        week: key.week,
    };
    Ok(match key.format {
        Format::Csv => render::group_csv(&tally.available_counts(), ids.len()),
        Format::View => render::group_view(&header, &tally.everyone()),
        Format::Intervals => {
            let spans = spans(app, key, &tally, &viewed, &ids)?;
            render::group_intervals(&header, key.min, &spans)
        }
        Format::Ics => {
            let spans: Vec<Vec<(i64, i64)>> = key
                .members
                .iter()
                .map(|m| freebusy::booked(m, key.week))
                .collect();
            let owners: Vec<freebusy::Owner<'_>> = runs
                .iter()
                .zip(&spans)
                .map(|(runs, booked)| freebusy::Owner { runs, booked })
                .collect();
            let periods = freebusy::periods(&owners);
            // The same members, zone and week have the same UID, whatever the group's name.
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            ids.hash(&mut hasher);
            let uid = format!(
                "freebusy-{:016x}-{}-{}@availability",
                hasher.finish(),
                key.week,
                key.viewer.name().replace('/', "-")
            );
            let about = freebusy::About {
                uid: &uid,
                stamp: key
                    .members
                    .iter()
                    .map(|c| c.changed_at_unix_ms().div_euclid(1000))
                    .max()
                    .unwrap_or(0),
                name: &ids.join(","),
            };
            freebusy::render(&about, &periods)
        }
        Format::Page { now, of } => {
            let mut zones: Vec<Zone> = Vec::new();
            for member in key.members {
                let zone = Zone::new(member.zone())
                    .map_err(|e| Problem::internal("reading an owner's zone", e))?;
                if !zones.contains(&zone) {
                    zones.push(zone);
                }
            }
            let info = page::Page {
                kind: "group",
                id: page.unwrap_or(""),
                viewer: key.viewer,
                zone_given: of & 1 == 1,
                week: key.week,
                owner_zones: zones,
                version: key.members.iter().map(|m| m.version()).sum(),
                etag: Tag::of_members(key.members.iter().map(|m| (m.id(), m.state())))
                    .as_str()
                    .to_owned(),
                now: page::Now { slot: now },
                book: Vec::new(),
            };
            let members = page::Members {
                ids: &ids,
                viewed: &viewed,
                available: &tally.available_counts(),
                everyone: &tally.everyone(),
                booked: &booked,
            };
            page::group(&info, &members)
        }
        Format::Json | Format::Slot(_) | Format::Pattern | Format::Slots { .. } => {
            let (available, maybe) = tally.counts();
            render::group_json(&header, &available, &maybe, &tally.everyone())
        }
    })
}

/// The maximal runs of the viewer's week where at least `min` members are available, cut
/// where the count (or, for groups of at most 50, who is available) changes, with the real
/// instants of their ends.
fn spans<'a>(
    app: &App,
    key: &GroupKey<'_>,
    tally: &Tally,
    viewed: &[Week],
    ids: &[&'a str],
) -> Result<Vec<GroupSpan<'a>>> {
    let available = tally.available_counts();
    let named = ids.len() <= NAMED;
    // Who is available in each slot, as a bit per member (at most 50 of them).
    let who: Vec<u64> = if named {
        (0..SLOTS)
            .map(|i| {
                let slot = Slot::from_index(i);
                viewed.iter().enumerate().fold(0u64, |mask, (m, week)| {
                    let free = slot.is_some_and(|s| week.status(s) == Status::Available);
                    mask | (u64::from(free) << m)
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let same = |a: usize, b: usize| available[a] == available[b] && (!named || who[a] == who[b]);
    // The viewer's own plan maps each of its slots to itself: its intervals give the real
    // instants of a run of slots, gaps and folds included.
    let own = app.plan(key.viewer, key.viewer, key.week)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < SLOTS {
        if available[i] < key.min {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < SLOTS && available[i + 1] >= key.min && same(start, i + 1) {
            i += 1;
        }
        let mut run = Week::UNAVAILABLE;
        for s in (start..=i).filter_map(Slot::from_index) {
            run.set(s, Status::Available);
        }
        let exact = own.intervals(&run);
        if let (Some(first), Some(last)) = (exact.first(), exact.last()) {
            out.push(GroupSpan {
                start: first.start.to_string(),
                end: last.end.to_string(),
                available: available[start],
                calendars: named.then(|| {
                    (0..ids.len())
                        .filter(|m| who[start] >> m & 1 == 1)
                        .map(|m| ids[m])
                        .collect()
                }),
            });
        }
        i += 1;
    }
    Ok(out)
}
