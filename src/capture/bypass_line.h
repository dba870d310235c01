/*
 * bypass_line.h
 *    How a bypassed write is told: the reasons' names, and the text and JSON
 *    log lines, quoted by the same rules as violation lines (json_string,
 *    violation_classify.h).  Pure C++ (no PostgreSQL calls): unit tested
 *    without a server.
 */
#ifndef FK_GUARD_BYPASS_LINE_H
#define FK_GUARD_BYPASS_LINE_H

#include <cstdint>
#include <string>

namespace fkg {

/* Why a write was not checked: bits of a bypass counter's reasons. */
enum BypassReason : uint32_t {
	kReplicaRole = 1u << 0,         /* session_replication_role = replica: origin-enabled RI triggers do not fire */
	kTriggersDisabled = 1u << 1,    /* ALTER TABLE ... DISABLE TRIGGER: tgenabled = 'D' */
	kTriggersReplicaOnly = 1u << 2, /* ENABLE REPLICA TRIGGER: tgenabled = 'R', not firing in origin sessions */
	/* Not a way to bypass: some of the rows were written by a prepared
	 * transaction whose COMMIT PREPARED time is not known yet. */
	kPrepared = 1u << 3,
	/* The table left a logical-replication subscription (DROP or ALTER
	 * SUBSCRIPTION): what the apply worker wrote while it was subscribed
	 * is not counted, and is unseen by checks that started before. */
	kSubscriptionLeft = 1u << 4
};
constexpr int kBypassReasons = 5;

/* A reason's name (fk_bypass_stats.reasons, the log line's reason=). */
const char *bypass_reason_name(uint32_t bit);

/* One statement's unchecked writes to one table, for one foreign key. */
struct BypassLine {
	const char *constraint;  /* the declared foreign key */
	const char *child_table; /* its tables, schema-qualified and quoted as needed */
	const char *parent_table;
	const char *table;     /* the table written (a partition of one of them, or one of them) */
	bool parent_side;      /* the table is (a partition of) the referenced table */
	const char *operation; /* INSERT, UPDATE, DELETE, MERGE, COPY */
	int64_t rows;
	uint32_t reasons;
	const char *user;
	const char *database;
	int pid;
};

/*
 * `fk_guard: foreign key "c" not enforced for 5 rows written to "public.orders"
 * by role "etl" (session_replication_role = replica): child_table=... ` then
 * name=value fields.  Every value from names is a JSON string literal, so
 * nothing can fake a field or start a line.  JSON: one object.
 */
std::string bypass_line_text(const BypassLine &line, bool utf8);
std::string bypass_line_json(const BypassLine &line, bool utf8);

/* An ALTER TABLE that left a foreign key's RI triggers not firing on table. */
struct TriggerLine {
	const char *constraint;
	const char *child_table;
	const char *parent_table;
	const char *table;
	bool parent_side;
	bool replica_only; /* ENABLE REPLICA TRIGGER rather than DISABLE TRIGGER */
	const char *user;
	const char *database;
	int pid;
};

std::string trigger_line_text(const TriggerLine &line, bool utf8);
std::string trigger_line_json(const TriggerLine &line, bool utf8);

} // namespace fkg

#endif /* FK_GUARD_BYPASS_LINE_H */
