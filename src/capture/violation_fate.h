/*
 * violation_fate.h
 *    The rules that decide what becomes of each violation a transaction
 *    raises: caught by a subtransaction rollback, re-raised, final once the
 *    handler that caught it is over, reaching the client, settled as the
 *    transaction ends.  Pure C++ (no PostgreSQL calls, no allocation): the
 *    hooks of violation_capture.cpp report what happens, the store
 *    (violation_pending) keeps the entries, and test/unit/violation_fate_test.cpp
 *    plays the rules through without a server.
 *
 * The rules:
 *   - A subtransaction rollback catches the violations raised at its nesting
 *     level or deeper that did not reach the client: swallowed, unless
 *     re-raised.  A subtransaction commit changes nothing: its violations keep
 *     their (deeper) level, so the rollback of an enclosing subtransaction
 *     catches them too.
 *   - A caught violation can only be re-raised by the handler that caught it,
 *     which runs inside every Frame (executor or utility call) that was live
 *     when it caught it.  Once a Frame that started before the catch returns
 *     normally, the violation is final (closed: handled).
 *   - An error reaching the client is the violation in flight when its text
 *     matches; else, when it carries a CONTEXT, a re-raise: the newest caught,
 *     not yet final violation of the same text raised in the statement that
 *     CONTEXT quotes, else the newest one of that text.  Else it is a
 *     violation no Frame saw (a deferred check as a top-level transaction
 *     ends), which the caller adds.  Reaching the client makes it final (not
 *     handled).
 *   - As the transaction ends every violation is written out: handled when it
 *     did not reach the client and the transaction commits, or was caught
 *     (and not re-raised) and it aborts.  Except, when the transaction ends
 *     inside a procedure (Frames still live), the newest kMaxCarried
 *     violations a handler may still re-raise and the one still propagating:
 *     they wait for the next transaction.
 *   - Violations past the store's budget are only counted, per constraint;
 *     as the transaction ends they count as handled when it commits, else
 *     unless they reached the client.
 *
 * Every function here runs on error paths or in transaction callbacks:
 * none allocates, none throws.
 */
#ifndef FK_GUARD_VIOLATION_FATE_H
#define FK_GUARD_VIOLATION_FATE_H

#include "capture/violation_event.h"

#include <cstddef>
#include <cstdint>

namespace fkg {

/* What is known of one waiting violation's fate.  All false/0 when added. */
struct Fate {
	bool emitted;       /* reached the client */
	bool caught;        /* rolled back by a subtransaction: swallowed, unless re-raised */
	bool closed;        /* caught, and the handler that caught it is over: final */
	bool recorded;      /* to be written out as the transaction ends, then removed */
	int nest_level;     /* transaction nesting level when it was raised */
	uint64_t caught_at; /* the fate clock when it was caught */
};

/* The fates of the waiting violations, oldest first, wherever the store keeps
 * them: count of them, stride bytes apart (a Fate inside each entry). */
class FateList
{
public:
	FateList(Fate *first, int count, size_t stride = sizeof(Fate)) noexcept
		: first_(reinterpret_cast<char *>(first)), count_(count), stride_(stride)
	{}
	int
	count() const noexcept
	{
		return count_;
	}
	Fate &
	operator[](int i) const noexcept
	{
		return *reinterpret_cast<Fate *>(first_ + stride_ * static_cast<size_t>(i));
	}

private:
	char *first_;
	int count_;
	size_t stride_;
};

/* Entry indexes that are no entry: none, or a violation past the store's
 * budget (only counted). */
constexpr int kNoEntry = -1;
constexpr int kBeyondBudget = -2;

/* At most this many caught violations wait past a transaction end inside a
 * procedure, the newest: a handler that commits and then re-raises a
 * violation older than that many others is counted twice (README). */
constexpr int kMaxCarried = 64;

/* Its fate is known (reached the client, or swallowed for good): written out
 * at the next safe point. */
bool is_final(const Fate &f) noexcept;

/* Marked to be written out as the transaction ends. */
bool is_recorded(const Fate &f) noexcept;

/* Whether it is written out as handled (swallowed by server-side code). */
bool written_as_handled(const Fate &f) noexcept;

/*
 * A backend's book of fates: what is known beyond each entry.  The caller
 * reports each event in the order it happens; entries are passed as a
 * FateList, and their indexes are the store's.
 */
class FateBook
{
public:
	/* A Frame starts: its place on the clock, for frame_returns. */
	uint64_t frame_starts() noexcept;

	/* A fresh violation was added as entries[index] at this transaction
	 * nesting level, or, index kBeyondBudget, only counted.  It is in flight. */
	void raised(FateList entries, int index, int nest_level) noexcept;

	/* The entry of the error now propagating, or kNoEntry / kBeyondBudget. */
	int
	in_flight() const noexcept
	{
		return in_flight_;
	}

	/* The subtransaction at nesting level level rolls back. */
	void subtransaction_aborts(FateList entries, int level) noexcept;

	/* A Frame that started at started (frame_starts) returns normally: the
	 * violations caught since then are final. */
	void frame_returns(FateList entries, uint64_t started) noexcept;

	/* Which entry an error reaching the client is: the one in flight, if
	 * same(i) (same constraint, table, key and message); else, when the error
	 * has a CONTEXT, the re-raised one (reraised); else kNoEntry. */
	template <typename Same, typename Quoted>
	int identify(FateList entries, bool has_context, Same &&same, Quoted &&quoted) const noexcept;

	/* The caught, not yet final entry that a handler re-raises: the newest
	 * one with same(i) whose statement quoted(i) (the error's CONTEXT quotes
	 * it), else the newest one with same(i); kNoEntry when none. */
	template <typename Same, typename Quoted>
	int reraised(FateList entries, Same &&same, Quoted &&quoted) const noexcept;

	/* The error entries[index] (identify, or a fresh one raised just before)
	 * reached the client; index may be kNoEntry or kBeyondBudget.  Nothing is
	 * in flight any more. */
	void reaches_client(FateList entries, int index) noexcept;

	/* Some entries are final: write them out at the next safe point. */
	bool
	finals_waiting() const noexcept
	{
		return final_entries_ > 0;
	}

	/* The final entries were written out and removed (is_final). */
	void finals_removed() noexcept;

	/* The transaction ends (committed: commit or prepare).  Marks recorded
	 * every entry to write out now and sets what it is written as; the
	 * others wait (frames_live: it ends inside a procedure).  The caller
	 * writes the recorded entries out and removes them (is_recorded) before
	 * anything else happens.  Returns how many wait. */
	int transaction_ends(FateList entries, bool committed, bool frames_live) noexcept;

private:
	bool outlives_transaction(const Fate &f, int index, bool frames_live) const noexcept;

	uint64_t clock_ = 0;             /* ticks at every Frame start and every catch: orders them */
	uint64_t newest_open_catch_ = 0; /* the newest catch of a violation not yet final; 0 when none */
	int in_flight_ = kNoEntry;
	int final_entries_ = 0; /* entries known final, waiting for a safe point */
};

/* The violations of a transaction past the store's budget: counted per
 * constraint (the first kConstraints distinct ones), not listed.  Large:
 * keep one zero-initialized (a global, or value-initialized), which is empty,
 * and takes no room in the module's data. */
class BeyondBudget
{
public:
	static constexpr int kConstraints = 64;

	/* One more past the budget (FateBook::raised with kBeyondBudget): the one in flight. */
	void raised(const ViolationEvent &e) noexcept;
	/* The one in flight reached the client (FateBook::in_flight() was kBeyondBudget). */
	void reaches_client() noexcept;

	bool
	any() const noexcept
	{
		return used_ > 0 || lost_ > 0;
	}
	/* The constraints counted, each described by its first violation. */
	int
	constraints() const noexcept
	{
		return used_;
	}
	ViolationEvent &
	event(int i) noexcept
	{
		return counted_[i].event;
	}
	int64_t
	count(int i) const noexcept
	{
		return counted_[i].count;
	}
	/* How many of constraint i's count as handled as the transaction ends. */
	int64_t handled(int i, bool committed) const noexcept;
	/* Past kConstraints distinct constraints: only this total. */
	int64_t
	lost() const noexcept
	{
		return lost_;
	}
	/* Counted out as the transaction ends: start again. */
	void clear() noexcept;

private:
	struct Counted {
		ViolationEvent event;
		int64_t count;
		int64_t emitted;
	};
	Counted counted_[kConstraints];
	int used_;
	int64_t lost_;
	bool in_flight_counted_; /* one is in flight, in slot in_flight_ */
	int in_flight_;
};

/* Not yet final, caught: what a handler may still re-raise. */
inline bool
reraisable(const Fate &f) noexcept
{
	return f.caught && !f.emitted && !f.closed;
}

template <typename Same, typename Quoted>
int
FateBook::reraised(FateList entries, Same &&same, Quoted &&quoted) const noexcept
{
	/* Two statements can raise violations of the same text. */
	int newest = kNoEntry;
	for (int i = entries.count() - 1; i >= 0; i--) {
		if (!reraisable(entries[i]) || !same(i))
			continue;
		if (quoted(i))
			return i;
		if (newest == kNoEntry)
			newest = i;
	}
	return newest;
}

template <typename Same, typename Quoted>
int
FateBook::identify(FateList entries, bool has_context, Same &&same, Quoted &&quoted) const noexcept
{
	if (in_flight_ >= 0 && same(in_flight_))
		return in_flight_;
	/* A re-raise carries the CONTEXT of the code that caught it; a deferred
	 * check failing as a top-level transaction ends has none. */
	if (has_context)
		return reraised(entries, same, quoted);
	return kNoEntry;
}

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_FATE_H */
