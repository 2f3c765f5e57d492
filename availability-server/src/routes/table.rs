//! The route table: every path the server answers, its methods and, for a browser asking
//! for HTML, its page.

use http::Method;

use super::path::Route;
use super::path::Seg::{Lit, Param};
use super::{
    admin, availability, backup, bookings, calendars, group_bookings, group_types, groups, history,
    keys, live, overlap, overrides, pages, service, slots, types, webhooks,
};
use crate::ctx::{Action, Ctx, Waiting};
use crate::wire::body::RequestBody;

/// The API. `/availability[/...]` is `/calendars/default/availability[/...]`, the paths of
/// earlier servers.
pub(super) static ROUTES: &[Route] = &[
    // The start page: open a calendar or a group (anyone).
    Route {
        name: "start",
        pattern: &[Lit("")],
        methods: &[(Method::GET, Action::Now(pages::start))],
        page: None,
    },
    // The pages' script and style (anyone).
    Route {
        name: "static",
        pattern: &[Lit("static"), Param("file")],
        methods: &[(Method::GET, Action::Now(pages::asset))],
        page: None,
    },
    // Liveness: answers as long as the server accepts requests.
    Route {
        name: "healthz",
        pattern: &[Lit("healthz")],
        methods: &[(Method::GET, Action::Now(service::healthz))],
        page: None,
    },
    // Readiness: answers 200 while the server can do its work.
    Route {
        name: "readyz",
        pattern: &[Lit("readyz")],
        methods: &[(Method::GET, Action::Now(service::readyz))],
        page: None,
    },
    // Prometheus metrics: admin key, or anyone when configured public.
    Route {
        name: "metrics",
        pattern: &[Lit("metrics")],
        methods: &[(Method::GET, wait!(service::metrics))],
        page: None,
    },
    // The OpenAPI document of this table (anyone).
    Route {
        name: "openapi",
        pattern: &[Lit("openapi.json")],
        methods: &[(Method::GET, Action::Now(service::openapi))],
        page: None,
    },
    // The calendars: list a page at a time (admin), create (admin).
    Route {
        name: "calendars",
        pattern: &[Lit("calendars")],
        methods: &[
            (Method::GET, wait!(calendars::list)),
            (Method::POST, wait!(calendars::create)),
        ],
        page: None,
    },
    // Calendars created together, all or none (admin).
    Route {
        name: "calendars-batch",
        pattern: &[Lit("calendars:batch")],
        methods: &[(Method::POST, wait!(calendars::batch))],
        page: None,
    },
    // One calendar: read (anyone), change its zone or booking policy (its key), delete (admin).
    Route {
        name: "calendar",
        pattern: &[Lit("calendars"), Param("id")],
        methods: &[
            (Method::GET, Action::Now(calendars::get)),
            (Method::PATCH, wait!(calendars::patch)),
            (Method::DELETE, wait!(calendars::delete)),
        ],
        // To a browser asking for HTML: the week as a page for people.
        page: Some(Action::Now(availability::read_page)),
    },
    // A calendar's changes as they happen, as Server-Sent Events (anyone).
    Route {
        name: "calendar_events",
        pattern: &[Lit("calendars"), Param("id"), Lit("events")],
        methods: &[(Method::GET, Action::Now(live::calendar))],
        page: None,
    },
    // A calendar's week: read in any zone and format (anyone), edit or replace (its key).
    Route {
        name: "availability",
        pattern: &[Lit("calendars"), Param("id"), Lit("availability")],
        methods: &[
            (Method::GET, Action::Now(availability::read_week)),
            (Method::PATCH, wait!(availability::patch)),
            (Method::PUT, wait!(availability::put)),
        ],
        page: None,
    },
    // The versions of the week kept, newest first (its key).
    Route {
        name: "history",
        pattern: &[Lit("calendars"), Param("id"), Lit("history")],
        methods: &[(Method::GET, wait!(history::list))],
        page: None,
    },
    // An old version of the week made current again, as a new version (its key).
    Route {
        name: "restore",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("availability"),
            Lit("restore"),
        ],
        methods: &[(Method::POST, wait!(history::restore))],
        page: None,
    },
    // The recurring pattern as an iCalendar VAVAILABILITY in the owner's zone (anyone).
    Route {
        name: "availability_ics",
        pattern: &[Lit("calendars"), Param("id"), Lit("availability.ics")],
        methods: &[(Method::GET, Action::Now(availability::read_pattern))],
        page: None,
    },
    // One slot of a view (anyone).
    Route {
        name: "slot",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("availability"),
            Lit("slot"),
        ],
        methods: &[(Method::GET, Action::Now(availability::read_slot))],
        page: None,
    },
    // The week as CSV, for clients of earlier servers that used this path (anyone).
    Route {
        name: "csv",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("availability"),
            Lit("csv"),
        ],
        methods: &[(Method::GET, Action::Now(availability::read_csv))],
        page: None,
    },
    // A consistent copy of the store file, streamed while the server goes on (admin).
    Route {
        name: "admin_backup",
        pattern: &[Lit("admin"), Lit("backup")],
        methods: &[(Method::GET, wait!(backup::backup))],
        page: None,
    },
    // The admin keys: listed without their secrets, or a new one shown once (admin).
    Route {
        name: "admin_keys",
        pattern: &[Lit("admin"), Lit("keys")],
        methods: &[
            (Method::GET, wait!(admin::list)),
            (Method::POST, wait!(admin::create)),
        ],
        page: None,
    },
    // Revoke an admin key, never the last one (admin).
    Route {
        name: "admin_key",
        pattern: &[Lit("admin"), Lit("keys"), Param("key_id")],
        methods: &[(Method::DELETE, wait!(admin::delete))],
        page: None,
    },
    // A calendar's keys: listed without their secrets, or a new one shown once (its key or
    // admin).
    Route {
        name: "keys",
        pattern: &[Lit("calendars"), Param("id"), Lit("keys")],
        methods: &[
            (Method::GET, wait!(keys::list)),
            (Method::POST, wait!(keys::create)),
        ],
        page: None,
    },
    // Revoke a key (its calendar's key or admin).
    Route {
        name: "key",
        pattern: &[Lit("calendars"), Param("id"), Lit("keys"), Param("key_id")],
        methods: &[(Method::DELETE, wait!(keys::delete))],
        page: None,
    },
    // A calendar's overrides of owner dates (anyone).
    Route {
        name: "overrides",
        pattern: &[Lit("calendars"), Param("id"), Lit("overrides")],
        methods: &[(Method::GET, Action::Now(overrides::list))],
        page: None,
    },
    // One owner date's slots in place of the pattern (its key).
    Route {
        name: "override",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("overrides"),
            Param("date"),
        ],
        methods: &[
            (Method::PUT, wait!(overrides::put)),
            (Method::DELETE, wait!(overrides::delete)),
        ],
        page: None,
    },
    // Webhook endpoints: made and listed (admin, or a calendar's write key for its own).
    Route {
        name: "webhooks",
        pattern: &[Lit("webhooks")],
        methods: &[
            (Method::GET, wait!(webhooks::list)),
            (Method::POST, wait!(webhooks::create)),
        ],
        page: None,
    },
    // One webhook endpoint: removed (admin, or its calendar's write key).
    Route {
        name: "webhook",
        pattern: &[Lit("webhooks"), Param("id")],
        methods: &[(Method::DELETE, wait!(webhooks::delete))],
        page: None,
    },
    // A webhook endpoint's last attempts.
    Route {
        name: "webhook_deliveries",
        pattern: &[Lit("webhooks"), Param("id"), Lit("deliveries")],
        methods: &[(Method::GET, wait!(webhooks::deliveries))],
        page: None,
    },
    // A test event sent to a webhook endpoint now.
    Route {
        name: "webhook_test",
        pattern: &[Lit("webhooks"), Param("id"), Lit("test")],
        methods: &[(Method::POST, wait!(webhooks::test))],
        page: None,
    },
    // The named groups, a page at a time (admin: a listing shows every member calendar).
    Route {
        name: "groups",
        pattern: &[Lit("groups")],
        methods: &[(Method::GET, wait!(groups::list))],
        page: None,
    },
    // A named group of calendars: read (anyone), define and remove (admin).
    Route {
        name: "group",
        pattern: &[Lit("groups"), Param("id")],
        methods: &[
            (Method::GET, Action::Now(groups::get)),
            (Method::PUT, wait!(groups::put)),
            (Method::DELETE, wait!(groups::delete)),
        ],
        // To a browser asking for HTML: the group's week as a page for people.
        page: Some(Action::Now(overlap::group_page)),
    },
    // A group's changes as they happen, as Server-Sent Events (anyone).
    Route {
        name: "group_events",
        pattern: &[Lit("groups"), Param("id"), Lit("events")],
        methods: &[(Method::GET, Action::Now(live::group))],
        page: None,
    },
    // When all of a group's members are free (anyone).
    Route {
        name: "group_availability",
        pattern: &[Lit("groups"), Param("id"), Lit("availability")],
        methods: &[(Method::GET, Action::Now(overlap::group))],
        page: None,
    },
    // A group's booking types (anyone).
    Route {
        name: "group_booking_types",
        pattern: &[Lit("groups"), Param("id"), Lit("booking-types")],
        methods: &[(Method::GET, Action::Now(group_types::list))],
        page: None,
    },
    // One group booking type: read (anyone), define and remove (admin).
    Route {
        name: "group_booking_type",
        pattern: &[
            Lit("groups"),
            Param("id"),
            Lit("booking-types"),
            Param("name"),
        ],
        methods: &[
            (Method::GET, Action::Now(group_types::get)),
            (Method::PUT, wait!(group_types::put)),
            (Method::DELETE, wait!(group_types::delete)),
        ],
        page: None,
    },
    // The starts a group type offers: every member free, or any one (anyone).
    Route {
        name: "group_slots",
        pattern: &[Lit("groups"), Param("id"), Lit("slots")],
        methods: &[(Method::GET, Action::Now(group_types::read))],
        page: None,
    },
    // A group's bookings: list (admin), book every member or the fairest one (admin, or
    // anyone when every member claimed takes bookings from anyone).
    Route {
        name: "group_bookings",
        pattern: &[Lit("groups"), Param("id"), Lit("bookings")],
        methods: &[
            (Method::GET, wait!(group_bookings::list)),
            (Method::POST, wait!(group_bookings::create)),
        ],
        page: None,
    },
    // One group booking: read, move and cancel as one (admin).
    Route {
        name: "group_booking",
        pattern: &[
            Lit("groups"),
            Param("id"),
            Lit("bookings"),
            Param("booking_id"),
        ],
        methods: &[
            (Method::GET, wait!(group_bookings::get)),
            (Method::PATCH, wait!(group_bookings::reschedule)),
            (Method::DELETE, wait!(group_bookings::delete)),
        ],
        page: None,
    },
    // A calendar's bookings: list (its write key), claim a span (its key of either scope,
    // or anyone when its booking is public).
    Route {
        name: "bookings",
        pattern: &[Lit("calendars"), Param("id"), Lit("bookings")],
        methods: &[
            (Method::GET, wait!(bookings::list)),
            (Method::POST, wait!(bookings::create)),
        ],
        page: None,
    },
    // Move a booking, or cancel it (its write key, or the book key that made it).
    Route {
        name: "booking",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("bookings"),
            Param("booking_id"),
        ],
        methods: &[
            (Method::PATCH, wait!(bookings::reschedule)),
            (Method::DELETE, wait!(bookings::delete)),
        ],
        page: None,
    },
    // A calendar's booking types (anyone).
    Route {
        name: "booking_types",
        pattern: &[Lit("calendars"), Param("id"), Lit("booking-types")],
        methods: &[(Method::GET, Action::Now(types::list))],
        page: None,
    },
    // One booking type: read (anyone), define and remove (its write key or admin).
    Route {
        name: "booking_type",
        pattern: &[
            Lit("calendars"),
            Param("id"),
            Lit("booking-types"),
            Param("name"),
        ],
        methods: &[
            (Method::GET, Action::Now(types::get)),
            (Method::PUT, wait!(types::put)),
            (Method::DELETE, wait!(types::delete)),
        ],
        page: None,
    },
    // The starts a booking type offers, in the viewer's zone (anyone).
    Route {
        name: "slots",
        pattern: &[Lit("calendars"), Param("id"), Lit("slots")],
        methods: &[(Method::GET, Action::Now(slots::read))],
        // To a browser asking for HTML: the starts as a page that books them.
        page: Some(Action::Now(slots::page)),
    },
    // When is everyone free: up to 1,000 calendars in the query, or in a body (anyone).
    Route {
        name: "overlap",
        pattern: &[Lit("overlap")],
        methods: &[
            (Method::GET, Action::Now(overlap::get)),
            (Method::POST, Action::Ask(boxed!(overlap::post))),
        ],
        page: None,
    },
];
