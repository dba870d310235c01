/*
 * owner_identity.cpp
 *    Switching to a table owner's identity (see owner_identity.h).
 */
#include "common/owner_identity.h"

#include "common/compat.h"

extern "C" {
#include "miscadmin.h"
#include "utils/guc.h"
}

namespace fkg {

SavedIdentity
become_owner(Oid owner)
{
	SavedIdentity saved;
	GetUserIdAndSecContext(&saved.userid, &saved.sec_context);
	SetUserIdAndSecContext(owner, saved.sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION |
	                                  SECURITY_NOFORCE_RLS);
	saved.guc_nest_level = NewGUCNestLevel();
	compat::restrict_search_path();
	return saved;
}

void
restore_identity(const SavedIdentity &saved)
{
	AtEOXact_GUC(false, saved.guc_nest_level);
	SetUserIdAndSecContext(saved.userid, saved.sec_context);
}

} // namespace fkg
