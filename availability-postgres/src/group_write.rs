//! Group booking types and group bookings in the database.

use std::sync::Arc;

use availability_core::store::group_book::{GroupBooking, GroupRequest};
use availability_core::store::{Authority, Group, GroupType};
use availability_core::{BackendError, Error};

use crate::Database;

#[cold]
fn not_yet() -> Error {
    Error::of_backend(
        BackendError::Unavailable,
        "group booking types and group bookings are not kept in the database yet",
    )
}

impl Database {
    /// Sets or removes a group's booking type ([`availability_core::store::Store::put_group_type`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn put_group_type(
        &self,
        _id: &str,
        _name: &str,
        _ty: Option<GroupType>,
        _by: &Authority,
    ) -> Result<Arc<Group>, Error> {
        Err(not_yet())
    }

    /// Books a group ([`availability_core::store::Store::group_book`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn group_book(
        &self,
        _id: &str,
        _request: &GroupRequest<'_>,
        _by: &Authority,
    ) -> Result<GroupBooking, Error> {
        Err(not_yet())
    }

    /// Cancels a group booking ([`availability_core::store::Store::group_cancel`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn group_cancel(
        &self,
        _id: &str,
        _booking: u64,
        _by: &Authority,
    ) -> Result<GroupBooking, Error> {
        Err(not_yet())
    }

    /// Moves a group booking ([`availability_core::store::Store::group_reschedule`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn group_reschedule(
        &self,
        _id: &str,
        _booking: u64,
        _start: i64,
        _by: &Authority,
    ) -> Result<GroupBooking, Error> {
        Err(not_yet())
    }
}
