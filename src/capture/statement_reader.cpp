/*
 * statement_reader.cpp
 *    What a statement does (see statement_reader.h).
 */
#include "capture/statement_reader.h"

#include "capture/constraint_cache.h"
#include "common/clipped_copy.h"

extern "C" {
#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "nodes/plannodes.h"
#include "utils/builtins.h"
}

#include <cstring>
#include <initializer_list>

namespace fkg {

static Operation
statement_operation(CmdType command)
{
	switch (command) {
	case CMD_INSERT:
		return Operation::Insert;
	case CMD_UPDATE:
		return Operation::Update;
	case CMD_DELETE:
		return Operation::Delete;
	case CMD_MERGE:
		return Operation::Merge;
	default:
		return Operation::Other;
	}
}

/* The operations a planned statement performs: its own, and those of its
 * data-modifying WITH queries. */
unsigned
statement_operations(const QueryDesc *query)
{
	const PlannedStmt *planned = query->plannedstmt;
	unsigned operations = 0;
	if (query->operation != CMD_SELECT)
		operations |= operation_bit(statement_operation(query->operation));
	if (planned != nullptr && planned->hasModifyingCTE) {
		ListCell *lc;
		foreach (lc, planned->subplans) {
			const Plan *plan = (const Plan *) lfirst(lc);
			if (plan != nullptr && IsA(plan, ModifyTable))
				operations |= operation_bit(statement_operation(((const ModifyTable *) plan)->operation));
		}
	}
	return operations;
}

/* The operation a utility statement's own RI errors belong to.  Statements in
 * DO and CALL bodies have Frames of their own; what is raised directly in a
 * CALL's or DO's Frame is a COMMIT inside a procedure. */
Operation
utility_operation(const Node *statement)
{
	switch (nodeTag(statement)) {
	case T_CopyStmt:
		return Operation::Copy;
	case T_AlterTableStmt:
		return Operation::AlterTable;
	case T_ConstraintsSetStmt:
		return Operation::SetConstraints;
	case T_CallStmt:
	case T_DoStmt:
		return Operation::Commit;
	default:
		return Operation::Other;
	}
}

bool
fires_after_statement(Operation operation)
{
	return operation == Operation::Commit || operation == Operation::Prepare || operation == Operation::SetConstraints;
}

/* "a, b" from a list of String column names. */
static void
column_names(char *buf, size_t size, List *names)
{
	StringInfoData list;
	initStringInfo(&list);
	ListCell *lc;
	foreach (lc, names)
		appendStringInfo(&list, "%s%s", list.len > 0 ? ", " : "", quote_identifier(strVal(lfirst(lc))));
	copy_clipped(buf, size, list.data);
	pfree(list.data);
}

/* The foreign keys an ALTER TABLE ... ADD creates, from the statement, in
 * statement memory (a list of ConstraintInfo *, each named as the statement
 * names it).  Used only when a violation comes before the new constraint
 * could be read from the catalogs (a MATCH FULL row failing before any RI
 * query ran). */
List *
added_foreign_keys(const AlterTableStmt *statement, Oid relid)
{
	List *added = NIL;
	ListCell *lc;
	foreach (lc, statement->cmds) {
		const AlterTableCmd *cmd = (const AlterTableCmd *) lfirst(lc);
		if (cmd->subtype != AT_AddConstraint || cmd->def == nullptr || !IsA(cmd->def, Constraint))
			continue;
		const Constraint *constraint = (const Constraint *) cmd->def;
		if (constraint->contype != CONSTR_FOREIGN)
			continue;
		Oid parent = RangeVarGetRelid(constraint->pktable, NoLock, true);
		if (!OidIsValid(parent))
			continue;
		ConstraintInfo *info = (ConstraintInfo *) palloc0(sizeof(ConstraintInfo));
		copy_clipped(info->declared_name, sizeof(info->declared_name), constraint->conname);
		qualified_relation_name(info->child_table, sizeof(info->child_table), relid);
		qualified_relation_name(info->parent_table, sizeof(info->parent_table), parent);
		column_names(info->fk_columns, sizeof(info->fk_columns), constraint->fk_attrs);
		if (constraint->pk_attrs != NIL)
			column_names(info->parent_columns, sizeof(info->parent_columns), constraint->pk_attrs);
		else
			primary_key_columns(info->parent_columns, sizeof(info->parent_columns), parent);
		info->deferrable = constraint->deferrable;
		info->initially_deferred = constraint->initdeferred;
		added = lappend(added, info);
	}
	return added;
}

/* The foreign key named constraint among those an ALTER TABLE adds; an
 * unnamed one only when it is the only one.  nullptr when none fits. */
const ConstraintInfo *
added_by_name(List *added, const char *constraint)
{
	ListCell *lc;
	foreach (lc, added) {
		const ConstraintInfo *info = (const ConstraintInfo *) lfirst(lc);
		if (strcmp(info->declared_name, constraint) == 0)
			return info;
	}
	if (list_length(added) == 1 && *((const ConstraintInfo *) linitial(added))->declared_name == '\0')
		return (const ConstraintInfo *) linitial(added);
	return nullptr;
}

} // namespace fkg
