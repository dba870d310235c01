/*
 * violation_fate.cpp
 *    The rules for a violation's fate (see violation_fate.h).
 */
#include "capture/violation_fate.h"

#include <cstring>

namespace fkg {

bool
is_final(const Fate &f) noexcept
{
	return f.emitted || f.closed;
}

bool
is_recorded(const Fate &f) noexcept
{
	return f.recorded;
}

bool
written_as_handled(const Fate &f) noexcept
{
	return f.caught && !f.emitted;
}

uint64_t
FateBook::frame_starts() noexcept
{
	return ++clock_;
}

void
FateBook::raised(FateList entries, int index, int nest_level) noexcept
{
	if (index >= 0)
		entries[index].nest_level = nest_level;
	in_flight_ = index;
}

void
FateBook::subtransaction_aborts(FateList entries, int level) noexcept
{
	/* One catch: one tick for all it catches. */
	bool ticked = false;
	for (int i = 0; i < entries.count(); i++) {
		Fate &f = entries[i];
		if (f.nest_level >= level && !f.emitted && !f.caught) {
			if (!ticked)
				clock_++;
			ticked = true;
			f.caught = true;
			f.caught_at = clock_;
			newest_open_catch_ = clock_;
		}
	}
	in_flight_ = kNoEntry;
}

void
FateBook::frame_returns(FateList entries, uint64_t started) noexcept
{
	if (newest_open_catch_ <= started)
		return;
	newest_open_catch_ = 0;
	for (int i = 0; i < entries.count(); i++) {
		Fate &f = entries[i];
		if (!reraisable(f))
			continue;
		if (f.caught_at > started) {
			f.closed = true;
			final_entries_++;
		} else if (f.caught_at > newest_open_catch_)
			newest_open_catch_ = f.caught_at;
	}
}

void
FateBook::reaches_client(FateList entries, int index) noexcept
{
	in_flight_ = kNoEntry;
	if (index < 0)
		return;
	Fate &f = entries[index];
	if (!f.emitted)
		final_entries_++;
	f.emitted = true;
	f.caught = false;
}

void
FateBook::finals_removed() noexcept
{
	final_entries_ = 0;
	in_flight_ = kNoEntry;
}

/* Whether a violation must wait past the end of its transaction: the
 * transaction ends inside a procedure (COMMIT or ROLLBACK in PL/pgSQL, the
 * procedure's Frame still live) while the violation may still be re-raised
 * (caught, its handler not over) or is still propagating (a deferred check
 * failing at that COMMIT, which PostgreSQL re-throws once the next
 * transaction has started). */
bool
FateBook::outlives_transaction(const Fate &f, int index, bool frames_live) const noexcept
{
	return frames_live && !f.emitted && !f.closed && (f.caught || index == in_flight_);
}

int
FateBook::transaction_ends(FateList entries, bool committed, bool frames_live) noexcept
{
	/* The oldest entry that may wait: the newest kMaxCarried eligible ones. */
	int first_carried = entries.count();
	for (int i = entries.count() - 1, eligible = 0; i >= 0 && eligible < kMaxCarried; i--)
		if (outlives_transaction(entries[i], i, frames_live)) {
			first_carried = i;
			eligible++;
		}
	int carried_in_flight = kNoEntry, kept = 0;
	for (int i = 0; i < entries.count(); i++) {
		Fate &f = entries[i];
		if (outlives_transaction(f, i, frames_live) && (i >= first_carried || i == in_flight_)) {
			if (i == in_flight_)
				carried_in_flight = kept;
			kept++;
			continue;
		}
		/* Committed: whatever did not reach the client was swallowed. */
		if (committed)
			f.caught = true;
		f.recorded = true;
	}
	if (kept == 0)
		newest_open_catch_ = 0;
	final_entries_ = 0;
	/* Its index once the recorded ones are removed. */
	in_flight_ = carried_in_flight;
	return kept;
}

void
BeyondBudget::raised(const ViolationEvent &e) noexcept
{
	for (int i = 0; i < used_; i++) {
		const ViolationEvent &b = counted_[i].event;
		if (strcmp(b.constraint_name, e.constraint_name) == 0 && strcmp(b.schema_name, e.schema_name) == 0 &&
		    strcmp(b.table_name, e.table_name) == 0) {
			counted_[i].count++;
			in_flight_counted_ = true;
			in_flight_ = i;
			return;
		}
	}
	if (used_ == kConstraints) {
		lost_++;
		in_flight_counted_ = false;
		return;
	}
	Counted &c = counted_[used_];
	c.event = e;
	c.count = 1;
	c.emitted = 0;
	in_flight_counted_ = true;
	in_flight_ = used_++;
}

void
BeyondBudget::reaches_client() noexcept
{
	if (in_flight_counted_)
		counted_[in_flight_].emitted++;
}

int64_t
BeyondBudget::handled(int i, bool committed) const noexcept
{
	return committed ? counted_[i].count : counted_[i].count - counted_[i].emitted;
}

void
BeyondBudget::clear() noexcept
{
	used_ = 0;
	lost_ = 0;
	in_flight_counted_ = false;
}

} // namespace fkg
