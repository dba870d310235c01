/*
 * violation_pending.h
 *    The violations of the current transaction that wait until it is known
 *    whether server-side code swallowed them (handled) or they reached the
 *    client.  A store only: what becomes of an entry is decided by the rules
 *    of violation_fate.h, on the Fate each entry holds; when entries are added
 *    and written out is violation_capture.cpp's business.
 *
 * Adding an entry happens while PostgreSQL raises the error, where nothing may
 * allocate: room for it is reserved beforehand, at safe points
 * (pending_reserve, from statement starts), up to a fixed budget of
 * the budget below.  Past it pending_add refuses, and the caller only counts
 * the violation.
 */
#ifndef FK_GUARD_VIOLATION_PENDING_H
#define FK_GUARD_VIOLATION_PENDING_H

#include "capture/violation_event.h"
#include "capture/violation_fate.h"

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
}

namespace fkg {

/* The budget: this many violations (48 bytes each), their keys taking at
 * most kMaxPendingKeyBytes; what they share is kept once, in at most 1024
 * distinct groups of names and descriptions (2.4 kB each) and 1024 distinct
 * statement texts.  About 16 MB per backend at the very most. */
constexpr int kMaxPendingViolations = 100000;
constexpr Size kMaxPendingKeyBytes = 4 * 1024 * 1024;

/* A waiting violation: what differs from one to the next (when, its key, its
 * fate); the rest (names, message, description, query) is shared by a run of
 * violations and kept once per distinct value. */
struct PendingViolation {
	TimestampTz ts;
	Oid userid;
	Side side;
	Operation operation;
	bool deferred;
	Fate fate;     /* what became of it so far (violation_fate.h) */
	int group;     /* its shared part */
	int statement; /* the statement it was raised in (pool index), or -1 */
	uint32 key_at; /* its key in the key pool, NUL-terminated */
};

/* Safe point (catalog access allowed, memory may be allocated): makes room for
 * the violations the next steps may add without allocating. */
void pending_reserve();

/* Adds a violation described by e, its error's message and the text of the
 * statement it was raised in (nullptr: unknown); nullptr past the budget or
 * when no room was reserved.  Never allocates. */
PendingViolation *pending_add(const ViolationEvent &e, const char *message, const char *statement);

/* Whether text (an error's CONTEXT) quotes the statement p was raised in. */
bool pending_statement_in(const PendingViolation &p, const char *text);

/* Whether p is the violation of event e with this message (the same
 * constraint, table, key and text): how a re-raised error is recognised. */
bool pending_matches(const PendingViolation &p, const ViolationEvent &e, const char *message);

int pending_count();
PendingViolation &pending_at(int i);

/* The entries' fates, in the entries' order, for the rules of violation_fate.h. */
FateList pending_fates();

/* The whole event of entry p, as violation_store_record and the log take it
 * (all but database_name, which is the backend's). */
void pending_expand(const PendingViolation &p, ViolationEvent *out);

/* Removes the entries for which done(their fate) is true, keeping the others in order. */
void pending_remove_if(bool (*done)(const Fate &));

/* Empties the store and gives back its memory. */
void pending_clear();

/* Gives back what entries removed since the last clear took (groups, texts,
 * keys no entry uses any more); the entries keep their order.  Allocates: at
 * safe points only (statement starts), never in a transaction callback.
 * Short of memory, the store stays as it was. */
void pending_compact();

/* True when the shared parts are close to their limits: time to compact. */
bool pending_crowded();

} // namespace fkg

#endif /* FK_GUARD_VIOLATION_PENDING_H */
