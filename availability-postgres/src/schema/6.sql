-- Version 6: a change of a calendar's dated rows alone (its own row changed only in its
-- version and next booking id) names the rows it wrote: the bookings, by id, and the override
-- days it made, moved or removed. A server whose copy of the calendar shows every version
-- before such changes applies them from those rows, instead of reading every row of the
-- calendar again. Any other change leaves both empty (NULL): it is read whole.
ALTER TABLE changes
    ADD COLUMN bookings bigint[],
    ADD COLUMN days date[],
    ADD CONSTRAINT changes_dated_whole CHECK ((bookings IS NULL) = (days IS NULL));
