/*
 * violation_fate_test.cpp
 *    The rules for a violation's fate (src/capture/violation_fate.cpp), played
 *    through as the hooks of violation_capture.cpp report events: Frames
 *    starting and returning, subtransactions rolling back, errors reaching
 *    the client, transactions ending.  The hooks themselves are tested by the
 *    cluster tests under test/t/ (010_violation_paths.pl, 016_capture_fidelity.pl).
 */
#include "capture/violation_fate.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using fkg::Fate;
using fkg::FateBook;
using fkg::FateList;
using fkg::kBeyondBudget;
using fkg::kMaxCarried;
using fkg::kNoEntry;

/* A backend as the hooks see it: the store (each entry's fate, the text of
 * its error and the statement it was raised in), the book, and the
 * transaction nesting level. */
class Backend : public ::testing::Test
{
protected:
	struct Entry {
		std::string text;      /* stands for constraint, table, key and message */
		std::string statement; /* the statement it was raised in */
		Fate fate;
	};
	std::vector<Entry> store;
	FateBook book;
	int level = 1;

	FateList
	fates()
	{
		return FateList(store.empty() ? nullptr : &store[0].fate, static_cast<int>(store.size()), sizeof(Entry));
	}
	const Fate &
	fate(int i)
	{
		return store.at(static_cast<size_t>(i)).fate;
	}

	/* A Frame raises a fresh violation (error_raised): its entry's index. */
	int
	raise(const std::string &text, const std::string &statement = "")
	{
		store.push_back(Entry{text, statement, Fate{}});
		int index = static_cast<int>(store.size()) - 1;
		book.raised(fates(), index, level);
		return index;
	}

	void
	begin_subtransaction()
	{
		level++;
	}
	void
	abort_subtransaction()
	{
		book.subtransaction_aborts(fates(), level);
		level--;
	}
	void
	commit_subtransaction()
	{
		/* violation_capture.cpp's subtransaction callback ignores commits. */
		level--;
	}

	/* An error with this text reaches the client (emit_log_hook): the entry it
	 * is, as violation_capture.cpp finds it (a fresh one added when none). */
	int
	reach_client(const std::string &text, const char *context)
	{
		int index = book.identify(
			fates(), context != nullptr, [&](int i) { return store.at(static_cast<size_t>(i)).text == text; },
			[&](int i) {
				const std::string &statement = store.at(static_cast<size_t>(i)).statement;
				return context != nullptr && !statement.empty() &&
			           std::string(context).find(statement) != std::string::npos;
			});
		if (index == kNoEntry) {
			raise(text);
			index = book.in_flight();
		}
		book.reaches_client(fates(), index);
		return index;
	}

	/* A safe point: the final entries are written out (flush_final).
	 * Returns the texts written, with whether each was handled. */
	std::vector<std::pair<std::string, bool>>
	flush_final()
	{
		auto written = write_out(fkg::is_final);
		book.finals_removed();
		return written;
	}

	/* Removes the entries done(fate) selects; returns their texts, with whether
	 * each is written as handled. */
	std::vector<std::pair<std::string, bool>>
	write_out(bool (*done)(const fkg::Fate &))
	{
		std::vector<std::pair<std::string, bool>> written;
		std::vector<Entry> kept;
		for (const Entry &e : store)
			if (done(e.fate))
				written.emplace_back(e.text, fkg::written_as_handled(e.fate));
			else
				kept.push_back(e);
		store = kept;
		return written;
	}

	/* "fk_a (1)" reaches the client, "fk_a (2)" is caught by a subtransaction
	 * rollback, "fk_a (3)" is still in flight. */
	void
	raise_one_of_each()
	{
		book.frame_starts();
		int emitted = raise("fk_a (1)");
		book.reaches_client(fates(), emitted);
		begin_subtransaction();
		raise("fk_a (2)");
		abort_subtransaction();
		raise("fk_a (3)");
	}

	/* The transaction ends (flush): what is written, as handled or not. */
	std::vector<std::pair<std::string, bool>>
	end_transaction(bool committed, bool frames_live = false)
	{
		int waiting = book.transaction_ends(fates(), committed, frames_live);
		auto written = write_out(fkg::is_recorded);
		EXPECT_EQ(waiting, static_cast<int>(store.size()));
		return written;
	}
};

using Written = std::vector<std::pair<std::string, bool>>;

/* BEGIN ... EXCEPTION WHEN foreign_key_violation THEN RAISE; END */
TEST_F(Backend, CaughtThenReraisedReachesTheClientUnhandled)
{
	uint64_t block = book.frame_starts();
	(void) block;
	begin_subtransaction();
	int v = raise("fk_a (1)", "INSERT INTO child VALUES (1)");
	abort_subtransaction();
	EXPECT_TRUE(fate(v).caught);
	EXPECT_FALSE(fkg::is_final(fate(v)));
	EXPECT_EQ(book.in_flight(), kNoEntry);

	EXPECT_EQ(reach_client("fk_a (1)", "PL/pgSQL function f() line 4 at RAISE"), v);
	EXPECT_TRUE(fate(v).emitted);
	EXPECT_FALSE(fate(v).caught);
	EXPECT_TRUE(book.finals_waiting());
	EXPECT_EQ(end_transaction(false), (Written{{"fk_a (1)", false}}));
}

/* BEGIN ... EXCEPTION WHEN foreign_key_violation THEN NULL; END, and the DO returns */
TEST_F(Backend, CaughtAndTheHandlerReturnsIsHandled)
{
	uint64_t block = book.frame_starts();
	begin_subtransaction();
	int v = raise("fk_a (1)");
	abort_subtransaction();
	EXPECT_FALSE(book.finals_waiting());
	book.frame_returns(fates(), block);
	EXPECT_TRUE(fate(v).closed);
	EXPECT_TRUE(book.finals_waiting());
	EXPECT_EQ(flush_final(), (Written{{"fk_a (1)", true}}));
	EXPECT_FALSE(book.finals_waiting());
	EXPECT_TRUE(store.empty());
}

TEST_F(Backend, AFrameThatStartedAfterTheCatchDoesNotCloseIt)
{
	uint64_t block = book.frame_starts();
	begin_subtransaction();
	int v = raise("fk_a (1)");
	abort_subtransaction();
	/* The handler runs a statement: its Frames start after the catch. */
	uint64_t in_handler = book.frame_starts();
	book.frame_returns(fates(), in_handler);
	EXPECT_FALSE(fate(v).closed);
	EXPECT_FALSE(book.finals_waiting());
	/* So the handler can still re-raise it. */
	EXPECT_EQ(reach_client("fk_a (1)", "at RAISE"), v);
	EXPECT_TRUE(fate(v).emitted);
	/* The Frame around the block, which started before the catch, changes nothing now. */
	book.frame_returns(fates(), block);
	EXPECT_FALSE(fate(v).closed);
}

/* A caught violation is final once a Frame that started before its catch
 * returns; a Frame that started after it leaves it open. */
TEST_F(Backend, ACaughtViolationIsFinalOnceAFrameOlderThanItsCatchReturns)
{
	uint64_t outer = book.frame_starts();
	begin_subtransaction();
	int old_one = raise("fk_a (1)");
	abort_subtransaction(); /* caught before inner started */
	uint64_t inner = book.frame_starts();
	begin_subtransaction();
	int new_one = raise("fk_a (2)");
	abort_subtransaction(); /* caught after inner started */
	book.frame_returns(fates(), inner);
	EXPECT_FALSE(fate(old_one).closed);
	EXPECT_TRUE(fate(new_one).closed);
	/* A closed one is no longer re-raisable: the same text is a fresh violation. */
	EXPECT_EQ(reach_client("fk_a (2)", "at RAISE"), 2);
	book.frame_returns(fates(), outer);
	EXPECT_TRUE(fate(old_one).closed);
	EXPECT_EQ(flush_final(), (Written{{"fk_a (1)", true}, {"fk_a (2)", true}, {"fk_a (2)", false}}));
}

TEST_F(Backend, NestedAbortInnerCommitOuter)
{
	uint64_t block = book.frame_starts();
	begin_subtransaction();         /* outer block */
	int before = raise("fk_a (0)"); /* raised at the outer level */
	begin_subtransaction();         /* inner block */
	int inner = raise("fk_a (1)");
	abort_subtransaction(); /* the inner handler catches it */
	EXPECT_TRUE(fate(inner).caught);
	EXPECT_FALSE(fate(before).caught); /* raised at the outer level: not the inner's to catch */
	uint64_t caught_at = fate(inner).caught_at;
	commit_subtransaction(); /* the outer block completes */
	EXPECT_TRUE(fate(inner).caught);
	EXPECT_EQ(fate(inner).caught_at, caught_at);
	EXPECT_FALSE(fkg::is_final(fate(inner)));
	book.frame_returns(fates(), block);
	EXPECT_TRUE(fate(inner).closed);
	EXPECT_FALSE(fate(before).closed);
	EXPECT_EQ(end_transaction(true), (Written{{"fk_a (0)", true}, {"fk_a (1)", true}}));
}

TEST_F(Backend, CommittedSubtransactionFoldsIntoTheEnclosingOne)
{
	begin_subtransaction(); /* outer */
	begin_subtransaction(); /* inner */
	int v = raise("fk_a (1)");
	commit_subtransaction(); /* inner commits */
	EXPECT_FALSE(fate(v).caught);
	EXPECT_FALSE(fkg::is_final(fate(v)));
	abort_subtransaction(); /* outer rolls back: it catches what the inner one raised */
	EXPECT_TRUE(fate(v).caught);
	EXPECT_EQ(end_transaction(false), (Written{{"fk_a (1)", true}}));
}

TEST_F(Backend, SubtransactionCommitKeepsEntriesPending)
{
	begin_subtransaction();
	int v = raise("fk_a (1)");
	commit_subtransaction();
	EXPECT_FALSE(fate(v).caught);
	EXPECT_FALSE(fate(v).emitted);
	EXPECT_FALSE(fate(v).closed);
	EXPECT_FALSE(book.finals_waiting());
	EXPECT_EQ(book.in_flight(), v);
	EXPECT_EQ(store.size(), 1u);
	/* Neither caught nor emitted: an abort writes it as not handled. */
	EXPECT_EQ(end_transaction(false), (Written{{"fk_a (1)", false}}));
}

TEST_F(Backend, AbortCatchesEachViolationOnceWithOneTick)
{
	book.frame_starts();
	begin_subtransaction();
	int a = raise("fk_a (1)");
	int b = raise("fk_a (2)");
	abort_subtransaction();
	EXPECT_TRUE(fate(a).caught);
	EXPECT_TRUE(fate(b).caught);
	EXPECT_EQ(fate(a).caught_at, fate(b).caught_at);
	uint64_t first = fate(a).caught_at;
	/* A later abort at the same level does not catch them again. */
	begin_subtransaction();
	int c = raise("fk_a (3)");
	abort_subtransaction();
	EXPECT_EQ(fate(a).caught_at, first);
	EXPECT_GT(fate(c).caught_at, first);
	/* An emitted violation is not caught. */
	begin_subtransaction();
	int d = raise("fk_a (4)");
	book.reaches_client(fates(), d);
	abort_subtransaction();
	EXPECT_FALSE(fate(d).caught);
}

TEST_F(Backend, ReraisePrefersTheViolationOfTheStatementItsContextQuotes)
{
	begin_subtransaction();
	int first = raise("fk_a (1)", "INSERT INTO child SELECT 1");
	abort_subtransaction();
	begin_subtransaction();
	int second = raise("fk_a (1)", "UPDATE child SET p = 1");
	abort_subtransaction();
	EXPECT_NE(first, second);
	const char *quotes_first = "SQL statement \"INSERT INTO child SELECT 1\"\nPL/pgSQL function f() line 3 at RAISE";
	EXPECT_EQ(reach_client("fk_a (1)", quotes_first), first);
	EXPECT_TRUE(fate(first).emitted);
	EXPECT_FALSE(fate(second).emitted);
}

TEST_F(Backend, ReraiseWithoutAQuotedStatementIsTheNewestOfItsText)
{
	begin_subtransaction();
	int first = raise("fk_a (1)", "INSERT INTO child SELECT 1");
	int other = raise("fk_b (1)", "INSERT INTO child SELECT 1");
	abort_subtransaction();
	begin_subtransaction();
	int second = raise("fk_a (1)", "UPDATE child SET p = 1");
	abort_subtransaction();
	EXPECT_EQ(reach_client("fk_a (1)", "PL/pgSQL function g() line 9 at RAISE"), second);
	/* Now emitted, it is no candidate: the next re-raise of that text is the older one. */
	EXPECT_EQ(reach_client("fk_a (1)", "PL/pgSQL function g() line 9 at RAISE"), first);
	EXPECT_FALSE(fate(other).emitted);
}

TEST_F(Backend, AnErrorWithoutContextIsTheOneInFlightOrAFreshDeferredOne)
{
	int v = raise("fk_a (1)");
	EXPECT_EQ(book.in_flight(), v);
	EXPECT_EQ(reach_client("fk_a (1)", nullptr), v);
	EXPECT_EQ(book.in_flight(), kNoEntry);
	/* Caught ones are not matched without a CONTEXT: a deferred check at COMMIT is fresh. */
	begin_subtransaction();
	int caught = raise("fk_b (1)");
	abort_subtransaction();
	int deferred = reach_client("fk_b (1)", nullptr);
	EXPECT_NE(deferred, caught);
	EXPECT_EQ(deferred, static_cast<int>(store.size()) - 1);
	EXPECT_TRUE(fate(deferred).emitted);
	EXPECT_FALSE(fate(caught).emitted);
}

TEST_F(Backend, TheOneInFlightCountsOnlyWhenItsTextMatches)
{
	begin_subtransaction();
	int caught = raise("fk_a (1)");
	abort_subtransaction();
	int fresh = raise("fk_b (2)");
	/* A different error reaches the client while fk_b is in flight: the re-raise of fk_a. */
	EXPECT_EQ(reach_client("fk_a (1)", "at RAISE"), caught);
	EXPECT_FALSE(fate(fresh).emitted);
	EXPECT_EQ(book.in_flight(), kNoEntry);
}

TEST_F(Backend, PastTheBudgetNothingIsMarked)
{
	int v = raise("fk_a (1)");
	book.raised(fates(), kBeyondBudget, level);
	EXPECT_EQ(book.in_flight(), kBeyondBudget);
	book.reaches_client(fates(), kBeyondBudget);
	EXPECT_EQ(book.in_flight(), kNoEntry);
	EXPECT_FALSE(fate(v).emitted);
	EXPECT_FALSE(book.finals_waiting());
}

TEST_F(Backend, TopLevelCommitWritesWhatDidNotReachTheClientAsHandled)
{
	raise_one_of_each();
	EXPECT_EQ(end_transaction(true), (Written{{"fk_a (1)", false}, {"fk_a (2)", true}, {"fk_a (3)", true}}));
	EXPECT_TRUE(store.empty());
	EXPECT_EQ(book.in_flight(), kNoEntry);
	EXPECT_FALSE(book.finals_waiting());
}

TEST_F(Backend, TopLevelAbortWritesOnlyWhatWasCaughtAsHandled)
{
	raise_one_of_each();
	EXPECT_EQ(end_transaction(false), (Written{{"fk_a (1)", false}, {"fk_a (2)", true}, {"fk_a (3)", false}}));
	EXPECT_TRUE(store.empty());
}

/* CALL p(), whose handler caught a violation, then COMMITs: it may re-raise it after. */
TEST_F(Backend, InsideAProcedureWhatMayBeReraisedWaitsForTheNextTransaction)
{
	book.frame_starts(); /* CALL */
	begin_subtransaction();
	int caught = raise("fk_a (1)");
	abort_subtransaction();
	int emitted = raise("fk_a (2)");
	book.reaches_client(fates(), emitted);
	EXPECT_EQ(end_transaction(true, true), (Written{{"fk_a (2)", false}}));
	ASSERT_EQ(store.size(), 1u);
	EXPECT_EQ(store[0].text, "fk_a (1)");
	EXPECT_TRUE(store[0].fate.caught);
	(void) caught;
	/* Re-raised in the next transaction: reaches the client unhandled. */
	EXPECT_EQ(reach_client("fk_a (1)", "at RAISE"), 0);
	EXPECT_EQ(end_transaction(false), (Written{{"fk_a (1)", false}}));
}

/* A deferred check fails at a procedure's COMMIT: PostgreSQL re-throws it in the next transaction. */
TEST_F(Backend, InsideAProcedureTheViolationInFlightWaitsWithItsNewIndex)
{
	book.frame_starts();
	int written = raise("fk_a (1)");
	book.reaches_client(fates(), written);
	int propagating = raise("fk_b (1)");
	EXPECT_EQ(book.in_flight(), propagating);
	end_transaction(true, true);
	ASSERT_EQ(store.size(), 1u);
	EXPECT_EQ(book.in_flight(), 0);
	EXPECT_EQ(reach_client("fk_b (1)", nullptr), 0);
	/* Without live Frames it would have been written with the rest. */
	raise("fk_c (1)");
	EXPECT_EQ(end_transaction(true, false).size(), 2u);
}

TEST_F(Backend, AtMostTheNewestCaughtOnesWaitPastAProcedureCommit)
{
	book.frame_starts();
	begin_subtransaction();
	for (int i = 0; i < kMaxCarried + 6; i++)
		raise("fk_a (" + std::to_string(i) + ")");
	abort_subtransaction();
	Written written = end_transaction(true, true);
	ASSERT_EQ(written.size(), 6u);
	EXPECT_EQ(written.front().first, "fk_a (0)");
	EXPECT_EQ(written.back().first, "fk_a (5)");
	EXPECT_TRUE(written.front().second);
	ASSERT_EQ(store.size(), static_cast<size_t>(kMaxCarried));
	EXPECT_EQ(store.front().text, "fk_a (6)");
}

TEST(FateList, StepsOverTheEntriesThatHoldTheFates)
{
	struct Entry {
		char text[40];
		Fate fate;
		int more;
	} entries[3] = {};
	FateList list(&entries[0].fate, 3, sizeof(Entry));
	list[2].caught = true;
	list[1].nest_level = 7;
	EXPECT_TRUE(entries[2].fate.caught);
	EXPECT_FALSE(entries[1].fate.caught);
	EXPECT_EQ(entries[1].fate.nest_level, 7);
	EXPECT_EQ(list.count(), 3);
}

} // namespace

namespace {

fkg::ViolationEvent
violation_of(const char *constraint, const char *table = "child")
{
	fkg::ViolationEvent e{};
	std::strcpy(e.schema_name, "public");
	std::strcpy(e.table_name, table);
	std::strcpy(e.constraint_name, constraint);
	return e;
}

/* The counter is large (kConstraints whole events): one per test, on the heap. */
class PastTheBudget : public ::testing::Test
{
protected:
	std::unique_ptr<fkg::BeyondBudget> counted = std::make_unique<fkg::BeyondBudget>();
};

TEST_F(PastTheBudget, CountsPerConstraint)
{
	counted->raised(violation_of("fk_a"));
	counted->raised(violation_of("fk_b"));
	counted->raised(violation_of("fk_a"));
	counted->raised(violation_of("fk_a", "other_child"));
	ASSERT_EQ(counted->constraints(), 3);
	EXPECT_STREQ(counted->event(0).constraint_name, "fk_a");
	EXPECT_EQ(counted->count(0), 2);
	EXPECT_EQ(counted->count(1), 1);
	EXPECT_STREQ(counted->event(2).table_name, "other_child");
	EXPECT_EQ(counted->count(2), 1);
	EXPECT_TRUE(counted->any());
}

TEST_F(PastTheBudget, HandledUnlessTheyReachedTheClientOrTheTransactionAborts)
{
	counted->raised(violation_of("fk_a"));
	counted->raised(violation_of("fk_a"));
	counted->reaches_client(); /* the second one */
	counted->raised(violation_of("fk_a"));
	EXPECT_EQ(counted->count(0), 3);
	EXPECT_EQ(counted->handled(0, true), 3);
	EXPECT_EQ(counted->handled(0, false), 2);
}

TEST_F(PastTheBudget, BeyondItsConstraintsOnlyATotal)
{
	for (int i = 0; i < fkg::BeyondBudget::kConstraints + 3; i++)
		counted->raised(violation_of(("fk_" + std::to_string(i)).c_str()));
	EXPECT_EQ(counted->constraints(), fkg::BeyondBudget::kConstraints);
	EXPECT_EQ(counted->lost(), 3);
	/* The lost one in flight reaches the client: nothing counted is marked. */
	counted->reaches_client();
	EXPECT_EQ(counted->handled(0, false), 1);
	counted->raised(violation_of("fk_0"));
	EXPECT_EQ(counted->count(0), 2);
	counted->clear();
	EXPECT_FALSE(counted->any());
	EXPECT_EQ(counted->constraints(), 0);
}

} // namespace
