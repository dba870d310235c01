/*
 * bypass_line.cpp
 *    The bypass log lines (see the header).
 */
#include "capture/bypass_line.h"

#include "capture/violation_classify.h"

namespace fkg {

namespace {

/* The reasons as the sentence says them. */
std::string
reasons_said(uint32_t reasons)
{
	std::string said;
	for (uint32_t bit = 1; bit < (1u << kBypassReasons); bit <<= 1) {
		if (!(reasons & bit))
			continue;
		if (!said.empty())
			said += "; ";
		said += bit == kReplicaRole           ? "session_replication_role = replica"
		        : bit == kTriggersDisabled    ? "RI triggers disabled"
		        : bit == kTriggersReplicaOnly ? "RI triggers enabled for replicas only"
		                                      : "prepared";
	}
	return said;
}

/* "a,b" of the reasons' names. */
std::string
reasons_listed(uint32_t reasons, bool json)
{
	std::string listed;
	for (uint32_t bit = 1; bit < (1u << kBypassReasons); bit <<= 1) {
		if (!(reasons & bit))
			continue;
		if (!listed.empty())
			listed += ",";
		listed += json ? std::string("\"") + bypass_reason_name(bit) + "\"" : bypass_reason_name(bit);
	}
	return listed;
}

void
append_json(std::string &line, const char *name, const char *value, bool utf8)
{
	line += ",\"";
	line += name;
	line += "\":";
	append_json_string(line, value, utf8);
}

} // namespace

const char *
bypass_reason_name(uint32_t bit)
{
	switch (bit) {
	case kReplicaRole:
		return "replica_role";
	case kTriggersDisabled:
		return "triggers_disabled";
	case kTriggersReplicaOnly:
		return "triggers_replica_only";
	case kPrepared:
		return "prepared";
	case kSubscriptionLeft:
		return "subscription";
	default:
		return "unknown";
	}
}

std::string
bypass_line_text(const BypassLine &l, bool utf8)
{
	std::string line = "fk_guard: foreign key ";
	append_json_string(line, l.constraint, utf8);
	line += " not enforced for " + std::to_string(l.rows) + (l.rows == 1 ? " row" : " rows") + " written to ";
	append_json_string(line, l.table, utf8);
	line += " by role ";
	append_json_string(line, l.user, utf8);
	line += " (" + reasons_said(l.reasons) + "):";
	append_field(line, "child_table", l.child_table, utf8);
	append_field(line, "parent_table", l.parent_table, utf8);
	append_bare(line, "side", l.parent_side ? "parent" : "child");
	append_bare(line, "operation", l.operation);
	append_bare(line, "rows", std::to_string(l.rows));
	append_bare(line, "reason", reasons_listed(l.reasons, false));
	append_field(line, "database", l.database, utf8);
	append_bare(line, "pid", std::to_string(l.pid));
	return line;
}

std::string
bypass_line_json(const BypassLine &l, bool utf8)
{
	std::string line = "{\"fk_guard\":\"bypass\"";
	append_json(line, "constraint", l.constraint, utf8);
	append_json(line, "child_table", l.child_table, utf8);
	append_json(line, "parent_table", l.parent_table, utf8);
	append_json(line, "table", l.table, utf8);
	line += std::string(",\"side\":\"") + (l.parent_side ? "parent" : "child") + "\"";
	line += std::string(",\"operation\":\"") + l.operation + "\"";
	line += ",\"rows\":" + std::to_string(l.rows);
	line += ",\"reasons\":[" + reasons_listed(l.reasons, true) + "]";
	append_json(line, "user", l.user, utf8);
	append_json(line, "database", l.database, utf8);
	line += ",\"pid\":" + std::to_string(l.pid);
	return line + "}";
}

std::string
trigger_line_text(const TriggerLine &l, bool utf8)
{
	std::string line = "fk_guard: RI triggers of foreign key ";
	append_json_string(line, l.constraint, utf8);
	line += l.replica_only ? " set to fire on replicas only on " : " disabled on ";
	append_json_string(line, l.table, utf8);
	line += " by role ";
	append_json_string(line, l.user, utf8);
	line += ": writes to it are not checked until ALTER TABLE ... ENABLE TRIGGER:";
	append_field(line, "child_table", l.child_table, utf8);
	append_field(line, "parent_table", l.parent_table, utf8);
	append_bare(line, "side", l.parent_side ? "parent" : "child");
	append_bare(line, "reason", bypass_reason_name(l.replica_only ? kTriggersReplicaOnly : kTriggersDisabled));
	append_field(line, "database", l.database, utf8);
	append_bare(line, "pid", std::to_string(l.pid));
	return line;
}

std::string
trigger_line_json(const TriggerLine &l, bool utf8)
{
	std::string line = "{\"fk_guard\":\"triggers_disabled\"";
	append_json(line, "constraint", l.constraint, utf8);
	append_json(line, "child_table", l.child_table, utf8);
	append_json(line, "parent_table", l.parent_table, utf8);
	append_json(line, "table", l.table, utf8);
	line += std::string(",\"side\":\"") + (l.parent_side ? "parent" : "child") + "\"";
	line += std::string(",\"reason\":\"") +
	        bypass_reason_name(l.replica_only ? kTriggersReplicaOnly : kTriggersDisabled) + "\"";
	append_json(line, "user", l.user, utf8);
	append_json(line, "database", l.database, utf8);
	line += ",\"pid\":" + std::to_string(l.pid);
	return line + "}";
}

} // namespace fkg
